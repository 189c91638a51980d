"""todos as the provider of the events budget consumes: budget's message pact verified.

Each message is produced by todos' real event-building path, the one the outbox uses:
`outbox_envelope(event, correlation_id=...)` then `contracts.envelope.to_amqp(...)`, whose
body and properties the relay publishes. The last test proves the verification has teeth:
a producer that drops `owner_id` must fail it.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pact import Verifier
from pact.types import Message

from contracts.envelope import to_amqp
from contracts.events import IntegrationEvent, TaskCompleted, TaskDeleted
from contracts.ids import OwnerId, TaskId
from tests.contract.pacts import PACT_DIR
from todos.adapters.outbox import outbox_envelope

pytestmark = pytest.mark.provider

PACT_FILE = PACT_DIR / "budget-todos.json"
COMPLETED = "a todos.task.completed.v1 event"
DELETED = "a todos.task.deleted.v1 event"


def _completed() -> TaskCompleted:
    return TaskCompleted(
        task_id=TaskId(uuid4()),
        owner_id=OwnerId(uuid4()),
        title="Write the quarterly report",
        completed_at=datetime.now(UTC),
    )


def _deleted() -> TaskDeleted:
    return TaskDeleted(
        task_id=TaskId(uuid4()), owner_id=OwnerId(uuid4()), deleted_at=datetime.now(UTC)
    )


def _message(event: IntegrationEvent, *, drop: tuple[str, ...] = ()) -> Message:
    """What the relay would publish for `event`: AMQP body and the properties budget reads."""
    amqp = to_amqp(outbox_envelope(event, correlation_id=f"req-{uuid4().hex[:12]}"))
    body = amqp.body
    if drop:  # a provider that stopped sending some data fields
        envelope = json.loads(body)
        for name in drop:
            del envelope["data"][name]
        body = json.dumps(envelope).encode()
    return Message(
        contents=body,
        metadata={"contentType": amqp.content_type, "routing_key": amqp.routing_key},
        content_type=amqp.content_type,
    )


def _verifier(producers: dict[str, Callable[[], Message]]) -> Verifier:
    return (
        Verifier("todos")
        .message_handler(producers)  # type: ignore[arg-type]
        .add_source(PACT_FILE)
        .set_error_on_empty_pact(enabled=True)
        .set_coloured_output(enabled=False)
    )


def test_todos_produces_the_events_budget_relies_on() -> None:
    verifier = _verifier(
        {COMPLETED: lambda: _message(_completed()), DELETED: lambda: _message(_deleted())}
    )
    verifier.verify()  # raises with Pact's report on any mismatch

    outcomes = {r["description"]: r["result"] for r in verifier.results["interactionResults"]}
    assert outcomes == {COMPLETED: "OK", DELETED: "OK"}, verifier.output(strip_ansi=True)


def test_dropping_a_field_budget_reads_fails_the_verification() -> None:
    verifier = _verifier(
        {
            COMPLETED: lambda: _message(_completed(), drop=("owner_id",)),
            DELETED: lambda: _message(_deleted()),
        }
    )
    with pytest.raises(RuntimeError):
        verifier.verify()

    report = verifier.output(strip_ansi=True)
    assert "owner_id" in report
    failed = [r for r in verifier.results["interactionResults"] if r["result"] != "OK"]
    assert [r["description"] for r in failed] == [COMPLETED]
