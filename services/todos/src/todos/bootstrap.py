"""Composition root: the real adapters by default; tests pass their own.

Every process (the API, the relay, the parked-events CLI) is built here. It imports no
entrypoint and no web framework.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aio_pika
from aio_pika.abc import AbstractChannel
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from todos import tracing
from todos.adapters.broker import BrokerConnection
from todos.adapters.completions import SqlCompletionStore
from todos.adapters.db import DriverPool, make_engine, tls_mode
from todos.adapters.hook_client import HttpHookGate
from todos.adapters.hook_transport import AiohttpPoster, HookPoster
from todos.adapters.publisher import AmqpPublisher
from todos.adapters.relay import OutboxRelay
from todos.adapters.unit_of_work import SqlUnitOfWork
from todos.auth import JwtVerifier
from todos.config import Settings
from todos.heartbeat import Heartbeat
from todos.logs import current_request_id
from todos.service_layer.capacity import Capacity
from todos.service_layer.ports import Clock, CompletionStore, HookGate, UnitOfWork


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    broker: BrokerConnection
    jwt_verifier: JwtVerifier | None
    hooks: HookGate
    uow: Callable[[], UnitOfWork]
    completions: CompletionStore
    capacity: Capacity
    clock: Clock = utc_now
    http_client: HookPoster | None = None
    pools: list[DriverPool] = field(default_factory=list)

    async def aclose(self) -> None:
        if self.http_client is not None:
            await self.http_client.aclose()
        await self.broker.close()
        for pool in self.pools:
            await pool.close()
        await self.engine.dispose()


def make_hook_client(max_connections: int = 100) -> AiohttpPoster:
    """The one shared hook client: a plain aiohttp session, kept alive, made on first use."""
    return AiohttpPoster(max_connections)


def bootstrap(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    broker: BrokerConnection | None = None,
    jwt_verifier: JwtVerifier | None = None,
    hooks: HookGate | None = None,
    http_client: HookPoster | None = None,
    uow: Callable[[], UnitOfWork] | None = None,
    completions: CompletionStore | None = None,
    clock: Clock | None = None,
) -> Container:
    key = settings.public_key_pem()
    limits = settings.db_limits()
    engine = engine or make_engine(
        settings.database_url, pool_size=settings.db_pool_size, limits=limits
    )
    pools: list[DriverPool] = []
    if hooks is None:
        in_flight = settings.completions_max_in_flight
        # One connection per completion in flight and hook: a call never waits for a local slot
        # unless in-flight completions outnumber the connections.
        http_client = http_client or make_hook_client(in_flight * max(len(settings.hooks), 1))
        hooks = HttpHookGate(
            http_client,
            settings.hooks,
            failure_threshold=settings.hook_breaker_failures,
            reset_timeout=settings.hook_breaker_reset_seconds,
            first_reset_timeout=settings.hook_breaker_first_reset_seconds,
            max_connections=in_flight,
        )
    bound_engine = engine
    uow = uow or (lambda: SqlUnitOfWork(bound_engine, current_request_id))
    if completions is None:
        # The completion path runs on plain asyncpg pools: one for completions, a small one of
        # its own for aborts (never starved by the completions that fill the first).
        pools = [
            DriverPool(settings.database_url, size=settings.db_pool_size, limits=limits),
            DriverPool(settings.database_url, size=settings.db_abort_pool_size, limits=limits),
        ]
        completions = SqlCompletionStore(pools[0], current_request_id, abort_pool=pools[1])
    clock = clock or utc_now
    return Container(
        settings=settings,
        engine=engine,
        broker=broker or BrokerConnection(settings.amqp_url),
        jwt_verifier=jwt_verifier or (JwtVerifier(key, settings.jwt_audience) if key else None),
        hooks=hooks,
        uow=uow,
        completions=completions,
        capacity=Capacity(settings.completions_max_in_flight),
        clock=clock,
        http_client=http_client,
        pools=pools,
    )


@dataclass
class RelayContainer:
    """The relay process: its engine, broker connection and the relay over them."""

    engine: AsyncEngine
    broker: BrokerConnection
    publisher: AmqpPublisher
    relay: OutboxRelay

    async def aclose(self) -> None:
        await self.broker.close()
        await self.engine.dispose()


def bootstrap_relay(settings: Settings, *, engine: AsyncEngine | None = None) -> RelayContainer:
    """The relay, wired: two connections are all it uses (a claim and the listener)."""
    engine = engine or make_engine(settings.database_url, pool_size=2, limits=settings.db_limits())
    broker = BrokerConnection(settings.amqp_url)
    publisher = AmqpPublisher(
        broker, settings.events_exchange, timeout=settings.relay_publish_timeout
    )
    heartbeat = Heartbeat(settings.heartbeat_file)
    relay = OutboxRelay(
        engine,
        tracing.traced_publish(publisher.publish),
        batch_size=settings.relay_batch_size,
        poll_interval=settings.relay_poll_interval,
        metrics_interval=settings.relay_metrics_interval,
        parked_depth=publisher.parked_depth,
        retention=timedelta(seconds=settings.relay_retention) if settings.relay_retention else None,
        purge_interval=settings.relay_purge_interval,
        listen_ssl=tls_mode(make_url(settings.database_url))[1],
        # The relay's own probe reads the broker's state here (todos-api's never does).
        on_iteration=lambda: heartbeat.beat(broker="ok" if broker.is_connected else "down"),
    )
    return RelayContainer(engine=engine, broker=broker, publisher=publisher, relay=relay)


@asynccontextmanager
async def parked_channel(settings: Settings) -> AsyncIterator[AbstractChannel]:
    """A confirming broker channel for the parked-events CLI (`todos-parked`)."""
    connection = await aio_pika.connect(settings.amqp_url, timeout=10)
    async with connection:
        yield await connection.channel(publisher_confirms=True, on_return_raises=True)
