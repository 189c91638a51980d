"""Routes for task costs: owner-scoped; another owner's cost is answered 404."""

from uuid import UUID

from fastapi import APIRouter, Response

from budget.entrypoints.auth import CurrentCaller
from budget.entrypoints.deps import Uow
from budget.entrypoints.openapi import problems
from budget.entrypoints.schemas import TaskCostIn, TaskCostOut
from budget.service_layer import costs

# Every route needs a token and the database; each adds the problems its use case answers.
router = APIRouter(
    prefix="/api/budget/task-costs", tags=["task-costs"], responses=problems(401, 503)
)


@router.post("", status_code=201, responses=problems(404, 409))
async def add_cost(body: TaskCostIn, caller: CurrentCaller, uow: Uow) -> TaskCostOut:
    cost = await costs.add_cost(uow, caller, body.task_id, body.token_type_id, body.amount)
    return TaskCostOut.of(cost)


@router.get("")
async def list_costs(
    caller: CurrentCaller, uow: Uow, task_id: UUID | None = None
) -> list[TaskCostOut]:
    return [TaskCostOut.of(c) for c in await costs.list_costs(uow, caller, task_id)]


@router.delete("/{cost_id}", status_code=204, responses=problems(404, 409))
async def delete_cost(cost_id: UUID, caller: CurrentCaller, uow: Uow) -> Response:
    await costs.delete_cost(uow, caller, cost_id)
    return Response(status_code=204)
