"""Events in any order, late aborts and late hook calls, through the use cases with fakes."""

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from budget.domain.model import EntryKind, HoldStatus
from budget.service_layer import costs, hook, ledger
from budget.service_layer.errors import ConflictError, NotFoundError
from budget.service_layer.events import Outcome, handle_event
from contracts.events import TaskCompleted, TaskCompletionAborted, TaskDeleted
from contracts.identity import ADMIN_ROLE, Caller
from contracts.ids import EventId, InvocationId, OwnerId, TaskId
from tests.unit.fakes import FakeClock, FakeRepositories

TTL = timedelta(minutes=10)
ADMIN = Caller(owner_id=OwnerId(uuid4()), roles=frozenset({ADMIN_ROLE}))


@pytest.fixture
def repos() -> FakeRepositories:
    return FakeRepositories()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _caller(owner: UUID) -> Caller:
    return Caller(owner_id=OwnerId(owner), roles=frozenset())


async def _setup(
    repos: FakeRepositories, clock: FakeClock, credit: int, *amounts: int
) -> tuple[UUID, list[UUID], UUID]:
    owner = uuid4()
    tt = await ledger.create_token_type(repos, ADMIN, f"c{uuid4().hex[:6]}", "C")
    if credit:
        await ledger.credit(repos, clock, ADMIN, ledger.CreditRequest(owner, tt.id, credit, None))
    tasks = [uuid4() for _ in amounts]
    for task, amount in zip(tasks, amounts, strict=True):
        await costs.add_cost(repos, _caller(owner), task, tt.id, amount)
    return owner, tasks, tt.id


async def _completed(repos: FakeRepositories, clock: FakeClock, owner: UUID, task: UUID) -> Outcome:
    event = TaskCompleted(
        task_id=TaskId(task), owner_id=OwnerId(owner), title="t", completed_at=clock()
    )
    return await handle_event(repos, clock, EventId(uuid4()), event)


async def _deleted(repos: FakeRepositories, clock: FakeClock, owner: UUID, task: UUID) -> Outcome:
    event = TaskDeleted(task_id=TaskId(task), owner_id=OwnerId(owner), deleted_at=clock())
    return await handle_event(repos, clock, EventId(uuid4()), event)


async def _aborted(
    repos: FakeRepositories, clock: FakeClock, owner: UUID, task: UUID, invocation: UUID | None
) -> Outcome:
    event = TaskCompletionAborted(
        task_id=TaskId(task),
        owner_id=OwnerId(owner),
        aborted_at=clock(),
        reason="hook unavailable",
        invocation_id=InvocationId(invocation) if invocation else None,
    )
    return await handle_event(repos, clock, EventId(uuid4()), event)


async def _hook(
    repos: FakeRepositories,
    clock: FakeClock,
    owner: UUID,
    task: UUID,
    invocation: UUID,
    *,
    deadline_in: timedelta = timedelta(seconds=1),
) -> hook.Decision:
    return await hook.before_complete_task(
        repos, clock, TTL, owner, task, invocation_id=invocation, deadline=clock() + deadline_in
    )


async def _balance(repos: FakeRepositories, clock: FakeClock, owner: UUID) -> tuple[int, int]:
    [bal] = await ledger.balances(repos, clock, _caller(owner))
    return bal.balance, bal.held


def _debits(repos: FakeRepositories, task: UUID) -> int:
    return sum(
        1 for e in repos.state.entries if e.kind is EntryKind.DEBIT and e.reference_id == str(task)
    )


# Defect 2: a task completed before it was deleted is debited whatever the delivery order.


