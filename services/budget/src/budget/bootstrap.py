"""Composition root: the real adapters by default; tests pass their own."""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from budget.adapters.broker import BrokerConnection
from budget.adapters.db import make_engine
from budget.adapters.repository import SqlUnitOfWork
from budget.config import Settings
from budget.entrypoints.auth import JwtVerifier
from budget.service_layer.ports import Clock, UnitOfWork


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    broker: BrokerConnection
    jwt_verifier: JwtVerifier | None
    uow: UnitOfWork
    clock: Clock = field(default=utc_now)

    async def aclose(self) -> None:
        await self.broker.close()
        await self.engine.dispose()


def bootstrap(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    broker: BrokerConnection | None = None,
    jwt_verifier: JwtVerifier | None = None,
    uow: UnitOfWork | None = None,
    clock: Clock | None = None,
) -> Container:
    key = settings.public_key_pem()
    engine = engine or make_engine(
        settings.database_url, pool_size=settings.db_pool_size, limits=settings.db_limits()
    )
    return Container(
        settings=settings,
        engine=engine,
        broker=broker or BrokerConnection(settings.amqp_url),
        jwt_verifier=jwt_verifier or (JwtVerifier(key, settings.jwt_audience) if key else None),
        uow=uow or SqlUnitOfWork(engine),
        clock=clock or utc_now,
    )
