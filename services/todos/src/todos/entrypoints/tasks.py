"""The tasks API: thin routes that parse, call one use case, and map its outcome."""

from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse

from contracts.ids import TaskId
from todos.domain.model import InvalidTaskError, TaskAlreadyCompletedError, TaskStatus
from todos.entrypoints.deps import CurrentCaller, Tasks
from todos.entrypoints.openapi import problems
from todos.entrypoints.problems import problem_response
from todos.entrypoints.schemas import TaskCreate, TaskOut, TaskPage, TaskPatch
from todos.service_layer.errors import (
    CompletionVetoedError,
    HookUnavailableError,
    OverloadedError,
    TaskNotFoundError,
)
from todos.service_layer.pagination import CURSOR_PATTERN, InvalidCursorError

# Every route needs a token and the database; each adds the problems its use case answers.
router = APIRouter(prefix="/api/todos/tasks", tags=["tasks"], responses=problems(401, 503))


@router.post("", status_code=201)
async def create_task(body: TaskCreate, caller: CurrentCaller, tasks: Tasks) -> TaskOut:
    task = await tasks.create(caller.owner_id, title=body.title, description=body.description)
    return TaskOut.of(task)


@router.get("")
async def list_tasks(
    caller: CurrentCaller,
    tasks: Tasks,
    status: Literal["open", "completed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512, pattern=CURSOR_PATTERN)] = None,
) -> TaskPage:
    page = await tasks.list(
        caller.owner_id,
        status=TaskStatus(status) if status else None,
        limit=limit,
        cursor=cursor,
    )
    return TaskPage(items=[TaskOut.of(t) for t in page.items], next_cursor=page.next_cursor)


@router.get("/{task_id}", responses=problems(404))
async def get_task(task_id: TaskId, caller: CurrentCaller, tasks: Tasks) -> TaskOut:
    return TaskOut.of(await tasks.get(caller.owner_id, task_id))


@router.patch("/{task_id}", responses=problems(404, 409))
async def edit_task(
    task_id: TaskId, body: TaskPatch, caller: CurrentCaller, tasks: Tasks
) -> TaskOut:
    task = await tasks.edit(
        caller.owner_id,
        task_id,
        title=body.title,
        description=body.description,
        clear_description="description" in body.model_fields_set and body.description is None,
    )
    return TaskOut.of(task)


@router.delete("/{task_id}", status_code=204, responses=problems(404))
async def delete_task(task_id: TaskId, caller: CurrentCaller, tasks: Tasks) -> Response:
    await tasks.delete(caller.owner_id, task_id)
    return Response(status_code=204)


@router.post("/{task_id}/complete", responses=problems(404, 409))
async def complete_task(task_id: TaskId, caller: CurrentCaller, tasks: Tasks) -> TaskOut:
    return TaskOut.of(await tasks.complete(caller.owner_id, task_id))


def install_task_errors(app: FastAPI) -> None:
    """Map the use cases' outcomes to problem documents (one place, not per route)."""

    async def not_found(_: Request, exc: Exception) -> JSONResponse:
        return problem_response(404, "not_found", "Task not found.")

    async def completed(_: Request, exc: Exception) -> JSONResponse:
        return problem_response(409, "task_completed", "The task is completed and cannot change.")

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        return problem_response(422, "validation_error", str(exc))

    async def vetoed(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CompletionVetoedError)
        detail = "Completion vetoed: " + "; ".join(exc.reasons)
        return problem_response(409, "vetoed", detail, reasons=exc.reasons, vetoed_by=exc.vetoed_by)

    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HookUnavailableError)
        detail = "A before-complete hook is unavailable: " + ", ".join(exc.hooks)
        return problem_response(503, "hook_unavailable", detail, hooks=exc.hooks)

    async def overloaded(_: Request, exc: Exception) -> JSONResponse:
        detail = "Too many completions in flight; retry shortly."
        return problem_response(503, "overloaded", detail, {"Retry-After": "1"})

    app.add_exception_handler(TaskNotFoundError, not_found)
    app.add_exception_handler(TaskAlreadyCompletedError, completed)
    app.add_exception_handler(InvalidTaskError, invalid)
    app.add_exception_handler(InvalidCursorError, invalid)
    app.add_exception_handler(CompletionVetoedError, vetoed)
    app.add_exception_handler(HookUnavailableError, unavailable)
    app.add_exception_handler(OverloadedError, overloaded)
