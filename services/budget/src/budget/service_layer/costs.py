"""Task costs: what completing a task will cost its owner. Owner-scoped throughout."""

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID, uuid4

from budget.domain.account import Account
from budget.domain.model import TaskCost
from budget.service_layer.errors import ConflictError, NotFoundError
from budget.service_layer.ports import Clock, Repositories
from budget.service_layer.steps import run_step
from contracts.identity import Caller
from contracts.ids import TaskId, TokenTypeId


async def add_cost(
    repos: Repositories, caller: Caller, task_id: TaskId, token_type_id: TokenTypeId, amount: int
) -> TaskCost:
    """Set the cost of one of the caller's tasks; one cost per (owner, task)."""
    cost = TaskCost(
        id=uuid4(),
        owner_id=caller.owner_id,
        task_id=task_id,
        token_type_id=token_type_id,
        amount=amount,
    )
    if await repos.token_types.get(token_type_id) is None:  # token types are never removed
        raise NotFoundError(f"Token type {token_type_id} does not exist.")
    if not await repos.costs.add(cost):
        existing = await repos.costs.get(caller.owner_id, task_id)
        if existing is not None and not existing.visible:
            raise ConflictError(f"Task {task_id} was deleted.", code="task_deleted")
        raise ConflictError(f"Task {task_id} already has a cost.", code="cost_exists")
    return cost


async def list_costs(
    repos: Repositories, caller: Caller, task_id: UUID | None
) -> Sequence[TaskCost]:
    """The caller's costs, optionally for one task."""
    return await repos.costs.list(caller.owner_id, task_id)


async def delete_cost(
    repos: Repositories, caller: Caller, cost_id: UUID, *, clock: Clock | None = None
) -> None:
    """Remove an uncharged cost that no live hold backs; another owner's cost is not found."""
    cost = await repos.costs.get_by_id(caller.owner_id, cost_id)
    if cost is None or not cost.visible:
        raise NotFoundError(f"Task cost {cost_id} does not exist.")

    def remove(account: Account, now: datetime) -> None:
        # Decided on the account as saved: the consumer may be charging this very cost.
        current = account.cost
        if current is None or current.id != cost_id or not current.visible:
            raise NotFoundError(f"Task cost {cost_id} does not exist.")
        if current.charged_at is not None:
            raise ConflictError(
                "The task was completed and its cost charged.", code="already_charged"
            )
        if (hold := account.held_for_completion(now)) is not None:
            # Freeing a hold whose completion is in flight would let another task spend it.
            raise ConflictError(
                f"A completion of task {current.task_id} holds {hold.amount} until "
                f"{hold.expires_at.isoformat()}; remove the cost once it is settled.",
                code="cost_held",
            )
        account.remove_cost()

    await run_step(repos, clock or _utc_now, caller.owner_id, cost.task_id, remove)


def _utc_now() -> datetime:
    return datetime.now(UTC)
