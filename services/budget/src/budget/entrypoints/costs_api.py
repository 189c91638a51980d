"""Routes for task costs: owner-scoped; another owner's cost is answered 404."""

from uuid import UUID

from fastapi import APIRouter, Response

from budget.entrypoints.deps import CurrentCaller, Resources
from budget.entrypoints.openapi import problems
from budget.entrypoints.schemas import TaskCostIn, TaskCostOut
from budget.service_layer import costs
from contracts.ids import TaskId

# Every route needs a token and the database; each adds the problems its use case answers.
router = APIRouter(
    prefix="/api/budget/task-costs", tags=["task-costs"], responses=problems(401, 503)
)


@router.post("", status_code=201, responses=problems(404, 409))
async def add_cost(body: TaskCostIn, caller: CurrentCaller, resources: Resources) -> TaskCostOut:
    cost = await costs.add_cost(
        resources.repos, caller, body.task_id, body.token_type_id, body.amount
    )
    return TaskCostOut.of(cost)


@router.get("")
async def list_costs(
    caller: CurrentCaller, resources: Resources, task_id: TaskId | None = None
) -> list[TaskCostOut]:
    return [TaskCostOut.of(c) for c in await costs.list_costs(resources.repos, caller, task_id)]


@router.delete("/{cost_id}", status_code=204, responses=problems(404, 409))
async def delete_cost(cost_id: UUID, caller: CurrentCaller, resources: Resources) -> Response:
    await costs.delete_cost(resources.repos, caller, cost_id, clock=resources.clock)
    return Response(status_code=204)
