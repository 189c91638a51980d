"""The tasks API: thin routes that parse, call one use case, and map its outcome."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from contracts.ids import TaskId
from todos.domain.model import TaskStatus
from todos.entrypoints.deps import CurrentCaller, Resources
from todos.entrypoints.openapi import problems
from todos.entrypoints.schemas import TaskCreate, TaskOut, TaskPage, TaskPatch
from todos.service_layer import tasks
from todos.service_layer.pagination import CURSOR_PATTERN

# Every route needs a token and the database; each adds the problems its use case answers.
router = APIRouter(prefix="/api/todos/tasks", tags=["tasks"], responses=problems(401, 503))


@router.post("", status_code=201)
async def create_task(body: TaskCreate, caller: CurrentCaller, resources: Resources) -> TaskOut:
    task = await tasks.create_task(
        resources.uow, resources.clock, caller.owner_id, body.title, body.description
    )
    return TaskOut.of(task)


@router.get("")
async def list_tasks(
    caller: CurrentCaller,
    resources: Resources,
    status: Literal["open", "completed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512, pattern=CURSOR_PATTERN)] = None,
) -> TaskPage:
    page = await tasks.list_tasks(
        resources.uow,
        caller.owner_id,
        status=TaskStatus(status) if status else None,
        limit=limit,
        cursor=cursor,
    )
    return TaskPage(items=[TaskOut.of(t) for t in page.items], next_cursor=page.next_cursor)


@router.get("/{task_id}", responses=problems(404))
async def get_task(task_id: TaskId, caller: CurrentCaller, resources: Resources) -> TaskOut:
    return TaskOut.of(await tasks.get_task(resources.uow, caller.owner_id, task_id))


@router.patch("/{task_id}", responses=problems(404, 409))
async def edit_task(
    task_id: TaskId, body: TaskPatch, caller: CurrentCaller, resources: Resources
) -> TaskOut:
    task = await tasks.edit_task(
        resources.uow,
        resources.clock,
        caller.owner_id,
        task_id,
        title=body.title,
        description=body.description,
        clear_description="description" in body.model_fields_set and body.description is None,
    )
    return TaskOut.of(task)


@router.delete("/{task_id}", status_code=204, responses=problems(404))
async def delete_task(task_id: TaskId, caller: CurrentCaller, resources: Resources) -> Response:
    await tasks.delete_task(resources.uow, resources.clock, caller.owner_id, task_id)
    return Response(status_code=204)


@router.post("/{task_id}/complete", responses=problems(404, 409))
async def complete_task(task_id: TaskId, caller: CurrentCaller, resources: Resources) -> TaskOut:
    return TaskOut.of(
        await tasks.complete_task(
            resources.completions,
            resources.clock,
            resources.hooks,
            caller.owner_id,
            task_id,
            capacity=resources.capacity,
        )
    )
