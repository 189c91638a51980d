"""`todos-api`: serve the app with uvicorn on the configured host and port."""

import uvicorn

from todos.config import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(
        "todos.entrypoints.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=10,
    )
