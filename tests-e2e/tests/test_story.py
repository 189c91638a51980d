"""The product through the gateway: the main story, concurrency, owner isolation."""

from __future__ import annotations

import asyncio

import pytest

from e2e.stories import veto_credit_complete_debit
from tests.conftest import CallerFactory

pytestmark = pytest.mark.e2e


async def test_veto_then_credit_then_complete_debits_once(caller: CallerFactory) -> None:
    await veto_credit_complete_debit(await caller(admin=True), await caller())


async def test_ten_concurrent_completions_that_can_afford_three(caller: CallerFactory) -> None:
    admin, owner = await caller(admin=True), await caller()
    token_type = await admin.create_token_type()
    await admin.credit(owner.id, token_type, 3)
    tasks = [await owner.create_task(f"concurrent {i}") for i in range(10)]
    for task in tasks:
        await owner.set_cost(task, token_type, 1)

    answers = await asyncio.gather(*(owner.complete(t) for t in tasks))

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 3 + [409] * 7, [a.text for a in answers]
    completed = [t for t, a in zip(tasks, answers, strict=True) if a.status_code == 200]
    for task in completed:
        assert len(await owner.wait_for_debits(task)) == 1
    balance = await owner.balance(token_type)
    assert (balance["balance"], balance["held"], balance["available"]) == (0, 0, 0)


async def test_an_owner_sees_and_changes_only_their_own(caller: CallerFactory) -> None:
    admin, alice, mallory = await caller(admin=True), await caller(), await caller()
    token_type = await admin.create_token_type()
    await admin.credit(alice.id, token_type, 4)
    task = await alice.create_task("alice's")
    await alice.set_cost(task, token_type, 2)

    assert (await mallory.http.get(f"/api/todos/tasks/{task}")).status_code == 404
    assert (await mallory.complete(task)).status_code == 404
    patch = await mallory.http.patch(f"/api/todos/tasks/{task}", json={"title": "mine"})
    assert patch.status_code == 404
    assert (await mallory.http.delete(f"/api/todos/tasks/{task}")).status_code == 404
    listing = await mallory.http.get("/api/todos/tasks")
    assert task not in [t["id"] for t in listing.json()["items"]]
    costs = await mallory.http.get("/api/budget/task-costs", params={"task_id": task})
    assert costs.json() == []
    assert await mallory.ledger() == []
    assert await mallory.balance(token_type) == {"balance": 0, "held": 0, "available": 0}
    # Mallory's own cost on Alice's task id is ignored when Alice completes it.
    await admin.credit(mallory.id, token_type, 1)
    await mallory.set_cost(task, token_type, 1)

    assert (await alice.complete(task)).status_code == 200
    assert [d["amount"] for d in await alice.wait_for_debits(task)] == [-2]
    assert (await alice.http.get(f"/api/todos/tasks/{task}")).json()["title"] == "alice's"
    assert await mallory.debits_for(task) == []
