"""The use cases' failures as problem documents: the HTTP status of each, decided at the edge."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from todos.domain.model import InvalidTaskError, TaskAlreadyCompletedError
from todos.entrypoints.problems import problem_response
from todos.service_layer.errors import (
    CompletionVetoedError,
    HookUnavailableError,
    OverloadedError,
    TaskNotFoundError,
)
from todos.service_layer.pagination import InvalidCursorError


def install_error_handlers(app: FastAPI) -> None:
    """Map the use cases' failures to problem documents (one place, not per route)."""

    async def not_found(_: Request, exc: Exception) -> JSONResponse:
        return problem_response(404, TaskNotFoundError.code, "Task not found.")

    async def completed(_: Request, exc: Exception) -> JSONResponse:
        return problem_response(409, "task_completed", "The task is completed and cannot change.")

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        return problem_response(422, "validation_error", str(exc))

    async def vetoed(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CompletionVetoedError)
        detail = "Completion vetoed: " + "; ".join(exc.reasons)
        return problem_response(409, exc.code, detail, reasons=exc.reasons, vetoed_by=exc.vetoed_by)

    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HookUnavailableError)
        detail = "A before-complete hook is unavailable: " + ", ".join(exc.hooks)
        return problem_response(503, exc.code, detail, hooks=exc.hooks)

    async def overloaded(_: Request, exc: Exception) -> JSONResponse:
        detail = "Too many completions in flight; retry shortly."
        return problem_response(503, OverloadedError.code, detail, {"Retry-After": "1"})

    app.add_exception_handler(TaskNotFoundError, not_found)
    app.add_exception_handler(TaskAlreadyCompletedError, completed)
    app.add_exception_handler(InvalidTaskError, invalid)
    app.add_exception_handler(InvalidCursorError, invalid)
    app.add_exception_handler(CompletionVetoedError, vetoed)
    app.add_exception_handler(HookUnavailableError, unavailable)
    app.add_exception_handler(OverloadedError, overloaded)
