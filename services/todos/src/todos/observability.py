"""Structured JSON logs and the request id they carry (no web framework here).

The HTTP middleware (`entrypoints/observability.py`) binds the request id of each request;
adapters read it with `current_request_id()` to stamp it on the events it causes
(`correlationid`).
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
    # httpx logs every request at INFO (each hook call): an access log on the hot path.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))


def current_request_id() -> str | None:
    value: object = structlog.contextvars.get_contextvars().get("request_id")
    return None if value is None else str(value)
