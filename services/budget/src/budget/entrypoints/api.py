"""`budget-api`: serve the app with uvicorn on the configured host and port."""

import uvicorn

from budget.config import Settings
from budget.settings_env import command_line


def main(argv: list[str] | None = None) -> None:
    command_line("budget-api", __doc__, argv)
    settings = Settings()
    uvicorn.run(
        "budget.entrypoints.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=10,
    )
