"""The ledger and hold rules: what a credit may do, and when a hook vetoes or holds."""

from dataclasses import dataclass
from uuid import UUID

from budget.domain.model import MAX_BALANCE, Hold, TaskCost


class BudgetError(Exception):
    """Base of the rule violations the service layer maps to problems."""


class BalanceLimitExceededError(BudgetError):
    """A credit would push the balance beyond MAX_BALANCE."""


@dataclass(frozen=True, slots=True)
class HoldDecision:
    """Allow (reusing `existing` or creating a hold of `amount`) or veto with `reason`."""

    allowed: bool
    reason: str | None = None
    existing: Hold | None = None


def credited_balance(balance: int, amount: int) -> int:
    """The balance after a credit, refusing one that would pass the safe bound."""
    new_balance = balance + amount
    if new_balance > MAX_BALANCE:
        raise BalanceLimitExceededError(
            f"Crediting {amount} would bring the balance to {new_balance}, "
            f"above the limit of {MAX_BALANCE}."
        )
    return new_balance


def debited_balance(balance: int, amount: int) -> int:
    """The balance after a debit; never refused, so it may go negative."""
    return balance - amount


def veto_reason(amount: int, code: str, available: int) -> str:
    """The veto text of the hook contract, word for word (docs/architecture.md#the-hook)."""
    return f"Insufficient budget: need {amount} {code}, have {available}"


def decide_hold(cost: TaskCost, code: str, available: int, active: Hold | None) -> HoldDecision:
    """Reuse the task's active hold (a retried hook), hold the cost if affordable, else veto."""
    if active is not None:
        return HoldDecision(allowed=True, existing=active)
    if available < cost.amount:
        return HoldDecision(allowed=False, reason=veto_reason(cost.amount, code, available))
    return HoldDecision(allowed=True)


def backed_after_abort(hold: Hold, invocation_id: UUID | None) -> frozenset[UUID] | None:
    """The attempts the hold still backs once `invocation_id` was aborted; None: release it."""
    if not hold.invocations:
        # Unbound (created before holds knew their attempts): any abort releases it, as before.
        return None
    if invocation_id is None or invocation_id not in hold.invocations:
        # Not provably this hold's attempt. Releasing could free funds that a successful retry
        # relies on (double spend); keeping it only ties them up until BUDGET_HOLD_TTL.
        return hold.invocations
    return (hold.invocations - {invocation_id}) or None
