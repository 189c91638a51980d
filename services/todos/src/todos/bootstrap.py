"""Composition root: the real adapters by default; tests pass their own."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from httpx_aiohttp import AiohttpTransport
from sqlalchemy.ext.asyncio import AsyncEngine

from todos.adapters.broker import BrokerConnection
from todos.adapters.db import make_engine
from todos.adapters.hook_client import HttpHookGate
from todos.adapters.unit_of_work import SqlUnitOfWork
from todos.config import Settings
from todos.entrypoints.auth import JwtVerifier
from todos.entrypoints.observability import current_request_id
from todos.service_layer.ports import Clock, HookGate, UnitOfWork


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
    clock: Clock = utc_now
    http_client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self.http_client is not None:
            await self.http_client.aclose()
        await self.broker.close()
        await self.engine.dispose()


def make_hook_client(max_connections: int = 100) -> httpx.AsyncClient:
    """The one shared hook client: httpx API over aiohttp (2.5-3x the throughput of httpcore)."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.AsyncClient(transport=AiohttpTransport(limits=limits), follow_redirects=False)


def bootstrap(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    broker: BrokerConnection | None = None,
    jwt_verifier: JwtVerifier | None = None,
    hooks: HookGate | None = None,
    http_client: httpx.AsyncClient | None = None,
    uow: Callable[[], UnitOfWork] | None = None,
    clock: Clock | None = None,
) -> Container:
    key = settings.public_key_pem()
    engine = engine or make_engine(
        settings.database_url, pool_size=settings.db_pool_size, limits=settings.db_limits()
    )
    if hooks is None:
        http_client = http_client or make_hook_client()
        hooks = HttpHookGate(
            http_client,
            settings.hooks,
            failure_threshold=settings.hook_breaker_failures,
            reset_timeout=settings.hook_breaker_reset_seconds,
            first_reset_timeout=settings.hook_breaker_first_reset_seconds,
        )
    bound_engine = engine
    return Container(
        settings=settings,
        engine=engine,
        broker=broker or BrokerConnection(settings.amqp_url),
        jwt_verifier=jwt_verifier or (JwtVerifier(key, settings.jwt_audience) if key else None),
        hooks=hooks,
        uow=uow or (lambda: SqlUnitOfWork(bound_engine, current_request_id)),
        clock=clock or utc_now,
        http_client=http_client,
    )
