"""`todos-relay`: the outbox relay process (same package and image as the API, other command)."""

import asyncio
import signal

import structlog
from prometheus_client import start_http_server

from todos import tracing
from todos.bootstrap import bootstrap_relay
from todos.config import Settings
from todos.logs import configure_logging
from todos.settings_env import command_line, report_unknown_settings

log = structlog.get_logger("relay")


async def serve(settings: Settings) -> None:
    """Run the relay until SIGTERM/SIGINT, then finish the batch in hand and close."""
    resources = bootstrap_relay(settings)
    resources.broker.start()
    relay, publisher = resources.relay, resources.publisher
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, relay.stop)
    log.info("relay_started", exchange=settings.events_exchange)
    # Declare the exchange as soon as the broker is there, not only on the first publish.
    declare = asyncio.create_task(publisher.ensure_exchange(), name="declare-exchange")
    try:
        await relay.run()
    finally:
        declare.cancel()
        await resources.aclose()
        tracing.shutdown()
        log.info("relay_stopped")


def main(argv: list[str] | None = None) -> None:
    command_line("todos-relay", __doc__, argv)
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    report_unknown_settings(log)
    tracing.configure("todos-relay")
    if settings.relay_metrics_port:
        start_http_server(settings.relay_metrics_port, addr=settings.host)
    asyncio.run(serve(settings))
