"""Composition root: the real adapters by default; tests pass their own.

Every process is built here: the API (`role="api"`: its row-lock waits bounded by
BUDGET_DB_LOCK_TIMEOUT), the consumer (`role="consumer"`: it may wait its turn on a row) and the
DLQ CLI (broker only). Imports no entrypoint and no web framework.

Pools: the `Account` steps (hook, consumer, cost removal) run on asyncpg's own pool of
BUDGET_DB_POOL_SIZE connections; the other use cases on SQLAlchemy's, half that size (at least 2).
Neither overflows: a burst waits up to BUDGET_DB_POOL_TIMEOUT for a kept connection.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncEngine

from budget.adapters.broker import BrokerConnection
from budget.adapters.db import DriverPool, make_engine
from budget.adapters.hook_deliveries import HookDeliveries
from budget.adapters.repository import SqlRepositories
from budget.adapters.topology import Topology
from budget.auth import JwtVerifier
from budget.config import Settings
from budget.service_layer.ports import Clock, Repositories

Role = Literal["api", "consumer", "cli"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def topology_of(settings: Settings) -> Topology:
    """The consumer's exchange, queue and dead-letter queue, as configured."""
    return Topology(settings.events_exchange, settings.queue, settings.queue_delivery_limit)


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    broker: BrokerConnection
    jwt_verifier: JwtVerifier | None
    repos: Repositories
    hot: DriverPool
    clock: Clock = field(default=utc_now)

    @property
    def topology(self) -> Topology:
        return topology_of(self.settings)

    @cached_property
    def hook_deliveries(self) -> HookDeliveries:
        """The hook deliveries seen lately, shared by every API replica (in the database)."""
        return HookDeliveries(self.engine, self.hot)

    async def aclose(self) -> None:
        await self.broker.close()
        await self.hot.close()
        await self.engine.dispose()


def bootstrap(
    settings: Settings,
    *,
    role: Role = "api",
    engine: AsyncEngine | None = None,
    broker: BrokerConnection | None = None,
    jwt_verifier: JwtVerifier | None = None,
    repos: Repositories | None = None,
    clock: Clock | None = None,
) -> Container:
    key = settings.public_key_pem()
    # Only the API bounds its row-lock waits; the consumer may wait its turn on an account row
    # (its command timeout still bounds it, and a frozen peer's locks go with its
    # idle-in-transaction limit).
    limits = settings.db_limits(lock_timeout=role == "api")
    hot = DriverPool(settings.database_url, size=settings.db_pool_size, limits=limits)
    engine = engine or make_engine(
        settings.database_url, pool_size=max(2, settings.db_pool_size // 2), limits=limits
    )
    return Container(
        settings=settings,
        engine=engine,
        broker=broker or BrokerConnection(settings.amqp_url),
        jwt_verifier=jwt_verifier or (JwtVerifier(key, settings.jwt_audience) if key else None),
        repos=repos or SqlRepositories(engine, hot),
        hot=hot,
        clock=clock or utc_now,
    )
