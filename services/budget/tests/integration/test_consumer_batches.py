"""Batches of events against real PostgreSQL and RabbitMQ: one load and one save per batch,
each event id applied once, failures settled per event, an owner's events in order."""

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg  # type: ignore[import-untyped]
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from budget.config import Settings
from budget.domain.model import TokenType
from budget.service_layer import ledger
from budget.service_layer.events import Outcome, handle_events
from contracts.events import TaskCompleted
from contracts.identity import Caller
from contracts.ids import EventId, OwnerId, TaskId
from tests.integration.conftest import Broker, Budget, RunningConsumer, eventually

# Makes the debit of a listed task fail with a given SQLSTATE: always, or only the first time
# (a sequence, which a rollback does not undo). A real failure inside the batch's statement.
FAULT_DDL = [
    """CREATE TABLE IF NOT EXISTS test_faults (
         reference_id text PRIMARY KEY, sqlstate text NOT NULL, once regclass)""",
    """CREATE OR REPLACE FUNCTION test_fault() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE f record;
       BEGIN
         SELECT * INTO f FROM test_faults WHERE reference_id = NEW.reference_id;
         IF FOUND AND (f.once IS NULL OR nextval(f.once) = 1) THEN
           RAISE EXCEPTION 'injected fault' USING ERRCODE = f.sqlstate;
         END IF;
         RETURN NEW;
       END $$""",
    "DROP TRIGGER IF EXISTS test_fault ON ledger_entries",
    """CREATE TRIGGER test_fault BEFORE INSERT ON ledger_entries
       FOR EACH ROW EXECUTE FUNCTION test_fault()""",
]

Fault = Callable[[UUID, str, bool], Awaitable[None]]

# These completions come without a hook call before them, so no hold backs their debit.
HOOKLESS = Outcome.DEBITED_WITHOUT_HOLD


@pytest.fixture
async def fault(engine: AsyncEngine) -> AsyncIterator[Fault]:
    async with engine.begin() as conn:
        for statement in FAULT_DDL:
            await conn.execute(text(statement))
    sequences: list[str] = []

    async def inject(task: UUID, sqlstate: str, once: bool) -> None:
        name = f"test_fault_{task.hex}" if once else None
        async with engine.begin() as conn:
            if name:
                await conn.execute(text(f"CREATE SEQUENCE {name}"))
                sequences.append(name)
            await conn.execute(
                text("INSERT INTO test_faults VALUES (:r, :s, :o)"),
                {"r": str(task), "s": sqlstate, "o": name},
            )

    yield inject
    async with engine.begin() as conn:
        await conn.execute(text("DROP TRIGGER IF EXISTS test_fault ON ledger_entries"))
        await conn.execute(text("DELETE FROM test_faults"))
        for name in sequences:
            await conn.execute(text(f"DROP SEQUENCE {name}"))


def _now() -> datetime:
    return datetime.now(UTC)


def completed(owner: UUID, task: UUID) -> TaskCompleted:
    return TaskCompleted(
        task_id=TaskId(task), owner_id=OwnerId(owner), title="t", completed_at=datetime.now(UTC)
    )


async def _costed(
    budget: Budget, owners: int, cost: int = 2
) -> tuple[list[tuple[UUID, UUID]], TokenType]:
    token_type = await budget.token_type()
    tasks = []
    for _ in range(owners):
        owner, task = uuid4(), uuid4()
        await budget.credit(owner, token_type, 10)
        await budget.cost(owner, task, token_type, cost)
        tasks.append((owner, task))
    return tasks, token_type


async def test_a_batch_applies_a_duplicate_event_id_once(budget: Budget) -> None:
    tasks, token_type = await _costed(budget, 3)
    events = [(EventId(uuid4()), completed(owner, task)) for owner, task in tasks]
    seen_before = events[0]
    assert await handle_events(budget.repos, _now, [seen_before]) == [HOOKLESS]
    again = events[1]
    outcomes = await handle_events(budget.repos, _now, [seen_before, *events[1:], again])
    assert outcomes == [Outcome.DUPLICATE, HOOKLESS, HOOKLESS, Outcome.DUPLICATE]
    for owner, _ in tasks:
        assert await budget.debits(owner) == 1
        assert await budget.balance(owner, token_type) == (8, 0)


async def test_two_events_of_one_account_in_a_batch_both_apply_in_order(budget: Budget) -> None:
    token_type = await budget.token_type()
    owner, first, second = uuid4(), uuid4(), uuid4()
    await budget.credit(owner, token_type, 10)
    await budget.cost(owner, first, token_type, 3)
    await budget.cost(owner, second, token_type, 4)
    # The second step loads the version the first saves over: it is run again on its own.
    outcomes = await handle_events(
        budget.repos,
        _now,
        [(EventId(uuid4()), completed(owner, first)), (EventId(uuid4()), completed(owner, second))],
    )
    assert outcomes == [HOOKLESS, HOOKLESS]
    assert await budget.balance(owner, token_type) == (3, 0)
    assert await _debited_tasks(budget, owner) == [first, second]


