from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import ValidationError

from contracts.hooks import HOOK_DECISION, Allow, BeforeCompleteTask, Veto


def _request(**fields: object) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "subscriber": "budget",
        "delivery_id": uuid4(),
        "invocation_id": uuid4(),
        "task_id": uuid4(),
        "owner_id": uuid4(),
        "occurred_at": now,
        "deadline": now,
        **fields,
    }


def test_request_serialises_with_the_hook_name() -> None:
    request = BeforeCompleteTask.model_validate(_request())
    assert request.model_dump(mode="json")["hook"] == "todos.before_complete_task"


@pytest.mark.parametrize("missing", ["subscriber", "delivery_id", "deadline"])
def test_a_request_names_its_subscriber_its_delivery_and_its_deadline(missing: str) -> None:
    fields = _request()
    del fields[missing]
    with pytest.raises(ValidationError, match=missing):
        BeforeCompleteTask.model_validate(fields)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"decision": "allow"}', Allow()),
        (b'{"decision": "veto", "reason": "no"}', Veto(reason="no")),
        (b'{"decision": "allow", "extra": 1}', Allow()),
    ],
)
def test_decisions_parse(body: bytes, expected: Allow | Veto) -> None:
    assert HOOK_DECISION.validate_json(body) == expected


@pytest.mark.parametrize(
    "body", [b"", b"{}", b'{"decision": "maybe"}', b'{"decision": "veto"}', b"<html>", b"null"]
)
def test_garbage_decisions_are_refused(body: bytes) -> None:
    with pytest.raises(ValidationError):
        HOOK_DECISION.validate_json(body)
