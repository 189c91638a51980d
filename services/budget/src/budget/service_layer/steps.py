"""One step on an `Account`: load, decide in the domain, save; again if the account changed."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from budget.domain.account import Account
from budget.service_layer.errors import AccountBusyError
from budget.service_layer.ports import Clock, Repositories, SaveResult

T = TypeVar("T")

# A step loses only to a step on the same account that saved in between; this many losses in
# a row means a storm on one account: the caller answers "retry" (503, or a redelivery).
MAX_ATTEMPTS = 25


@dataclass(frozen=True, slots=True)
class EventRecord:
    """Record this event id with the step, forever; a seen id makes the step a no-op."""

    event_id: UUID
    event_type: str


@dataclass(frozen=True, slots=True)
class StepResult(Generic[T]):
    value: T | None
    duplicate: bool = False


async def run_step(
    repos: Repositories,
    clock: Clock,
    owner_id: UUID,
    task_id: UUID,
    decide: Callable[[Account, datetime], T],
    *,
    invocation_id: UUID | None = None,
    event: EventRecord | None = None,
) -> StepResult[T]:
    """`decide` on the freshly loaded account at `now`, then save it: one query, one statement."""
    event_id = event.event_id if event else None
    # One connection for every attempt: deciding is pure, so it is held only for the queries.
    async with repos.accounts.open() as accounts:
        for _ in range(MAX_ATTEMPTS):
            now = clock()
            account, seen = await accounts.load(
                owner_id, task_id, now, invocation_id=invocation_id, event_id=event_id
            )
            if seen:
                return StepResult(None, duplicate=True)
            value = decide(account, now)
            if not account.changed and event is None:
                return StepResult(value)
            saved = await accounts.save(
                account, event_id=event_id, event_type=event.event_type if event else None
            )
            if saved is SaveResult.SAVED:
                return StepResult(value)
            if saved is SaveResult.DUPLICATE:
                return StepResult(None, duplicate=True)
    raise AccountBusyError(f"Account of owner {owner_id} kept changing; retry.")
