"""What budget does with each integration event: plain handlers in one visible table.

Each handler is a pure step on the task's `Account`; the event id is recorded by the same
statement that saves the step, so its effect and the record commit together or not at all.
"""

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum

from budget.domain.account import Account, Unbacked
from budget.service_layer.ports import Clock, LoadKey, Repositories, SaveItem, SaveResult
from budget.service_layer.steps import EventRecord, run_step
from contracts.events import IntegrationEvent, TaskCompleted, TaskCompletionAborted, TaskDeleted
from contracts.ids import EventId


class Outcome(StrEnum):
    APPLIED = "applied"
    NO_EFFECT = "no_effect"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    # Applied, but the debit had no live hold behind it: the balance may have gone below zero.
    DEBITED_AFTER_HOLD_EXPIRED = "debited_after_hold_expired"
    DEBITED_WITHOUT_HOLD = "debited_without_hold"


UNBACKED_OUTCOMES = {
    Unbacked.HOLD_EXPIRED: Outcome.DEBITED_AFTER_HOLD_EXPIRED,
    Unbacked.NO_HOLD: Outcome.DEBITED_WITHOUT_HOLD,
}


def _outcome(account: Account, effect: bool) -> Outcome:
    if not effect:
        return Outcome.NO_EFFECT
    return UNBACKED_OUTCOMES[account.unbacked] if account.unbacked else Outcome.APPLIED


def on_completed(account: Account, event: TaskCompleted, now: datetime) -> bool:
    """Debit the task's cost once, capturing its hold; never refused."""
    return account.capture(now)


def on_deleted(account: Account, event: TaskDeleted, now: datetime) -> bool:
    """Retire the task's cost, keeping the row for a late `completed`; the hold stays."""
    return account.delete_task(now)


def on_completion_aborted(account: Account, event: TaskCompletionAborted, now: datetime) -> bool:
    """Remember the attempt; release the hold once no attempt it backs may still complete."""
    return account.abort(event.invocation_id)


Handler = Callable[[Account, IntegrationEvent, datetime], bool]

HANDLERS: Mapping[type[IntegrationEvent], Handler] = {
    TaskCompleted: on_completed,  # type: ignore[dict-item]
    TaskDeleted: on_deleted,  # type: ignore[dict-item]
    TaskCompletionAborted: on_completion_aborted,  # type: ignore[dict-item]
}


async def handle_event(
    repos: Repositories, clock: Clock, event_id: EventId, event: IntegrationEvent
) -> Outcome:
    """Apply the event's effect and record its id in one statement (idempotent by id)."""
    handler = HANDLERS.get(type(event))
    if handler is None:
        return Outcome.IGNORED
    owner_id = getattr(event, "owner_id")  # noqa: B009 - every handled event names its task
    task_id = getattr(event, "task_id")  # noqa: B009

    def decide(account: Account, now: datetime) -> Outcome:
        return _outcome(account, handler(account, event, now))

    step = await run_step(
        repos,
        clock,
        owner_id,
        task_id,
        decide,
        invocation_id=getattr(event, "invocation_id", None),
        event=EventRecord(event_id, event.event_type),
    )
    if step.duplicate or step.value is None:
        return Outcome.DUPLICATE
    return step.value


async def handle_events(
    repos: Repositories, clock: Clock, events: Sequence[tuple[EventId, IntegrationEvent]]
) -> list[Outcome]:
    """Apply a batch of events, in order: one query loads every account, each handler decides
    on its own, one statement saves every step (with its event id) in order.

    A step whose account changed since the load (a concurrent hook, or an earlier event of the
    batch on the same account) saved nothing and is run again on its own afterwards, in order;
    so is nothing else. An id seen twice in the batch is applied once. Raises (nothing of the
    failed statement applied) when the database fails; a redelivery of the whole batch is then
    harmless, each event id being recorded with its effect.
    """
    outcomes: list[Outcome | None] = [None] * len(events)
    todo: list[int] = []
    ids: set[EventId] = set()
    for i, (event_id, event) in enumerate(events):
        if type(event) not in HANDLERS:
            outcomes[i] = Outcome.IGNORED
        elif event_id in ids:
            outcomes[i] = Outcome.DUPLICATE
        else:
            ids.add(event_id)
            todo.append(i)
    again: list[int] = []
    if todo:
        async with repos.accounts.open() as accounts:
            now = clock()
            loaded = await accounts.load_many([_key(*events[i]) for i in todo], now)
            items: list[SaveItem] = []
            decided: list[tuple[int, Outcome]] = []
            for i, (account, seen) in zip(todo, loaded, strict=True):
                if seen:
                    outcomes[i] = Outcome.DUPLICATE
                    continue
                event_id, event = events[i]
                effect = HANDLERS[type(event)](account, event, now)
                decided.append((i, _outcome(account, effect)))
                items.append(SaveItem(account, event_id, event.event_type))
            saved = await accounts.save_many(items)
        for (i, outcome), result in zip(decided, saved, strict=True):
            if result is SaveResult.SAVED:
                outcomes[i] = outcome
            elif result is SaveResult.DUPLICATE:
                outcomes[i] = Outcome.DUPLICATE
            else:
                again.append(i)
    for i in again:
        outcomes[i] = await handle_event(repos, clock, *events[i])
    return [o for o in outcomes if o is not None]


def _key(event_id: EventId, event: IntegrationEvent) -> LoadKey:
    return LoadKey(
        owner_id=getattr(event, "owner_id"),  # noqa: B009 - every handled event names its task
        task_id=getattr(event, "task_id"),  # noqa: B009
        invocation_id=getattr(event, "invocation_id", None),
        event_id=event_id,
    )
