"""Structured JSON logs for every budget process, and the request id bound to them.

The HTTP middleware (`entrypoints/observability.py`) binds the request id of each request;
the service layer and adapters read it with `current_request_id()` (to stamp it on what they
write), without importing any entrypoint.
"""

import logging
import sys

import structlog


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """JSON lines on stdout, with contextvars (request id) merged into every event."""
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stdout, format="%(name)s %(message)s")
    # httpx logs every request at INFO: an access log on a hot path.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))


def current_request_id() -> str | None:
    value: object = structlog.contextvars.get_contextvars().get("request_id")
    return None if value is None else str(value)
