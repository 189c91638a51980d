"""RFC 9457 problem+json for every error: our own, the framework's, and the unexpected."""

from http import HTTPStatus
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from budget.adapters.db_errors import is_transient_db_error, sqlstate
from budget.auth import UnauthenticatedError
from contracts.problems import PROBLEM_CONTENT_TYPE, Problem

log = structlog.get_logger(__name__)


class ProblemError(Exception):
    """Raise to answer with a problem document; `extra` adds named fields (e.g. `reasons`)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.headers, self.extra = headers, extra


def problem_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    problem = Problem(
        title=HTTPStatus(status).phrase, status=status, detail=detail, code=code, **extra
    )
    return JSONResponse(
        problem.model_dump(mode="json"),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _on_problem)  # type: ignore[arg-type]
    app.add_exception_handler(UnauthenticatedError, _on_unauthenticated)
    app.add_exception_handler(StarletteHTTPException, _on_http)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    # asyncpg's own errors reach here from the hot paths, which use the driver connection.
    for outage in (
        SQLAlchemyError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.exceptions.InternalClientError,  # a pooled connection the server shut down
        OSError,
        TimeoutError,
    ):
        app.add_exception_handler(outage, _on_database_error)
    app.add_exception_handler(Exception, _on_unexpected)


async def _on_problem(_: Request, exc: ProblemError) -> JSONResponse:
    return problem_response(exc.status, exc.code, exc.detail, exc.headers, **exc.extra)


async def _on_unauthenticated(_: Request, exc: Exception) -> JSONResponse:
    challenge = {"WWW-Authenticate": 'Bearer realm="todos-budget"'}
    return problem_response(401, "unauthorized", str(exc), challenge)


async def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    phrase = HTTPStatus(exc.status_code).phrase
    code = phrase.lower().replace(" ", "_").replace("-", "_")
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else phrase + "."
    headers = dict(exc.headers or {})
    if exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        headers["Allow"] = _allowed_methods(request)
    return problem_response(exc.status_code, code, detail, headers or None)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette's 405 names only one route's)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]
    return ", ".join(allowed)


async def _on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"loc": [str(part) for part in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"]) or "request"
    detail = f"{where}: {first['msg']}"
    return problem_response(422, "validation_error", detail, errors=errors[:20])


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    """The database is down, restarting or busy: 503 to retry, one warning line, no traceback."""
    if not is_transient_db_error(exc):
        return await _on_unexpected(request, exc)
    log.warning(
        "database_unavailable", error=f"{type(exc).__name__}: {exc}"[:300], sqlstate=sqlstate(exc)
    )
    return problem_response(
        503,
        "unavailable",
        "The database is unavailable for the moment; retry shortly.",
        {"Retry-After": "1"},
    )


async def _on_unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", error_type=type(exc).__name__)
    return problem_response(500, "internal_error", "An unexpected error occurred.")
