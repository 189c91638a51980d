"""Routes for task costs: owner-scoped; another owner's cost is answered 404."""

from uuid import UUID

from fastapi import APIRouter, Response

from budget.entrypoints.deps import App, CurrentCaller
from budget.entrypoints.openapi import problems
from budget.entrypoints.schemas import TaskCostIn, TaskCostOut
from contracts.ids import TaskId

# Every route needs a token and the database; each adds the problems its use case answers.
router = APIRouter(
    prefix="/api/budget/task-costs", tags=["task-costs"], responses=problems(401, 503)
)


@router.post("", status_code=201, responses=problems(404, 409))
async def add_cost(body: TaskCostIn, caller: CurrentCaller, app: App) -> TaskCostOut:
    cost = await app.add_cost(caller, body.task_id, body.token_type_id, body.amount)
    return TaskCostOut.of(cost)


@router.get("")
async def list_costs(
    caller: CurrentCaller, app: App, task_id: TaskId | None = None
) -> list[TaskCostOut]:
    return [TaskCostOut.of(c) for c in await app.list_costs(caller, task_id)]


@router.delete("/{cost_id}", status_code=204, responses=problems(404, 409))
async def delete_cost(cost_id: UUID, caller: CurrentCaller, app: App) -> Response:
    await app.delete_cost(caller, cost_id)
    return Response(status_code=204)
