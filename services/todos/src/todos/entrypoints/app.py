"""The FastAPI app factory: `create_app()` for uvicorn, `create_app(container=...)` for tests."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from todos import tracing
from todos.bootstrap import Container, bootstrap
from todos.config import Settings
from todos.entrypoints import health, tasks_api
from todos.entrypoints.body_limit import install_body_limit
from todos.entrypoints.errors import install_error_handlers
from todos.entrypoints.observability import RequestContextMiddleware
from todos.entrypoints.openapi import install_openapi
from todos.entrypoints.problems import install_problem_handlers
from todos.logs import configure_logging
from todos.metrics import watch_breakers
from todos.settings_env import report_unknown_settings


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> FastAPI:
    from_environment = settings is None and container is None
    settings = settings or (container.settings if container else Settings())
    configure_logging(settings.log_level, json=settings.log_json)
    if from_environment:
        report_unknown_settings(structlog.get_logger("settings"))
    tracing.configure("todos-api")  # no-op unless OTEL_EXPORTER_OTLP_*ENDPOINT is set

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = container or bootstrap(settings)
        app.state.container = resources  # no broker connection: the API does not publish
        watch_breakers(getattr(resources.hooks, "breakers", {}))
        try:
            yield
        finally:
            await resources.aclose()
            tracing.shutdown()

    app = FastAPI(
        title="todos-service", version="0.1.0", lifespan=lifespan, root_path_in_servers=False
    )
    install_problem_handlers(app)
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(RequestContextMiddleware)
    install_body_limit(app, settings.max_body_bytes)  # outermost: before any body is read
    tracing.instrument_app(app)
    app.include_router(health.router)
    app.include_router(tasks_api.router)
    return app