async def test_a_transient_error_mid_batch_applies_nothing_and_the_retry_applies_once(
    budget: Budget, fault: Fault
) -> None:
    tasks, token_type = await _costed(budget, 4)
    await fault(tasks[2][1], "40001", True)  # a serialization failure on the third debit
    events = [(EventId(uuid4()), completed(owner, task)) for owner, task in tasks]
    with pytest.raises(asyncpg.SerializationError):
        await handle_events(budget.repos, _now, events)
    for owner, _ in tasks:  # the statement failed as a whole: the first two are not applied
        assert await budget.debits(owner) == 0
    assert await handle_events(budget.repos, _now, events) == [HOOKLESS] * 4
    assert await handle_events(budget.repos, _now, events) == [Outcome.DUPLICATE] * 4
    for owner, _ in tasks:
        assert await budget.debits(owner) == 1
        assert await budget.balance(owner, token_type) == (8, 0)


async def test_the_consumer_retries_a_batch_after_a_transient_error_without_dead_letters(
    budget: Budget,
    broker: Broker,
    fault: Fault,
    start_consumer: Callable[[Settings], Awaitable[RunningConsumer]],
    consumer_settings: Settings,
) -> None:
    tasks, token_type = await _costed(budget, 6)
    await fault(tasks[3][1], "40P01", True)  # a deadlock on one debit, the first time
    for owner, task in tasks:  # a backlog, so that one batch takes them all
        await broker.publish_event(completed(owner, task))
    retries = _sample("budget_consumer_db_retries_total")
    await start_consumer(consumer_settings)

    async def all_debited() -> bool:
        return all([await budget.debits(owner) == 1 for owner, _ in tasks])

    await eventually(all_debited)
    await eventually(lambda: _drained(broker))
    assert _sample("budget_consumer_db_retries_total") > retries
    assert await broker.dead_letter_count() == 0
    for owner, _ in tasks:
        assert await budget.balance(owner, token_type) == (8, 0)


async def test_a_poison_event_in_a_batch_dead_letters_only_itself(
    budget: Budget,
    broker: Broker,
    fault: Fault,
    start_consumer: Callable[[Settings], Awaitable[RunningConsumer]],
    consumer_settings: Settings,
) -> None:
    tasks, token_type = await _costed(budget, 6)
    poison_owner, poison_task = tasks[2]
    await fault(poison_task, "23514", False)  # a check violation: not the database's outage
    for owner, task in tasks:
        await broker.publish_event(completed(owner, task))
    await start_consumer(consumer_settings)

    async def dead_lettered() -> bool:
        return await broker.dead_letter_count() == 1

    await eventually(dead_lettered)
    await eventually(lambda: _drained(broker))
    for owner, _ in tasks:
        expected = (0, 10) if owner == poison_owner else (1, 8)
        assert (
            await budget.debits(owner),
            (await budget.balance(owner, token_type))[0],
        ) == expected


async def test_an_owners_events_apply_in_delivery_order_among_others(
    budget: Budget,
    broker: Broker,
    start_consumer: Callable[[Settings], Awaitable[RunningConsumer]],
    consumer_settings: Settings,
) -> None:
    token_type = await budget.token_type()
    owner = uuid4()
    await budget.credit(owner, token_type, 100)
    mine = [uuid4() for _ in range(12)]
    for task in mine:
        await budget.cost(owner, task, token_type, 1)
    others, _ = await _costed(budget, 4, cost=1)
    for i, task in enumerate(mine):
        await broker.publish_event(completed(owner, task))
        other_owner, other_task = others[i % len(others)]
        await broker.publish_event(completed(other_owner, other_task))
    await start_consumer(consumer_settings.model_copy(update={"consumer_prefetch": 40}))

    async def all_mine() -> bool:
        return await budget.debits(owner) == len(mine)

    await eventually(all_mine)
    assert await _debited_tasks(budget, owner) == mine  # the ledger's order is the delivery's
    assert await budget.balance(owner, token_type) == (100 - len(mine), 0)


async def _debited_tasks(budget: Budget, owner: UUID) -> list[UUID]:
    caller = Caller(owner_id=OwnerId(owner), roles=frozenset())
    entries, _ = await ledger.ledger_page(budget.repos, caller, None, None, 100)
    return [UUID(e.reference_id) for e in reversed(entries) if e.kind == "debit" and e.reference_id]


async def _drained(broker: Broker) -> bool:
    return await broker.queue_count() == 0


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0