async def test_deleted_then_completed_debits_once(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    owner, [task], _ = await _setup(repos, clock, 10, 6)
    assert (await _hook(repos, clock, owner, task, uuid4())).allowed
    assert await _deleted(repos, clock, owner, task) is Outcome.APPLIED
    assert await _balance(repos, clock, owner) == (10, 6)  # held for the completion on its way
    assert await costs.list_costs(repos, _caller(owner), task) == []
    assert await _completed(repos, clock, owner, task) is Outcome.APPLIED
    assert await _completed(repos, clock, owner, task) is Outcome.NO_EFFECT
    assert await _deleted(repos, clock, owner, task) is Outcome.NO_EFFECT
    assert _debits(repos, task) == 1
    assert await _balance(repos, clock, owner) == (4, 0)
    # Charged, so it stays visible, as when the events arrive in the order they happened.
    [cost] = await costs.list_costs(repos, _caller(owner), task)
    assert cost.charged_at is not None


async def test_completed_then_deleted_ends_the_same(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    owner, [task], _ = await _setup(repos, clock, 10, 6)
    assert await _completed(repos, clock, owner, task) is Outcome.DEBITED_WITHOUT_HOLD  # no hook
    await _deleted(repos, clock, owner, task)
    assert _debits(repos, task) == 1
    assert await _balance(repos, clock, owner) == (4, 0)
    assert len(await costs.list_costs(repos, _caller(owner), task)) == 1


async def test_a_deleted_tasks_cost_is_gone_for_the_owner_and_holds_nothing(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    owner, [task], tt = await _setup(repos, clock, 10, 6)
    [cost] = await costs.list_costs(repos, _caller(owner), task)
    await _deleted(repos, clock, owner, task)
    with pytest.raises(NotFoundError):
        await costs.delete_cost(repos, _caller(owner), cost.id)
    with pytest.raises(ConflictError) as refused:
        await costs.add_cost(repos, _caller(owner), task, tt, 3)
    assert refused.value.code == "task_deleted"
    # A late hook call for the deleted task (its completion cannot succeed) holds nothing.
    assert (await _hook(repos, clock, owner, task, uuid4())).allowed
    assert await _balance(repos, clock, owner) == (10, 0)


async def test_a_cost_the_owner_removed_is_not_debited(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    owner, [task], _ = await _setup(repos, clock, 10, 6)
    [cost] = await costs.list_costs(repos, _caller(owner), task)
    await costs.delete_cost(repos, _caller(owner), cost.id)
    await _deleted(repos, clock, owner, task)
    assert await _completed(repos, clock, owner, task) is Outcome.NO_EFFECT
    assert _debits(repos, task) == 0


# Defect 3: an abort releases only what the aborted attempt holds.


async def test_a_late_abort_of_attempt_one_keeps_the_hold_of_the_retry(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    owner, [task, other], _ = await _setup(repos, clock, 10, 10, 10)
    first, retry = uuid4(), uuid4()
    assert (await _hook(repos, clock, owner, task, first)).allowed
    assert (await _hook(repos, clock, owner, task, retry)).allowed  # reuses the hold
    assert await _aborted(repos, clock, owner, task, first) is Outcome.APPLIED
    assert await _balance(repos, clock, owner) == (10, 10)
    assert not (await _hook(repos, clock, owner, other, uuid4())).allowed  # no double spend
    await _completed(repos, clock, owner, task)
    assert await _balance(repos, clock, owner) == (0, 0)


async def test_the_hold_goes_when_every_attempt_it_backs_was_aborted(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    owner, [task], _ = await _setup(repos, clock, 10, 4)
    first, second = uuid4(), uuid4()
    await _hook(repos, clock, owner, task, first)
    await _hook(repos, clock, owner, task, second)
    await _aborted(repos, clock, owner, task, second)
    assert await _balance(repos, clock, owner) == (10, 4)  # the first attempt may still complete
    await _aborted(repos, clock, owner, task, first)
    assert await _balance(repos, clock, owner) == (10, 0)


async def test_an_abort_without_invocation_id_releases_only_an_unbound_hold(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    owner, [bound, unbound], _ = await _setup(repos, clock, 10, 3, 4)
    await _hook(repos, clock, owner, bound, uuid4())
    await hook.before_complete_task(repos, clock, TTL, owner, unbound)  # a caller without ids
    await _aborted(repos, clock, owner, bound, None)
    await _aborted(repos, clock, owner, unbound, None)
    assert await _balance(repos, clock, owner) == (10, 3)


# Defect 4: no hold for a call its caller gave up on; a late abort still wins.


async def test_a_call_past_its_deadline_holds_nothing(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    owner, [task], _ = await _setup(repos, clock, 10, 4)
    late = await _hook(repos, clock, owner, task, uuid4(), deadline_in=-timedelta(milliseconds=1))
    assert not late.allowed
    assert "Deadline" in (late.reason or "")
    assert await _balance(repos, clock, owner) == (10, 0)


async def test_an_abort_before_its_hook_call_leaves_no_hold(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    owner, [task], _ = await _setup(repos, clock, 10, 4)
    invocation = uuid4()
    assert await _aborted(repos, clock, owner, task, invocation) is Outcome.NO_EFFECT
    late = await _hook(repos, clock, owner, task, invocation)
    assert not late.allowed
    assert await _balance(repos, clock, owner) == (10, 0)
    assert all(h.status is not HoldStatus.ACTIVE for h in repos.state.holds.values())
    # A new attempt is a new invocation: it may hold again.
    assert (await _hook(repos, clock, owner, task, uuid4())).allowed
    assert await _balance(repos, clock, owner) == (10, 4)


async def test_an_aborted_invocation_does_not_rebind_a_live_hold(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    owner, [task], _ = await _setup(repos, clock, 10, 4)
    live, dead = uuid4(), uuid4()
    await _aborted(repos, clock, owner, task, dead)
    await _hook(repos, clock, owner, task, live)
    assert not (await _hook(repos, clock, owner, task, dead)).allowed
    await _aborted(repos, clock, owner, task, dead)  # a duplicate abort, another event id
    assert await _balance(repos, clock, owner) == (10, 4)
    await _aborted(repos, clock, owner, task, live)
    assert await _balance(repos, clock, owner) == (10, 0)
