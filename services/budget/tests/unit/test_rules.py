"""The ledger and hold rules, through the use cases with in-memory fakes."""

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from budget.domain.model import MAX_BALANCE, Hold, HoldStatus, TaskCost
from budget.domain.rules import (
    BalanceLimitExceededError,
    credited_balance,
    decide_hold,
    veto_reason,
)
from budget.service_layer import costs, hook, ledger
from budget.service_layer.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnprocessableError,
)
from budget.service_layer.events import Outcome, handle_event
from contracts.events import TaskCompleted, TaskDeleted
from contracts.identity import ADMIN_ROLE, Caller
from contracts.ids import EventId, OwnerId, TaskId
from tests.unit.fakes import FakeClock, FakeRepositories

TTL = timedelta(minutes=10)
ADMIN = Caller(owner_id=OwnerId(uuid4()), roles=frozenset({ADMIN_ROLE}))


def owner_caller(owner: UUID) -> Caller:
    return Caller(owner_id=OwnerId(owner), roles=frozenset())


@pytest.fixture
def repos() -> FakeRepositories:
    return FakeRepositories()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def _setup(
    repos: FakeRepositories, clock: FakeClock, credit: int, cost: int
) -> tuple[UUID, UUID, UUID]:
    owner, task = uuid4(), uuid4()
    tt = await ledger.create_token_type(repos, ADMIN, f"c{uuid4().hex[:6]}", "C")
    if credit:
        await ledger.credit(repos, clock, ADMIN, ledger.CreditRequest(owner, tt.id, credit, None))
    await costs.add_cost(repos, owner_caller(owner), task, tt.id, cost)
    return owner, task, tt.id


def completed(owner: UUID, task: UUID, clock: FakeClock) -> TaskCompleted:
    return TaskCompleted(
        task_id=TaskId(task), owner_id=OwnerId(owner), title="t", completed_at=clock()
    )


def test_the_veto_reason_is_word_for_word() -> None:
    assert veto_reason(5, "gold", 3) == "Insufficient budget: need 5 gold, have 3"


def test_a_credit_past_the_bound_is_refused() -> None:
    assert credited_balance(MAX_BALANCE - 1, 1) == MAX_BALANCE
    with pytest.raises(BalanceLimitExceededError):
        credited_balance(MAX_BALANCE, 1)


def test_decide_hold_reuses_an_active_hold_even_if_nothing_is_available() -> None:
    cost = TaskCost(uuid4(), uuid4(), uuid4(), uuid4(), 5)
    hold = Hold(uuid4(), cost.owner_id, cost.token_type_id, cost.task_id, 5, HoldStatus.ACTIVE,
                FakeClock().now)  # fmt: skip
    assert decide_hold(cost, "c", 0, hold).existing is hold
    assert not decide_hold(cost, "c", 4, None).allowed
    assert decide_hold(cost, "c", 5, None).allowed


async def test_non_admins_cannot_credit_or_create_token_types(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    caller = owner_caller(uuid4())
    with pytest.raises(ForbiddenError):
        await ledger.create_token_type(repos, caller, "x", "X")
    with pytest.raises(ForbiddenError):
        await ledger.credit(repos, clock, caller, ledger.CreditRequest(uuid4(), uuid4(), 1, None))


async def test_an_idempotent_credit_is_applied_once(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    tt = await ledger.create_token_type(repos, ADMIN, "gold", "Gold")
    request = ledger.CreditRequest(uuid4(), tt.id, 5, "r")
    first = await ledger.credit(repos, clock, ADMIN, request, "k")
    again = await ledger.credit(repos, clock, ADMIN, request, "k")
    assert again.entry == first.entry
    assert again.replayed
    assert repos.state.accounts[(request.owner_id, tt.id)] == 5
    with pytest.raises(UnprocessableError):
        await ledger.credit(repos, clock, ADMIN, ledger.CreditRequest(uuid4(), tt.id, 5, "r"), "k")


async def test_unknown_token_type_and_duplicate_cost(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    owner, task, tt = await _setup(repos, clock, 0, 3)
    with pytest.raises(NotFoundError):
        await costs.add_cost(repos, owner_caller(owner), uuid4(), uuid4(), 3)
    with pytest.raises(ConflictError):
        await costs.add_cost(repos, owner_caller(owner), task, tt, 3)


async def test_hold_then_debit_captures_and_blocks_deleting(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    owner, task, _tt = await _setup(repos, clock, 10, 6)
    assert (await hook.before_complete_task(repos, clock, TTL, owner, task)).allowed
    [bal] = await ledger.balances(repos, clock, owner_caller(owner))
    assert (bal.balance, bal.held, bal.available) == (10, 6, 4)
    outcome = await handle_event(repos, clock, EventId(uuid4()), completed(owner, task, clock))
    assert outcome is Outcome.APPLIED
    [bal] = await ledger.balances(repos, clock, owner_caller(owner))
    assert (bal.balance, bal.held) == (4, 0)
    [cost] = await costs.list_costs(repos, owner_caller(owner), task)
    with pytest.raises(ConflictError):
        await costs.delete_cost(repos, owner_caller(owner), cost.id)


async def test_the_same_event_id_and_another_id_for_the_task_do_nothing(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    owner, task, _ = await _setup(repos, clock, 10, 6)
    event_id = EventId(uuid4())
    event = completed(owner, task, clock)
    assert await handle_event(repos, clock, event_id, event) is Outcome.DEBITED_WITHOUT_HOLD
    assert await handle_event(repos, clock, event_id, event) is Outcome.DUPLICATE
    assert await handle_event(repos, clock, EventId(uuid4()), event) is Outcome.NO_EFFECT
    assert sum(e.amount for e in repos.state.entries) == 4


async def test_an_expired_hold_stops_counting_and_the_debit_may_go_negative(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    owner, task, tt = await _setup(repos, clock, 10, 8)
    other = uuid4()
    await costs.add_cost(repos, owner_caller(owner), other, tt, 8)
    assert (await hook.before_complete_task(repos, clock, TTL, owner, task)).allowed
    assert not (await hook.before_complete_task(repos, clock, TTL, owner, other)).allowed
    clock.advance(TTL)
    assert (await hook.before_complete_task(repos, clock, TTL, owner, other)).allowed
    for t in (task, other):
        await handle_event(repos, clock, EventId(uuid4()), completed(owner, t, clock))
    [bal] = await ledger.balances(repos, clock, owner_caller(owner))
    assert (bal.balance, bal.held) == (-6, 0)


async def test_deleted_retires_the_cost_and_leaves_the_hold_to_its_completion(
    repos: FakeRepositories, clock: FakeClock
) -> None:
    owner, task, _ = await _setup(repos, clock, 10, 6)
    await hook.before_complete_task(repos, clock, TTL, owner, task)
    deleted = TaskDeleted(task_id=TaskId(task), owner_id=OwnerId(owner), deleted_at=clock())
    assert await handle_event(repos, clock, EventId(uuid4()), deleted) is Outcome.APPLIED
    assert await costs.list_costs(repos, owner_caller(owner), None) == []
    [bal] = await ledger.balances(repos, clock, owner_caller(owner))
    assert bal.held == 6
    clock.advance(TTL)  # no completion or abort came: the TTL frees it
    [bal] = await ledger.balances(repos, clock, owner_caller(owner))
    assert bal.held == 0
