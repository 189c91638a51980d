"""The hook over HTTP on PostgreSQL: a call past its deadline, and attempts bound to the hold."""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx

from contracts.hooks import BeforeCompleteTask
from contracts.ids import DeliveryId, InvocationId, OwnerId, TaskId
from tests.conftest import KeyPair
from tests.support import add_cost, balance_of, call_hook, credit, new_token_type


def _body(owner: UUID, task: UUID, invocation: UUID, deadline_in: timedelta) -> bytes:
    now = datetime.now(UTC)
    call = BeforeCompleteTask(
        subscriber="budget",
        delivery_id=DeliveryId(uuid4()),
        invocation_id=InvocationId(invocation),
        task_id=TaskId(task),
        owner_id=OwnerId(owner),
        occurred_at=now,
        deadline=now + deadline_in,
    )
    return call.model_dump_json().encode()


async def test_a_call_past_its_deadline_is_vetoed_and_holds_nothing(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    tt = await new_token_type(client, keys)
    owner, task = uuid4(), uuid4()
    await credit(client, keys, owner, tt["id"], 10)
    await add_cost(client, keys, owner, tt["id"], 6, task)
    late = _body(owner, task, uuid4(), -timedelta(milliseconds=1))
    response = await call_hook(client, owner, task, body=late)
    assert response.status_code == 200
    assert response.json()["decision"] == "veto"
    assert "Deadline" in response.json()["reason"]
    assert (await balance_of(client, keys, owner, tt["id"]))["held"] == 0
    in_time = _body(owner, task, uuid4(), timedelta(seconds=5))
    response = await call_hook(client, owner, task, body=in_time)
    assert response.json() == {"decision": "allow"}
    assert (await balance_of(client, keys, owner, tt["id"]))["held"] == 6
