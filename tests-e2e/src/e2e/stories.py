"""The product's main story, shared by the single- and multi-replica suites."""

from __future__ import annotations

from e2e.api import Caller


async def veto_credit_complete_debit(admin: Caller, owner: Caller) -> None:
    """Veto while poor, credit, complete, exactly one debit; balance and holds add up."""
    token_type = await admin.create_token_type()
    await admin.credit(owner.id, token_type, 5)
    task = await owner.create_task("story")
    await owner.set_cost(task, token_type, 8)

    vetoed = await owner.complete(task)
    assert vetoed.status_code == 409, vetoed.text
    assert vetoed.headers["content-type"].startswith("application/problem+json")
    problem = vetoed.json()
    assert problem["code"] == "vetoed"
    assert problem["vetoed_by"] == ["budget"]
    assert problem["reasons"] == [
        f"Insufficient budget: need 8 {await _code(admin, token_type)}, have 5"
    ]
    still_open = await owner.http.get(f"/api/todos/tasks/{task}")
    assert still_open.json()["status"] == "open"

    await admin.credit(owner.id, token_type, 5)
    done = await owner.complete(task)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"

    debits = await owner.wait_for_debits(task)
    assert [d["amount"] for d in debits] == [-8]
    assert await owner.balance(token_type) == {
        "token_type_id": token_type,
        "balance": 2,
        "held": 0,
        "available": 2,
    }


async def _code(admin: Caller, token_type: str) -> str:
    r = await admin.http.get("/api/budget/token-types")
    return str(next(t["code"] for t in r.json() if t["id"] == token_type))
