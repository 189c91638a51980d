"""The fault suite's checker on hand-made final states: each broken promise is counted."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from e2e.api import Caller
from e2e.faults.checker import State, check
from e2e.faults.driver import Task, World

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class _Owner:
    def __init__(self) -> None:
        self.id = uuid.uuid4()


def _world(tasks: int = 4, credit: int = 100) -> World:
    owner = cast(Caller, _Owner())
    made = [Task(str(uuid.uuid4()), owner, cost=2, answers=[200]) for _ in range(tasks)]
    return World(cast(Caller, _Owner()), "tt", [owner], {owner.id: credit}, made)


def _debit(task: Task, amount: int = 2, after: float = 1.0) -> dict[str, Any]:
    return {
        "owner_id": str(task.owner.id),
        "amount": -amount,
        "created_at": (T0 + timedelta(seconds=after)).isoformat(),
    }


def _state(world: World, completed: list[Task], debits: dict[str, list[dict[str, Any]]]) -> State:
    owner = str(world.owners[0].id)
    credit = world.credits[world.owners[0].id]
    spent = sum(-int(e["amount"]) for es in debits.values() for e in es)
    balance = {"balance": credit - spent, "held": 0, "available": credit - spent}
    return State({t.id: T0 for t in completed}, debits, {owner: credit - spent}, {owner: balance})


def test_a_consistent_history_passes_with_its_lags() -> None:
    world = _world()
    state = _state(
        world, world.tasks, {t.id: [_debit(t, after=i)] for i, t in enumerate(world.tasks)}
    )
    v = check("ok", world, state, dlq=0)
    assert v.passed, v.line()
    assert sorted(v.lags) == [0.0, 1.0, 2.0, 3.0]
    assert v.ok == 1.0


def test_lost_dup_phantom_and_wrong_amount_are_counted() -> None:
    world = _world()
    a, b, c, d = world.tasks
    debits = {a.id: [_debit(a), _debit(a)], c.id: [_debit(c)], d.id: [_debit(d, amount=5)]}
    state = _state(world, [a, b, d], debits)  # b completed, never debited; c never completed
    v = check("bad", world, state, dlq=0)
    assert (v.lost, v.dup, v.phantom, v.mismatch) == (1, 1, 1, 1)
    assert not v.passed


def test_balance_mismatch_leaked_hold_overdraft_dlq_and_5xx() -> None:
    world = _world(credit=1)
    world.statuses = Counter({200: 3, 500: 2, 0: 1})
    a = world.tasks[0]
    state = _state(world, [a], {a.id: [_debit(a)]})
    owner = str(world.owners[0].id)
    state.balances[owner] = {"balance": -1, "held": 4, "available": -5}
    state.ledger_sum[owner] = 0  # the balance is not the sum of the ledger either
    v = check("bad", world, state, dlq=2)
    assert (v.mismatch, v.leaked, v.overdrawn, v.dlq) == (1, 4, 1, 2)
    assert v.server_errors == Counter({500: 2, 0: 1})
    assert "5xx=3(0:1,500:2)" in v.line()


def test_a_balance_that_dipped_below_zero_and_came_back_is_overdrawn() -> None:
    world = _world(tasks=2, credit=10)
    a, b = world.tasks
    a.cost = b.cost = 6
    state = _state(world, [a, b], {a.id: [_debit(a, amount=6)], b.id: [_debit(b, amount=6)]})
    owner = str(world.owners[0].id)
    # credit 10, two debits of 6 (-2), then a later credit of 5: it ends at 3 but was at -2.
    state.amounts[owner] = [10, -6, -6, 5]
    world.credits[world.owners[0].id] = 15
    state.balances[owner] = {"balance": 3, "held": 0, "available": 3}
    state.ledger_sum[owner] = 3
    v = check("dip", world, state, dlq=0)
    assert (v.mismatch, v.overdrawn) == (0, 1)
    assert "overdrawn=1" in v.line()
    assert not v.passed
    state.amounts[owner] = [10, 5, -6, -6]  # the same entries, the credit first: never below 0
    fine = check("no-dip", world, state, dlq=0)
    assert fine.passed, fine.line()
