"""The `todos.before_complete_task` answer: veto, or hold the task's cost and allow.

A call may arrive late: todos may have given up on it (its deadline passed) and aborted that
attempt. Such a call never creates or re-binds a hold. The deadline is checked on budget's
clock, so it only spares work when clocks agree; what makes a late call harmless whatever the
clocks say is the aborted invocation that the abort handler records on the same account: either
the abort is saved first (the hook loads it: no hold) or the hold is (the abort releases it);
an account's saves are serialised by its version.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from budget.domain.account import Account, HoldVerdict
from budget.service_layer.ports import Clock, Repositories
from budget.service_layer.steps import run_step


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str | None = None
    hold_id: UUID | None = None


async def before_complete_task(
    repos: Repositories,
    clock: Clock,
    hold_ttl: timedelta,
    owner_id: UUID,
    task_id: UUID,
    *,
    invocation_id: UUID | None = None,
    deadline: datetime | None = None,
) -> Decision:
    """No cost → allow; else reuse or create the hold, or veto: one load, at most one save."""

    def decide(account: Account, now: datetime) -> HoldVerdict:
        return account.hold(now, hold_ttl, invocation_id, deadline)

    step = await run_step(repos, clock, owner_id, task_id, decide, invocation_id=invocation_id)
    verdict = step.value
    assert verdict is not None  # no event, so never a duplicate
    return Decision(verdict.allowed, verdict.reason, verdict.hold_id)
