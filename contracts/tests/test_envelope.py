import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from contracts.envelope import (
    CONTENT_TYPE,
    InvalidEventError,
    build_envelope,
    parse_event,
    to_amqp,
)
from contracts.events import (
    EVENT_TYPES,
    IntegrationEvent,
    TaskCompleted,
    TaskCompletionAborted,
    TaskCreated,
    TaskDeleted,
)
from contracts.ids import OwnerId, TaskId

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TASK, OWNER = TaskId(uuid4()), OwnerId(uuid4())

EXAMPLES: list[IntegrationEvent] = [
    TaskCreated(task_id=TASK, owner_id=OWNER, title="Write the spec", created_at=NOW),
    TaskCompleted(task_id=TASK, owner_id=OWNER, title="Write the spec", completed_at=NOW),
    TaskDeleted(task_id=TASK, owner_id=OWNER, deleted_at=NOW),
    TaskCompletionAborted(task_id=TASK, owner_id=OWNER, aborted_at=NOW, reason="vetoed"),
]


def test_every_registered_type_has_an_example() -> None:
    assert {e.event_type for e in EXAMPLES} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.event_type)
def test_event_round_trips_through_the_amqp_body(event: IntegrationEvent) -> None:
    envelope = build_envelope(event, correlation_id="req-1")
    message = to_amqp(envelope)

    parsed = parse_event(message.body)

    assert parsed.event == event
    assert parsed.envelope == envelope
    assert message.routing_key == message.type == event.event_type
    assert message.message_id == str(envelope.id)
    assert message.content_type == CONTENT_TYPE
    assert message.correlation_id == "req-1"


def test_body_is_structured_cloudevents_json() -> None:
    body = json.loads(to_amqp(build_envelope(EXAMPLES[1], correlation_id="abc")).body)

    assert body["specversion"] == "1.0"
    assert body["source"] == "todos-service"
    assert body["type"] == "todos.task.completed.v1"
    assert body["datacontenttype"] == "application/json"
    assert body["correlationid"] == "abc"
    assert body["data"]["task_id"] == str(TASK)
    assert datetime.fromisoformat(body["time"]).tzinfo is not None
    assert "traceparent" not in body  # absent attributes are left out, not null


def test_unknown_fields_are_ignored_tolerant_reader() -> None:
    body = json.loads(to_amqp(build_envelope(EXAMPLES[1])).body)
    body["data"]["priority"] = "high"
    body["newextension"] = "x"

    parsed = parse_event(json.dumps(body))

    assert isinstance(parsed.event, TaskCompleted)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json at all", "not a CloudEvents"),
        (b"[]", "not a CloudEvents"),
        (b"\xff\xfe", "not a CloudEvents"),
        (b'{"specversion": "0.3"}', "not a CloudEvents"),
    ],
)
def test_unparseable_bodies_raise_the_dead_letter_error(body: bytes, message: str) -> None:
    with pytest.raises(InvalidEventError, match=message):
        parse_event(body)


def test_unknown_type_raises_the_dead_letter_error() -> None:
    body = json.loads(to_amqp(build_envelope(EXAMPLES[0])).body)
    body["type"] = "todos.task.archived.v1"

    with pytest.raises(InvalidEventError, match="unknown event type"):
        parse_event(json.dumps(body))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("task_id"),
        lambda d: d.update(owner_id="not-a-uuid"),
        lambda d: d.update(completed_at="yesterday"),
        lambda d: d.update(completed_at="2026-11-23T10:00:00"),  # naive time
        lambda d: d.update(title=""),
    ],
    ids=["missing", "bad-uuid", "bad-time", "naive-time", "empty-title"],
)
def test_invalid_data_raises_the_dead_letter_error(mutate) -> None:  # type: ignore[no-untyped-def]
    body = json.loads(to_amqp(build_envelope(EXAMPLES[1])).body)
    mutate(body["data"])

    with pytest.raises(InvalidEventError, match=r"invalid todos\.task\.completed\.v1 data"):
        parse_event(json.dumps(body))
