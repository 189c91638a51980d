"""The FastAPI app factory: `create_app()` for uvicorn, `create_app(container=...)` for tests."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from todos.bootstrap import Container, bootstrap
from todos.config import Settings
from todos.entrypoints import health, tasks
from todos.entrypoints.observability import RequestContextMiddleware
from todos.entrypoints.openapi import install_openapi
from todos.entrypoints.problems import install_problem_handlers
from todos.observability import configure_logging


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> FastAPI:
    settings = settings or (container.settings if container else Settings())
    configure_logging(settings.log_level, json=settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = container or bootstrap(settings)
        app.state.container = resources  # no broker connection: the API does not publish
        try:
            yield
        finally:
            await resources.aclose()

    app = FastAPI(
        title="todos-service", version="0.1.0", lifespan=lifespan, root_path_in_servers=False
    )
    install_problem_handlers(app)
    install_openapi(app)
    tasks.install_task_errors(app)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health.router)
    app.include_router(tasks.router)
    return app
