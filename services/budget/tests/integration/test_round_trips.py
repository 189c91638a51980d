"""Database round trips per hot-path step, counted at the driver, and concurrent steps on one
account (the version-guarded save) on the real PostgreSQL."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from prometheus_client import REGISTRY
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from budget.adapters.tables import accounts, holds, ledger_entries
from budget.service_layer import hook, ledger
from budget.service_layer.events import Outcome, handle_event
from contracts.events import TaskCompleted, TaskCompletionAborted
from contracts.identity import ADMIN_ROLE, Caller
from contracts.ids import EventId, InvocationId, OwnerId, TaskId, TokenTypeId
from tests.integration.conftest import Budget

TTL = timedelta(minutes=10)


def _now() -> datetime:
    return datetime.now(UTC)


class RoundTrips:
    """Counts what goes to the server: statements SQLAlchemy executes (prepared, which the
    driver does not log) and what the asyncpg connection logs: its own queries, BEGIN, COMMIT."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __len__(self) -> int:
        return len(self.statements)

    def note(self, what: str) -> None:
        self.statements.append(" ".join(what.split())[:60])


@contextmanager
def counted(engine: AsyncEngine) -> Iterator[RoundTrips]:
    trips = RoundTrips()
    sync = engine.sync_engine

    def on_execute(*args: Any) -> None:
        trips.note(str(args[2]))

    def on_driver_query(record: Any) -> None:
        trips.note(record.query)

    def on_checkout(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(on_driver_query)

    def on_checkin(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.driver_connection.remove_query_logger(on_driver_query)

    event.listen(sync, "before_cursor_execute", on_execute)
    event.listen(sync.pool, "checkout", on_checkout)
    event.listen(sync.pool, "checkin", on_checkin)
    try:
        yield trips
    finally:
        event.remove(sync, "before_cursor_execute", on_execute)
        event.remove(sync.pool, "checkout", on_checkout)
        event.remove(sync.pool, "checkin", on_checkin)


async def _owner_with_cost(budget: Budget, credit: int, cost: int) -> tuple[UUID, UUID, Any]:
    owner, task = uuid4(), uuid4()
    token_type = await budget.token_type()
    if credit:
        await budget.credit(owner, token_type, credit)
    await budget.cost(owner, task, token_type, cost)
    return owner, task, token_type


def _completed(owner: UUID, task: UUID) -> TaskCompleted:
    return TaskCompleted(
        task_id=TaskId(task), owner_id=OwnerId(owner), title="t", completed_at=_now()
    )


async def test_a_hook_decision_that_holds_is_two_round_trips(
    budget: Budget, engine: AsyncEngine
) -> None:
    owner, task, _ = await _owner_with_cost(budget, 10, 3)
    await hook.before_complete_task(budget.repos, _now, TTL, uuid4(), uuid4())  # warm the pool
    with counted(engine) as trips:
        decision = await hook.before_complete_task(
            budget.repos, _now, TTL, owner, task, invocation_id=uuid4()
        )
    assert decision.allowed
    assert decision.hold_id is not None
    # load, save: no BEGIN, no COMMIT (before: 11, BEGIN + 9 statements + COMMIT)
    assert len(trips) == 2, trips.statements


async def test_a_veto_and_a_task_without_cost_are_one_round_trip(
    budget: Budget, engine: AsyncEngine
) -> None:
    owner, task, _ = await _owner_with_cost(budget, 1, 3)
    await hook.before_complete_task(budget.repos, _now, TTL, uuid4(), uuid4())  # warm the pool
    with counted(engine) as trips:
        veto = await hook.before_complete_task(budget.repos, _now, TTL, owner, task)
        free = await hook.before_complete_task(budget.repos, _now, TTL, owner, uuid4())
    assert not veto.allowed
    assert free.allowed
    assert len(trips) == 2, trips.statements


async def test_the_consumers_effect_of_one_event_is_two_round_trips(
    budget: Budget, engine: AsyncEngine
) -> None:
    owner, task, token_type = await _owner_with_cost(budget, 10, 3)
    await budget.hold(owner, task)
    await handle_event(budget.repos, _now, EventId(uuid4()), _completed(owner, task))  # warm
    owner, task, token_type = await _owner_with_cost(budget, 10, 3)
    await budget.hold(owner, task)
    event_id = EventId(uuid4())
    with counted(engine) as trips:
        outcome = await handle_event(budget.repos, _now, event_id, _completed(owner, task))
    assert outcome is Outcome.APPLIED
    assert len(trips) == 2, trips.statements
    assert await budget.balance(owner, token_type) == (7, 0)
    with counted(engine) as trips:
        again = await handle_event(budget.repos, _now, event_id, _completed(owner, task))
    assert again is Outcome.DUPLICATE
    assert len(trips) == 1, trips.statements  # the load sees the event id


async def test_concurrent_debits_on_one_account_all_apply_exactly_once(
    budget: Budget, engine: AsyncEngine
) -> None:
    """Steps on one account race; the version makes the losers load again, none is lost."""
    owner, token_type = uuid4(), await budget.token_type()
    await budget.credit(owner, token_type, 100)
    tasks = [uuid4() for _ in range(12)]
    for task in tasks:
        await budget.cost(owner, task, token_type, 2)
    events = [(EventId(uuid4()), _completed(owner, t)) for t in tasks]
    # Each event twice (a redelivery under another consumer), all at once.
    outcomes = await asyncio.gather(
        *(handle_event(budget.repos, _now, i, e) for i, e in events + events)
    )
    # No hook call held for these completions: each debit is reported as not backed by a hold.
    assert outcomes.count(Outcome.DEBITED_WITHOUT_HOLD) == len(tasks)
    assert outcomes.count(Outcome.DUPLICATE) == len(tasks)
    async with engine.connect() as conn:
        balance = await conn.scalar(
            select(accounts.c.balance).where(
                accounts.c.owner_id == owner, accounts.c.token_type_id == token_type.id
            )
        )
        total = await conn.scalar(
            select(func.sum(ledger_entries.c.amount)).where(ledger_entries.c.owner_id == owner)
        )
    assert balance == total == 100 - 2 * len(tasks)


async def test_a_hook_and_the_abort_of_its_attempt_racing_leave_no_hold(
    budget: Budget, engine: AsyncEngine
) -> None:
    """Whichever saves first, the hold of an aborted attempt does not survive."""
    for _ in range(10):
        owner, task, _ = await _owner_with_cost(budget, 10, 3)
        invocation = InvocationId(uuid4())
        aborted = TaskCompletionAborted(
            task_id=TaskId(task),
            owner_id=OwnerId(owner),
            aborted_at=_now(),
            reason="hook timed out",
            invocation_id=invocation,
        )
        await asyncio.gather(
            hook.before_complete_task(
                budget.repos, _now, TTL, owner, task, invocation_id=invocation
            ),
            handle_event(budget.repos, _now, EventId(uuid4()), aborted),
        )
        async with engine.connect() as conn:
            active = await conn.scalar(
                select(func.count()).where(
                    holds.c.owner_id == owner, holds.c.task_id == task, holds.c.status == "active"
                )
            )
        assert active == 0


ADMIN = Caller(owner_id=OwnerId(uuid4()), roles=frozenset({ADMIN_ROLE}))


async def test_a_credit_is_two_round_trips_and_a_replay_one(
    budget: Budget, engine: AsyncEngine
) -> None:
    owner, token_type = OwnerId(uuid4()), await budget.token_type()
    request = ledger.CreditRequest(owner, TokenTypeId(token_type.id), 5, "top-up")
    await budget.credit(owner, token_type, 1)  # warm the pool and the account
    with counted(engine) as trips:
        first = await ledger.credit(budget.repos, _now, ADMIN, request, "key-1")
    assert len(trips) == 2, trips.statements  # load (with the key's entry), save
    with counted(engine) as trips:
        again = await ledger.credit(budget.repos, _now, ADMIN, request, "key-1")
    assert len(trips) == 1, trips.statements
    assert (again.entry.id, again.replayed, first.replayed) == (first.entry.id, True, False)
    assert await budget.balance(owner, token_type) == (6, 0)


async def test_credits_racing_debits_and_each_other_keep_the_balance_the_sum_of_entries(
    budget: Budget, engine: AsyncEngine
) -> None:
    owner, token_type = OwnerId(uuid4()), await budget.token_type()
    await budget.credit(owner, token_type, 50)
    tasks = [uuid4() for _ in range(8)]
    for task in tasks:
        await budget.cost(owner, task, token_type, 3)
    tt = TokenTypeId(token_type.id)
    same_key = [
        ledger.credit(budget.repos, _now, ADMIN, ledger.CreditRequest(owner, tt, 7, None), "same")
        for _ in range(4)
    ]
    other_keys = [
        ledger.credit(budget.repos, _now, ADMIN, ledger.CreditRequest(owner, tt, 2, None), f"k{i}")
        for i in range(6)
    ]
    debits = [
        handle_event(budget.repos, _now, EventId(uuid4()), _completed(owner, t)) for t in tasks
    ]
    results = await asyncio.gather(*same_key, *other_keys, *debits)
    same = results[: len(same_key)]
    assert len({r.entry.id for r in same}) == 1  # one credit, the others replay it
    assert sum(not r.replayed for r in same) == 1
    async with engine.connect() as conn:
        balance = await conn.scalar(
            select(accounts.c.balance).where(
                accounts.c.owner_id == owner, accounts.c.token_type_id == token_type.id
            )
        )
        total = await conn.scalar(
            select(func.sum(ledger_entries.c.amount)).where(ledger_entries.c.owner_id == owner)
        )
    assert balance == total == 50 + 7 + 6 * 2 - 3 * len(tasks)


async def test_saves_that_lose_the_version_race_are_counted(budget: Budget) -> None:
    """`budget_account_saves_total{result=conflict}`: what two consumers of one owner cost."""
    owner, token_type = uuid4(), await budget.token_type()
    await budget.credit(owner, token_type, 100)
    tasks = [uuid4() for _ in range(12)]
    for task in tasks:
        await budget.cost(owner, task, token_type, 2)

    def saves(result: str) -> float:
        value = REGISTRY.get_sample_value("budget_account_saves_total", {"result": result})
        return value or 0.0

    before = {r: saves(r) for r in ("saved", "conflict")}
    await asyncio.gather(
        *(handle_event(budget.repos, _now, EventId(uuid4()), _completed(owner, t)) for t in tasks)
    )
    assert saves("saved") - before["saved"] == len(tasks)
    assert saves("conflict") - before["conflict"] > 0  # 12 steps at once on one account
