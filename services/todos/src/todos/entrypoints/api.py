"""`todos-api`: serve the app with uvicorn on the configured host and port."""

import uvicorn

from todos.config import Settings
from todos.settings_env import command_line


def main(argv: list[str] | None = None) -> None:
    command_line("todos-api", __doc__, argv)
    settings = Settings()
    uvicorn.run(
        "todos.entrypoints.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        access_log=False,
        loop="uvloop",  # uvicorn[standard]: the C event loop and HTTP parser, not the pure ones
        http="httptools",
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=10,
    )
