"""The overdraw paths, on the real PostgreSQL through the real use cases: tokens held for one
completion attempt are never handed to another until that attempt is settled."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from budget.config import Settings
from budget.domain.model import TokenType
from budget.service_layer import events, hook
from budget.service_layer.errors import ConflictError
from contracts.events import IntegrationEvent, TaskCompleted, TaskCompletionAborted, TaskDeleted
from contracts.ids import EventId, InvocationId, OwnerId, TaskId
from tests.integration.conftest import Budget

TTL = Settings().hold_ttl


@dataclass
class Clock:
    """A clock the test moves by hand (hold expiry without waiting)."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


async def _owner(budget: Budget, credit: int, *costs: int) -> tuple[UUID, list[UUID], TokenType]:
    owner, token_type = uuid4(), await budget.token_type()
    await budget.credit(owner, token_type, credit)
    tasks = [uuid4() for _ in costs]
    for task, amount in zip(tasks, costs, strict=True):
        await budget.cost(owner, task, token_type, amount)
    return owner, tasks, token_type


async def _call(
    budget: Budget, clock: Clock, owner: UUID, task: UUID, attempt: UUID, deadline: datetime
) -> hook.Decision:
    return await hook.before_complete_task(
        budget.repos, clock, TTL, owner, task, invocation_id=attempt, deadline=deadline
    )


async def _deliver(budget: Budget, clock: Clock, event: IntegrationEvent) -> events.Outcome:
    return await events.handle_event(budget.repos, clock, EventId(uuid4()), event)


def _completed(owner: UUID, task: UUID, clock: Clock) -> TaskCompleted:
    return TaskCompleted(
        task_id=TaskId(task), owner_id=OwnerId(owner), title="t", completed_at=clock()
    )


def _deleted(owner: UUID, task: UUID, clock: Clock) -> TaskDeleted:
    return TaskDeleted(task_id=TaskId(task), owner_id=OwnerId(owner), deleted_at=clock())


def _aborted(owner: UUID, task: UUID, attempt: UUID, clock: Clock) -> TaskCompletionAborted:
    return TaskCompletionAborted(
        task_id=TaskId(task),
        owner_id=OwnerId(owner),
        aborted_at=clock(),
        reason="test",
        invocation_id=InvocationId(attempt),
    )


async def test_a_deletion_overtaking_the_completion_does_not_free_its_hold(
    budget: Budget,
) -> None:
    clock = Clock()
    owner, [t1, t2], tt = await _owner(budget, 10, 6, 6)
    soon = clock() + timedelta(seconds=5)
    assert (await _call(budget, clock, owner, t1, uuid4(), soon)).allowed
    assert not (await _call(budget, clock, owner, t2, uuid4(), soon)).allowed
    # T1 was completed, then deleted; the deletion reaches budget first.
    await _deliver(budget, clock, _deleted(owner, t1, clock))
    assert await budget.balance(owner, tt) == (10, 6)  # still held for T1's completion
    assert not (await _call(budget, clock, owner, t2, uuid4(), soon)).allowed
    await _deliver(budget, clock, _completed(owner, t1, clock))
    assert await budget.balance(owner, tt) == (4, 0)
    assert await budget.debits(owner) == 1


async def test_a_reused_hold_gets_its_whole_ttl_again(budget: Budget) -> None:
    clock = Clock()
    owner, [t1, t2], tt = await _owner(budget, 10, 6, 6)
    start = clock.now
    assert (await _call(budget, clock, owner, t1, uuid4(), start + timedelta(seconds=5))).allowed
    # The attempt died without an abort; the retry comes just before the hold would lapse.
    clock.now = start + TTL - timedelta(seconds=0.5)
    retry = await _call(budget, clock, owner, t1, uuid4(), clock.now + timedelta(seconds=5))
    assert retry.allowed
    # Its completion is in flight past the first hold's expiry: the funds stay held for it.
    clock.now = start + TTL + timedelta(seconds=1)
    assert not (await _call(budget, clock, owner, t2, uuid4(), clock.now + timedelta(5))).allowed
    assert await budget.balance(owner, tt) == (10, 6)
    assert await _deliver(budget, clock, _completed(owner, t1, clock)) is events.Outcome.APPLIED
    assert await budget.balance(owner, tt) == (4, 0)


async def test_a_retried_call_past_its_deadline_answers_as_its_hold_says(budget: Budget) -> None:
    clock = Clock()
    owner, [t1, t2], tt = await _owner(budget, 10, 6, 6)
    attempt = uuid4()
    deadline = clock() + timedelta(seconds=1)
    assert (await _call(budget, clock, owner, t1, attempt, deadline)).allowed
    clock.now = deadline + timedelta(seconds=1)
    again = await _call(budget, clock, owner, t1, attempt, deadline)
    # The attempt holds: the retry is allowed with that hold, not vetoed while still holding.
    assert again.allowed
    assert again.hold_id is not None
    assert await budget.balance(owner, tt) == (10, 6)
    # A new attempt past its deadline holds nothing.
    late = await _call(budget, clock, owner, t2, uuid4(), deadline)
    assert not late.allowed
    assert await budget.balance(owner, tt) == (10, 6)
    # The attempt ends in an abort (todos gave up): everything is free again.
    await _deliver(budget, clock, _aborted(owner, t1, attempt, clock))
    assert await budget.balance(owner, tt) == (10, 0)


async def test_a_cost_cannot_be_removed_while_its_hold_backs_a_completion(budget: Budget) -> None:
    clock = Clock()
    owner, [t1, t2], tt = await _owner(budget, 10, 6, 6)
    assert (await _call(budget, clock, owner, t1, uuid4(), clock() + timedelta(5))).allowed
    [cost] = [c for c in await budget.costs_list(owner) if c.task_id == t1]
    # Removed (and added again), the freed hold would let T2 spend the same tokens.
    with pytest.raises(ConflictError) as refused:
        await budget.delete_cost(owner, cost.id, clock)
    assert refused.value.code == "cost_held"
    assert not (await _call(budget, clock, owner, t2, uuid4(), clock() + timedelta(5))).allowed
    assert await budget.balance(owner, tt) == (10, 6)


async def test_a_debit_after_its_hold_expired_is_reported(budget: Budget) -> None:
    clock = Clock()
    owner, [t1, t2], tt = await _owner(budget, 10, 6, 6)
    start = clock.now
    assert (await _call(budget, clock, owner, t1, uuid4(), start + timedelta(5))).allowed
    clock.now = start + TTL + timedelta(seconds=1)
    assert (await _call(budget, clock, owner, t2, uuid4(), clock.now + timedelta(5))).allowed
    await _deliver(budget, clock, _completed(owner, t2, clock))
    late = await _deliver(budget, clock, _completed(owner, t1, clock))
    assert late is events.Outcome.DEBITED_AFTER_HOLD_EXPIRED
    assert await budget.balance(owner, tt) == (-2, 0)
