"""Task costs: one per owner and task, owner-scoped, not deletable once charged.

See docs/architecture.md#budget-api.
"""

from uuid import uuid4

import httpx

from tests.conftest import KeyPair
from tests.support import add_cost, bearer, new_token_type


async def test_create_list_and_delete_a_cost(client: httpx.AsyncClient, keys: KeyPair) -> None:
    tt = await new_token_type(client, keys)
    owner, task = uuid4(), uuid4()
    cost = await add_cost(client, keys, owner, tt["id"], 7, task)
    assert cost == {
        "id": cost["id"],
        "owner_id": str(owner),
        "task_id": str(task),
        "token_type_id": tt["id"],
        "amount": 7,
    }
    await add_cost(client, keys, owner, tt["id"], 3)
    listed = await client.get(
        "/api/budget/task-costs", params={"task_id": str(task)}, headers=bearer(keys, owner)
    )
    assert listed.json() == [cost]
    everything = await client.get("/api/budget/task-costs", headers=bearer(keys, owner))
    assert len(everything.json()) == 2
    deleted = await client.delete(
        f"/api/budget/task-costs/{cost['id']}", headers=bearer(keys, owner)
    )
    assert deleted.status_code == 204
    again = await client.delete(f"/api/budget/task-costs/{cost['id']}", headers=bearer(keys, owner))
    assert again.status_code == 404


async def test_a_second_cost_for_the_same_task_is_409(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    tt = await new_token_type(client, keys)
    owner, task = uuid4(), uuid4()
    await add_cost(client, keys, owner, tt["id"], 7, task)
    response = await client.post(
        "/api/budget/task-costs",
        json={"task_id": str(task), "token_type_id": tt["id"], "amount": 9},
        headers=bearer(keys, owner),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "cost_exists"


async def test_another_owner_may_cost_the_same_task_id(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    tt = await new_token_type(client, keys)
    task = uuid4()
    await add_cost(client, keys, uuid4(), tt["id"], 7, task)
    await add_cost(client, keys, uuid4(), tt["id"], 7, task)


async def test_unknown_token_type_is_404(client: httpx.AsyncClient, keys: KeyPair) -> None:
    response = await client.post(
        "/api/budget/task-costs",
        json={"task_id": str(uuid4()), "token_type_id": str(uuid4()), "amount": 9},
        headers=bearer(keys),
    )
    assert response.status_code == 404


async def test_other_owners_costs_are_invisible_and_undeletable(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    tt = await new_token_type(client, keys)
    owner, intruder = uuid4(), uuid4()
    cost = await add_cost(client, keys, owner, tt["id"], 7)
    listed = await client.get("/api/budget/task-costs", headers=bearer(keys, intruder))
    assert listed.json() == []
    response = await client.delete(
        f"/api/budget/task-costs/{cost['id']}", headers=bearer(keys, intruder)
    )
    assert response.status_code == 404
    mine = await client.get("/api/budget/task-costs", headers=bearer(keys, owner))
    assert [c["id"] for c in mine.json()] == [cost["id"]]


async def test_bad_cost_input_is_422(client: httpx.AsyncClient, keys: KeyPair) -> None:
    for body in ({"task_id": "x", "token_type_id": str(uuid4()), "amount": 1}, {"amount": 1}):
        response = await client.post("/api/budget/task-costs", json=body, headers=bearer(keys))
        assert response.status_code == 422
    response = await client.delete("/api/budget/task-costs/not-a-uuid", headers=bearer(keys))
    assert response.status_code == 422


async def test_budget_routes_need_a_token(client: httpx.AsyncClient) -> None:
    for path in ("/api/budget/balances", "/api/budget/ledger", "/api/budget/task-costs"):
        assert (await client.get(path)).status_code == 401
