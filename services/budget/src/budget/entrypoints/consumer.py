"""`budget-consumer`: consume todos events into the ledger until SIGTERM/SIGINT."""

import asyncio
import signal
from collections.abc import Awaitable, Sequence
from typing import TypeVar

import structlog
from prometheus_client import start_http_server

from budget import tracing
from budget.adapters.broker import BrokerConnection
from budget.adapters.consumer import EventConsumer
from budget.adapters.dead_letters import watch_depth
from budget.adapters.event_failures import SqlFailureCounter
from budget.bootstrap import bootstrap
from budget.config import Settings
from budget.heartbeat import Heartbeat
from budget.logs import configure_logging
from budget.metrics import UNBACKED_DEBITS, observe_batch_lag
from budget.service_layer import events
from budget.service_layer.events import UNBACKED_OUTCOMES, Outcome
from budget.settings_env import command_line, report_unknown_settings
from contracts.envelope import ParsedEvent

log = structlog.get_logger("consumer")
UNBACKED_REASONS = {outcome: reason.value for reason, outcome in UNBACKED_OUTCOMES.items()}

T = TypeVar("T")


async def serve(settings: Settings, stop: asyncio.Event, *, max_backoff: float = 5.0) -> None:
    """Declare the topology, consume until `stop` is set, then shut down gracefully."""
    container = bootstrap(settings, role="consumer")

    async def apply(batch: Sequence[ParsedEvent]) -> list[Outcome]:
        outcomes = await events.handle_events(
            container.repos, container.clock, [(p.envelope.id, p.event) for p in batch]
        )
        for outcome in outcomes:
            if outcome in UNBACKED_REASONS:
                UNBACKED_DEBITS.labels(UNBACKED_REASONS[outcome]).inc()
        return outcomes

    consumer = EventConsumer(
        tracing.traced_apply_batch(observe_batch_lag(apply)),
        failures=SqlFailureCounter(container.engine),
        max_failures=settings.consumer_max_failures,
        max_batch=settings.consumer_batch,
        max_batches=settings.consumer_batches,
        linger=settings.consumer_linger,
        max_backoff=max_backoff,
    )
    dlq_depth: asyncio.Task[None] | None = None
    beating = asyncio.create_task(_beat(Heartbeat(settings.heartbeat_file), container.broker))
    try:
        connection = await _until(stop, container.broker.ready())
        if connection is None:
            return
        # A robust channel re-declares the queue and restarts the consumer after a reconnect.
        channel = await connection.channel()
        queue = await container.topology.declare(connection, channel)
        await consumer.start(channel, queue, settings.consumer_prefetch)
        dlq_depth = asyncio.create_task(watch_depth(connection, container.topology, 5.0))
        log.info("consuming", queue=settings.queue, prefetch=settings.consumer_prefetch)
        await stop.wait()
    finally:
        if dlq_depth is not None:
            dlq_depth.cancel()
        beating.cancel()
        await consumer.stop()
        await container.aclose()
        tracing.shutdown()
        log.info("stopped")


async def _beat(heartbeat: Heartbeat, broker: BrokerConnection, every: float = 5.0) -> None:
    """The consumer's heartbeat: the event loop turns, and whether the broker is connected."""
    while True:
        heartbeat.beat(broker="ok" if broker.is_connected else "down")
        await asyncio.sleep(every)


async def _until(stop: asyncio.Event, awaitable: Awaitable[T]) -> T | None:
    """`awaitable`'s result, or None if `stop` is set first (e.g. no broker yet at SIGTERM)."""
    work = asyncio.ensure_future(awaitable)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if work.done():
        return work.result()
    work.cancel()
    return None


def main(argv: list[str] | None = None) -> None:
    command_line("budget-consumer", __doc__, argv)
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    report_unknown_settings(log)
    tracing.configure("budget-consumer")
    if settings.consumer_metrics_port:
        start_http_server(settings.consumer_metrics_port, addr=settings.host)
    asyncio.run(_main(settings))


async def _main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop)
