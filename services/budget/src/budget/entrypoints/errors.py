"""The use cases' failures as problem documents: the HTTP status of each, decided at the edge."""

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from budget.entrypoints.problems import problem_response
from budget.service_layer.errors import (
    AccountBusyError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnprocessableError,
    UseCaseError,
)

log = structlog.get_logger(__name__)

STATUS_OF: dict[type[UseCaseError], int] = {
    ForbiddenError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    UnprocessableError: 422,
    AccountBusyError: 503,
}


def install_error_handlers(app: FastAPI) -> None:
    """Map the use cases' failures to problem documents (one place, not per route)."""
    app.add_exception_handler(UseCaseError, _on_use_case)  # type: ignore[arg-type]
    app.add_exception_handler(AccountBusyError, _on_busy)


async def _on_use_case(_: Request, exc: UseCaseError) -> JSONResponse:
    status = next((s for t, s in STATUS_OF.items() if isinstance(exc, t)), 400)
    return problem_response(status, exc.code, exc.detail)


async def _on_busy(_: Request, exc: Exception) -> JSONResponse:
    """An account changed under every attempt: like a lock timeout, retry shortly."""
    assert isinstance(exc, AccountBusyError)
    log.warning("account_busy", error=str(exc)[:300])
    return problem_response(STATUS_OF[AccountBusyError], exc.code, exc.detail, {"Retry-After": "1"})
