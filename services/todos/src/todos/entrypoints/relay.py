"""`todos-relay`: the outbox relay process (same package and image as the API, other command)."""

import asyncio
import signal
from datetime import timedelta

import structlog
from prometheus_client import start_http_server

from todos.adapters.broker import BrokerConnection
from todos.adapters.db import make_engine
from todos.adapters.publisher import AmqpPublisher
from todos.adapters.relay import OutboxRelay
from todos.config import Settings
from todos.entrypoints.observability import configure_logging
from todos.heartbeat import Heartbeat

log = structlog.get_logger("relay")


async def serve(settings: Settings) -> None:
    """Run the relay until SIGTERM/SIGINT, then finish the batch in hand and close."""
    engine = make_engine(settings.database_url, pool_size=2)
    broker = BrokerConnection(settings.amqp_url)
    broker.start()
    publisher = AmqpPublisher(
        broker, settings.events_exchange, timeout=settings.relay_publish_timeout
    )
    heartbeat = Heartbeat(settings.heartbeat_file)
    relay = OutboxRelay(
        engine,
        publisher.publish,
        batch_size=settings.relay_batch_size,
        poll_interval=settings.relay_poll_interval,
        metrics_interval=settings.relay_metrics_interval,
        parked_depth=publisher.parked_depth,
        retention=timedelta(seconds=settings.relay_retention) if settings.relay_retention else None,
        purge_interval=settings.relay_purge_interval,
        # The relay's own probe reads the broker's state here (todos-api's never does).
        on_iteration=lambda: heartbeat.beat(broker="ok" if broker.is_connected else "down"),
    )
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
        await broker.close()
        await engine.dispose()
        log.info("relay_stopped")


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    if settings.relay_metrics_port:
        start_http_server(settings.relay_metrics_port, addr=settings.host)
    asyncio.run(serve(settings))
