"""The `todos.before_complete_task` answer: veto, or hold the task's cost and allow."""

from dataclasses import dataclass
from datetime import timedelta
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
    uow: UnitOfWork, clock: Clock, hold_ttl: timedelta, owner_id: UUID, task_id: UUID
) -> Decision:
    """No cost → allow; else, under the account lock, reuse or create the hold, or veto."""
    async with uow.transaction() as repo:
        cost = await repo.get_cost(owner_id, task_id)
        if cost is None or cost.charged_at is not None:
            # Nothing to pay (or already paid): completing costs nothing more.
            return Decision(allowed=True)
        token_type = await repo.get_token_type(cost.token_type_id)
        code = token_type.code if token_type else str(cost.token_type_id)
        balance = await repo.lock_account(owner_id, cost.token_type_id)
        now = clock()
        await repo.expire_holds(owner_id, cost.token_type_id, now)
        held = await repo.held(owner_id, cost.token_type_id, now)
        active = await repo.active_hold(owner_id, task_id)
        verdict = decide_hold(cost, code, balance - held, active)
        if not verdict.allowed:
            return Decision(allowed=False, reason=verdict.reason)
        if verdict.existing is not None:
            return Decision(allowed=True, hold_id=verdict.existing.id)
        hold = Hold(
            id=uuid4(),
            owner_id=owner_id,
            token_type_id=cost.token_type_id,
            task_id=task_id,
            amount=cost.amount,
            status=HoldStatus.ACTIVE,
            expires_at=now + hold_ttl,
        )
        await repo.add_hold(hold)
        return Decision(allowed=True, hold_id=hold.id)
