"""What budget does with each integration event: plain handlers in one visible table.

Each handler runs inside the consumer's transaction, after the event id was recorded, so
its effect and the record commit together or not at all.
"""

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from budget.domain.model import EntryKind, HoldStatus, LedgerEntry
from budget.domain.rules import backed_after_abort, debited_balance
from budget.service_layer.ports import BudgetRepository, Clock, UnitOfWork
from contracts.events import IntegrationEvent, TaskCompleted, TaskCompletionAborted, TaskDeleted
from contracts.ids import EventId


class Outcome(StrEnum):
    APPLIED = "applied"
    NO_EFFECT = "no_effect"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


async def on_completed(repo: BudgetRepository, event: TaskCompleted, now: datetime) -> Outcome:
    """Debit the task's cost once, capturing its hold; never refused."""
    cost = await repo.get_cost(event.owner_id, event.task_id)
    if cost is None:
        return Outcome.NO_EFFECT
    balance = await repo.lock_account(cost.owner_id, cost.token_type_id)
    reference = str(event.task_id)
    if cost.charged_at is not None or await repo.has_debit(cost.owner_id, reference):
        return Outcome.NO_EFFECT
    entry = LedgerEntry(
        id=uuid4(),
        owner_id=cost.owner_id,
        token_type_id=cost.token_type_id,
        amount=-cost.amount,
        kind=EntryKind.DEBIT,
        reference_id=reference,
        reason=f"task {reference} completed",
        created_at=now,
    )
    if not await repo.add_entry(entry):
        return Outcome.NO_EFFECT
    await repo.set_balance(cost.owner_id, cost.token_type_id, debited_balance(balance, cost.amount))
    await repo.mark_charged(cost.id, now)
    hold = await repo.active_hold(cost.owner_id, cost.task_id)
    if hold is not None:
        await repo.set_hold_status(hold.id, HoldStatus.CAPTURED)
    return Outcome.APPLIED


async def on_deleted(repo: BudgetRepository, event: TaskDeleted, now: datetime) -> Outcome:
    """Release the task's hold and retire its cost, keeping the row for a late `completed`."""
    cost = await repo.get_cost(event.owner_id, event.task_id)
    if cost is not None:
        await repo.lock_account(cost.owner_id, cost.token_type_id)
    released = await _release(repo, event.owner_id, event.task_id)
    if cost is not None and cost.task_deleted_at is None:
        # A tombstone, not a DELETE: delivery is not ordered, and todos can only have completed
        # the task before deleting it, so a `completed` event handled later must still debit.
        await repo.mark_task_deleted(cost.id, now)
        return Outcome.APPLIED
    return Outcome.APPLIED if released else Outcome.NO_EFFECT


async def on_completion_aborted(
    repo: BudgetRepository, event: TaskCompletionAborted, now: datetime
) -> Outcome:
    """Release the hold once no attempt it backs may still complete; remember the attempt."""
    cost = await repo.get_cost(event.owner_id, event.task_id)
    if cost is not None:
        await repo.lock_account(cost.owner_id, cost.token_type_id)
    if event.invocation_id is not None:
        # Under the lock the hook takes too: a hook call of this attempt that runs later (its
        # caller gave up on it) sees this record and holds nothing.
        await repo.record_aborted_invocation(event.invocation_id, event.owner_id, event.task_id)
    hold = await repo.active_hold(event.owner_id, event.task_id)
    if hold is None:
        return Outcome.NO_EFFECT
    remaining = backed_after_abort(hold, event.invocation_id)
    if remaining is None:
        await repo.set_hold_status(hold.id, HoldStatus.RELEASED)
        return Outcome.APPLIED
    if remaining != hold.invocations:
        await repo.bind_hold(hold.id, remaining)
        return Outcome.APPLIED
    return Outcome.NO_EFFECT


async def _release(repo: BudgetRepository, owner_id: UUID, task_id: UUID) -> bool:
    hold = await repo.active_hold(owner_id, task_id)
    if hold is None:
        return False
    await repo.set_hold_status(hold.id, HoldStatus.RELEASED)
    return True


Handler = Callable[[BudgetRepository, IntegrationEvent, datetime], Awaitable[Outcome]]

HANDLERS: Mapping[type[IntegrationEvent], Handler] = {
    TaskCompleted: on_completed,  # type: ignore[dict-item]
    TaskDeleted: on_deleted,  # type: ignore[dict-item]
    TaskCompletionAborted: on_completion_aborted,  # type: ignore[dict-item]
}


async def handle_event(
    uow: UnitOfWork, clock: Clock, event_id: EventId, event: IntegrationEvent
) -> Outcome:
    """Record the event id and apply its effect in one transaction (idempotent by id)."""
    handler = HANDLERS.get(type(event))
    if handler is None:
        return Outcome.IGNORED
    async with uow.transaction() as repo:
        if not await repo.record_event(event_id, event.event_type):
            return Outcome.DUPLICATE
        return await handler(repo, event, clock())
