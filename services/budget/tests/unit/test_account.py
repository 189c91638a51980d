"""The `Account` aggregate alone: no repository, no clock, no I/O."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from budget.domain.account import ABORTED_REASON, Account
from budget.domain.model import MAX_BALANCE, EntryKind, Hold, HoldStatus, TaskCost
from budget.domain.rules import BalanceLimitExceededError

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TTL = timedelta(minutes=10)


def account(
    balance: int = 10,
    cost: int | None = 3,
    *,
    hold: Hold | None = None,
    held_by_others: int = 0,
    aborted: bool = False,
    debited: bool = False,
    deleted: bool = False,
    charged: bool = False,
) -> Account:
    owner, task, tt = uuid4(), uuid4(), uuid4()
    task_cost = None
    if cost is not None:
        task_cost = TaskCost(
            uuid4(),
            owner,
            task,
            tt,
            cost,
            charged_at=NOW if charged else None,
            task_deleted_at=NOW if deleted else None,
        )
    if hold is not None:
        hold = replace(hold, owner_id=owner, task_id=task, token_type_id=tt)
    return Account(
        owner_id=owner,
        task_id=task,
        token_type_id=tt,
        code="gold",
        opening_balance=balance,
        version=1,
        cost=task_cost,
        task_hold=hold,
        held_by_others=held_by_others,
        debited=debited,
        invocation_aborted=aborted,
    )


def a_hold(amount: int = 3, *, invocations: frozenset[UUID] = frozenset(), ttl: float = 60) -> Hold:
    return Hold(
        uuid4(),
        uuid4(),
        uuid4(),
        uuid4(),
        amount,
        HoldStatus.ACTIVE,
        NOW + timedelta(seconds=ttl),
        invocations,
    )


def test_hold_takes_the_cost_and_counts_it_as_held() -> None:
    acc = account(balance=10, cost=3)
    invocation = uuid4()
    verdict = acc.hold(NOW, TTL, invocation)
    assert verdict.allowed
    assert acc.new_hold is not None
    assert verdict.hold_id == acc.new_hold.id
    assert acc.new_hold.invocations == {invocation}
    assert acc.new_hold.expires_at == NOW + TTL
    assert acc.held(NOW) == 3
    assert acc.available(NOW) == 7
    assert acc.held(NOW + TTL) == 0  # expiry needs no sweeper


def test_hold_vetoes_what_the_others_hold_leaves_unaffordable() -> None:
    acc = account(balance=10, cost=3, held_by_others=8)
    verdict = acc.hold(NOW, TTL)
    assert not verdict.allowed
    assert verdict.reason == "Insufficient budget: need 3 gold, have 2"
    assert not acc.changed


def test_a_retry_reuses_the_hold_and_binds_its_attempt() -> None:
    first = uuid4()
    acc = account(balance=0, hold=a_hold(invocations=frozenset({first})))
    second = uuid4()
    verdict = acc.hold(NOW, TTL, second)
    assert verdict.allowed
    assert acc.task_hold is not None
    assert verdict.hold_id == acc.task_hold.id
    assert acc.changed_hold is not None
    assert acc.changed_hold.invocations == {first, second}
    assert acc.new_hold is None


def test_an_expired_hold_of_the_task_is_replaced_not_reused() -> None:
    acc = account(balance=10, hold=a_hold(ttl=-1))
    verdict = acc.hold(NOW, TTL)
    assert verdict.allowed
    assert acc.changed_hold is not None
    assert acc.changed_hold.status is HoldStatus.EXPIRED
    assert acc.new_hold is not None
    assert verdict.hold_id == acc.new_hold.id
    assert acc.expire_until == NOW


@pytest.mark.parametrize("kwargs", [{"cost": None}, {"charged": True}, {"deleted": True}], ids=str)
def test_nothing_to_pay_allows_without_holding(kwargs: dict[str, object]) -> None:
    acc = account(balance=0, **kwargs)  # type: ignore[arg-type]
    verdict = acc.hold(NOW, TTL, uuid4())
    assert verdict.allowed
    assert verdict.hold_id is None
    assert not acc.changed


def test_an_aborted_attempt_or_a_passed_deadline_never_holds() -> None:
    aborted = account(aborted=True)
    verdict = aborted.hold(NOW, TTL, uuid4())
    assert not verdict.allowed
    assert verdict.reason == ABORTED_REASON
    late = account()
    verdict = late.hold(NOW, TTL, uuid4(), deadline=NOW)
    assert not verdict.allowed
    assert "Deadline" in (verdict.reason or "")
    assert not aborted.changed
    assert not late.changed


def test_capture_debits_once_and_captures_the_hold() -> None:
    acc = account(balance=2, cost=3, hold=a_hold())
    assert acc.capture(NOW)
    assert acc.balance == -1  # never refused: the balance may go negative
    [entry] = acc.entries
    assert entry.kind is EntryKind.DEBIT
    assert entry.amount == -3
    assert entry.reference_id == str(acc.task_id)
    assert acc.changed_cost is not None
    assert acc.changed_cost.charged_at == NOW
    assert acc.changed_hold is not None
    assert acc.changed_hold.status is HoldStatus.CAPTURED
    assert acc.held(NOW) == 0
    assert not acc.capture(NOW)  # at most one debit per (owner, task)
    assert len(acc.entries) == 1


def test_a_deleted_tasks_cost_is_still_debited_once() -> None:
    acc = account(deleted=True)
    assert acc.capture(NOW)
    assert acc.balance == 7
    assert not account(debited=True).capture(NOW)
    assert not account(charged=True).capture(NOW)
    assert not account(cost=None).capture(NOW)


def test_delete_keeps_the_hold_and_tombstones_then_a_late_completion_debits() -> None:
    acc = account(hold=a_hold())
    assert acc.delete_task(NOW)
    assert acc.changed_hold is None  # the completion it backs may still be on its way
    assert acc.current_hold is not None
    assert acc.changed_cost is not None
    assert acc.changed_cost.task_deleted_at == NOW
    assert acc.capture(NOW)
    assert acc.balance == 7


def test_an_abort_releases_only_when_no_backed_attempt_is_left() -> None:
    one, two = uuid4(), uuid4()
    acc = account(hold=a_hold(invocations=frozenset({one, two})))
    assert acc.abort(one)
    assert acc.aborted_invocation == one
    assert acc.current_hold is not None
    assert acc.current_hold.invocations == {two}
    assert acc.abort(two)
    assert acc.current_hold is None
    assert acc.changed_hold is not None
    assert acc.changed_hold.status is HoldStatus.RELEASED


def test_an_abort_of_an_unknown_attempt_keeps_the_hold_but_is_remembered() -> None:
    acc = account(hold=a_hold(invocations=frozenset({uuid4()})))
    stranger = uuid4()
    assert not acc.abort(stranger)
    assert acc.current_hold is not None
    assert acc.aborted_invocation == stranger
    assert acc.invocation_aborted
    assert not acc.hold(NOW, TTL, stranger).allowed  # that attempt never holds again


def test_an_abort_without_an_id_releases_only_an_unbound_hold() -> None:
    unbound = account(hold=a_hold())
    assert unbound.abort(None)
    assert unbound.current_hold is None
    bound = account(hold=a_hold(invocations=frozenset({uuid4()})))
    assert not bound.abort(None)
    assert bound.current_hold is not None
    assert not bound.changed


def test_credit_refuses_past_the_bound() -> None:
    acc = account(balance=MAX_BALANCE - 1)
    acc.credit(1, "top up", NOW)
    assert acc.balance == MAX_BALANCE
    with pytest.raises(BalanceLimitExceededError):
        acc.credit(1, None, NOW)
    assert len(acc.entries) == 1


def test_remove_cost_releases_its_hold() -> None:
    acc = account(hold=a_hold())
    acc.remove_cost()
    assert acc.cost_removed
    assert acc.current_hold is None
    assert acc.payable_cost() is None
    assert not acc.capture(NOW)


operation = st.sampled_from(["hold", "capture", "abort", "delete", "release", "credit"])


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 20),
    st.integers(1, 10),
    st.integers(0, 10),
    st.lists(st.tuples(operation, st.integers(0, 900)), max_size=12),
)
def test_invariants_hold_after_any_sequence(
    balance: int, cost: int, others: int, steps: list[tuple[str, int]]
) -> None:
    """balance = opening + Σ entries; held = Σ active unexpired holds; ≤ 1 debit; no hold
    for an aborted attempt."""
    acc = account(balance=balance, cost=cost, held_by_others=others)
    invocation = uuid4()
    for op, seconds in steps:
        now = NOW + timedelta(seconds=seconds)
        if op == "hold":
            acc.hold(now, TTL, invocation)
        elif op == "capture":
            acc.capture(now)
        elif op == "abort":
            acc.abort(invocation)
        elif op == "delete":
            acc.delete_task(now)
        elif op == "release":
            acc.release()
        else:
            acc.credit(seconds + 1, None, now)
        assert acc.balance == balance + sum(e.amount for e in acc.entries)
        own = [h for h in (acc.changed_hold or acc.task_hold, acc.new_hold) if h is not None]
        assert acc.held(now) == others + sum(h.amount for h in own if h.counts_at(now))
        assert sum(1 for h in own if h.status is HoldStatus.ACTIVE) <= 1  # one per task
        assert sum(1 for e in acc.entries if e.kind is EntryKind.DEBIT) <= 1
        if acc.invocation_aborted:
            assert acc.current_hold is None or invocation not in acc.current_hold.invocations
