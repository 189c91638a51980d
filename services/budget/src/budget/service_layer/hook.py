"""The `todos.before_complete_task` answer: veto, or hold the task's cost and allow.

A call may arrive late: todos may have given up on it (its deadline passed) and aborted that
attempt. Such a call never creates or re-binds a hold. The deadline is checked on budget's
clock, so it only spares work when clocks agree; what makes a late call harmless whatever the
clocks say is the aborted invocation that the abort handler records under the same account lock:
either the abort comes first (remembered, so no hold) or the hold does (the abort releases it).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from budget.domain.model import Hold, HoldStatus
from budget.domain.rules import decide_hold
from budget.service_layer.ports import Clock, UnitOfWork


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str | None = None
    hold_id: UUID | None = None


async def before_complete_task(
    uow: UnitOfWork,
    clock: Clock,
    hold_ttl: timedelta,
    owner_id: UUID,
    task_id: UUID,
    *,
    invocation_id: UUID | None = None,
    deadline: datetime | None = None,
) -> Decision:
    """No cost → allow; else, under the account lock, reuse or create the hold, or veto."""
    async with uow.transaction() as repo:
        cost = await repo.get_cost(owner_id, task_id)
        if cost is None or cost.charged_at is not None or cost.task_deleted_at is not None:
            # Nothing to pay, already paid, or the task is gone (its completion cannot succeed).
            return Decision(allowed=True)
        token_type = await repo.get_token_type(cost.token_type_id)
        code = token_type.code if token_type else str(cost.token_type_id)
        balance = await repo.lock_account(owner_id, cost.token_type_id)
        # Read again under the lock: a debit or a deletion may have committed meanwhile, and a
        # hold made for either would only tie funds up until it expires.
        cost = await repo.get_cost(owner_id, task_id)
        if cost is None or cost.charged_at is not None or cost.task_deleted_at is not None:
            return Decision(allowed=True)
        now = clock()
        if invocation_id is not None and await repo.is_aborted_invocation(invocation_id):
            return Decision(
                allowed=False,
                reason="This completion attempt was already aborted by the caller; nothing held.",
            )
        if deadline is not None and now >= deadline:
            return Decision(
                allowed=False,
                reason=(
                    f"Deadline {deadline.isoformat()} passed: the caller stopped waiting; "
                    "nothing held."
                ),
            )
        await repo.expire_holds(owner_id, cost.token_type_id, now)
        held = await repo.held(owner_id, cost.token_type_id, now)
        active = await repo.active_hold(owner_id, task_id)
        verdict = decide_hold(cost, code, balance - held, active)
        if not verdict.allowed:
            return Decision(allowed=False, reason=verdict.reason)
        if verdict.existing is not None:
            existing = verdict.existing
            if invocation_id is not None and invocation_id not in existing.invocations:
                # A retry reuses the hold, which now backs this attempt too.
                await repo.bind_hold(existing.id, existing.invocations | {invocation_id})
            return Decision(allowed=True, hold_id=existing.id)
        hold = Hold(
            id=uuid4(),
            owner_id=owner_id,
            token_type_id=cost.token_type_id,
            task_id=task_id,
            amount=cost.amount,
            status=HoldStatus.ACTIVE,
            expires_at=now + hold_ttl,
            invocations=frozenset({invocation_id}) if invocation_id else frozenset(),
        )
        await repo.add_hold(hold)
        return Decision(allowed=True, hold_id=hold.id)
