"""Out-of-order events, late aborts and late hook calls through the real consumer on PostgreSQL."""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from budget.adapters.tables import processed_events
from budget.config import Settings
from budget.domain.model import TokenType
from budget.service_layer import hook
from contracts.events import TaskCompleted, TaskCompletionAborted, TaskDeleted
from contracts.ids import EventId, InvocationId, OwnerId, TaskId
from tests.integration.conftest import Broker, Budget, RunningConsumer, eventually


def _completed(owner: UUID, task: UUID) -> TaskCompleted:
    return TaskCompleted(
        task_id=TaskId(task), owner_id=OwnerId(owner), title="t", completed_at=datetime.now(UTC)
    )


def _deleted(owner: UUID, task: UUID) -> TaskDeleted:
    return TaskDeleted(task_id=TaskId(task), owner_id=OwnerId(owner), deleted_at=datetime.now(UTC))


def _aborted(owner: UUID, task: UUID, invocation: UUID) -> TaskCompletionAborted:
    return TaskCompletionAborted(
        task_id=TaskId(task),
        owner_id=OwnerId(owner),
        aborted_at=datetime.now(UTC),
        reason="hook unavailable: budget",
        invocation_id=InvocationId(invocation),
    )


async def _handled(engine: AsyncEngine, *event_ids: EventId) -> None:
    """Wait until the consumer committed every one of these events."""

    async def all_recorded() -> bool:
        stmt = select(processed_events.c.event_id).where(processed_events.c.event_id.in_(event_ids))
        async with engine.connect() as conn:
            return len((await conn.execute(stmt)).all()) == len(event_ids)

    await eventually(all_recorded)


async def _hold(
    budget: Budget, owner: UUID, task: UUID, invocation: UUID, deadline_in: float = 5.0
) -> hook.Decision:
    now = datetime.now(UTC)
    return await hook.before_complete_task(
        budget.repos,
        lambda: datetime.now(UTC),
        Settings().hold_ttl,
        owner,
        task,
        invocation_id=invocation,
        deadline=now + timedelta(seconds=deadline_in),
    )


async def _owner_with_costs(
    budget: Budget, credit: int, *amounts: int
) -> tuple[UUID, list[UUID], TokenType]:
    owner, token_type = uuid4(), await budget.token_type()
    await budget.credit(owner, token_type, credit)
    tasks = [uuid4() for _ in amounts]
    for task, amount in zip(tasks, amounts, strict=True):
        await budget.cost(owner, task, token_type, amount)
    return owner, tasks, token_type


async def test_deleted_consumed_before_completed_still_debits_once(
    budget: Budget, broker: Broker, consumer: RunningConsumer, engine: AsyncEngine
) -> None:
    owner, [task], tt = await _owner_with_costs(budget, 10, 6)
    assert (await _hold(budget, owner, task, uuid4())).allowed
    await _handled(engine, await broker.publish_event(_deleted(owner, task)))
    assert await budget.balance(owner, tt) == (10, 6)  # held for the completion on its way
    assert await budget.costs_of(owner) == 0
    completed = _completed(owner, task)
    first = await broker.publish_event(completed)
    again = await broker.publish_event(completed, event_id=first)  # redelivered
    other = await broker.publish_event(_completed(owner, task))  # another event id
    late_delete = await broker.publish_event(_deleted(owner, task))
    await _handled(engine, first, other, late_delete)
    assert again == first
    assert await budget.debits(owner) == 1
    assert await budget.balance(owner, tt) == (4, 0)


async def test_a_late_abort_of_the_first_attempt_keeps_the_retrys_hold(
    budget: Budget, broker: Broker, consumer: RunningConsumer, engine: AsyncEngine
) -> None:
    owner, [task, other], tt = await _owner_with_costs(budget, 10, 10, 10)
    first, retry = uuid4(), uuid4()
    assert (await _hold(budget, owner, task, first)).allowed  # attempt 1: todos timed out
    assert (await _hold(budget, owner, task, retry)).allowed  # the retry reuses the hold
    await _handled(engine, await broker.publish_event(_aborted(owner, task, first)))
    assert await budget.balance(owner, tt) == (10, 10)
    assert not (await _hold(budget, owner, other, uuid4())).allowed  # no double spend
    await _handled(engine, await broker.publish_event(_completed(owner, task)))
    assert await budget.balance(owner, tt) == (0, 0)


async def test_an_abort_consumed_before_its_late_hook_call_leaves_no_hold(
    budget: Budget, broker: Broker, consumer: RunningConsumer, engine: AsyncEngine
) -> None:
    owner, [task], tt = await _owner_with_costs(budget, 10, 4)
    invocation = uuid4()
    await _handled(engine, await broker.publish_event(_aborted(owner, task, invocation)))
    late = await _hold(budget, owner, task, invocation)  # the queued request runs at last
    assert not late.allowed
    assert await budget.balance(owner, tt) == (10, 0)
    past_deadline = await _hold(budget, owner, task, uuid4(), deadline_in=-0.001)
    assert not past_deadline.allowed
    assert await budget.balance(owner, tt) == (10, 0)
