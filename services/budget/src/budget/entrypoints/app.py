"""The FastAPI app factory: `create_app()` for uvicorn, `create_app(container=...)` for tests."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import structlog
from fastapi import FastAPI

from budget import tracing
from budget.bootstrap import Container, bootstrap
from budget.config import Settings
from budget.entrypoints import costs_api, health, hook_api, ledger_api
from budget.entrypoints.body_limit import install_body_limit
from budget.entrypoints.errors import install_error_handlers
from budget.entrypoints.observability import RequestContextMiddleware
from budget.entrypoints.openapi import install_openapi
from budget.entrypoints.problems import install_problem_handlers
from budget.logs import configure_logging
from budget.settings_env import report_unknown_settings


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> FastAPI:
    from_environment = settings is None and container is None
    settings = settings or (container.settings if container else Settings())
    configure_logging(settings.log_level, json=settings.log_json)
    if from_environment:
        report_unknown_settings(structlog.get_logger("settings"))
    tracing.configure("budget-api")  # no-op unless OTEL_EXPORTER_OTLP_*ENDPOINT is set

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = container or bootstrap(settings)
        app.state.container = resources  # no broker connection: the API does not publish
        purging = asyncio.create_task(_purge_hook_deliveries(resources))
        try:
            yield
        finally:
            purging.cancel()
            await asyncio.gather(purging, return_exceptions=True)
            await resources.aclose()
            tracing.shutdown()

    app = FastAPI(
        title="budget-service", version="0.1.0", lifespan=lifespan, root_path_in_servers=False
    )
    install_problem_handlers(app)
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(RequestContextMiddleware)
    install_body_limit(app, settings.max_body_bytes)  # outermost: before any body is read
    tracing.instrument_app(app)
    app.include_router(hook_api.router)  # first: the hot path matches after one route
    app.include_router(health.router)
    app.include_router(ledger_api.router)
    app.include_router(costs_api.router)
    return app


PURGE_INTERVAL_SECONDS = 30.0
log = structlog.get_logger(__name__)


async def _purge_hook_deliveries(resources: Container) -> None:
    """Forget expired hook deliveries now and then (every replica does; any one would do)."""
    while True:
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)
        try:
            await resources.hook_deliveries.purge(datetime.now(UTC))
        except Exception as exc:  # the database may be away: try again next time
            log.warning("hook_deliveries_purge_failed", error=f"{type(exc).__name__}: {exc}"[:300])
