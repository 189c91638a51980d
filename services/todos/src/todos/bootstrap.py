"""Composition root: the real adapters by default; tests pass their own."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from todos.adapters.broker import BrokerConnection
from todos.adapters.db import make_engine
from todos.config import Settings
from todos.entrypoints.auth import JwtVerifier


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    broker: BrokerConnection
    jwt_verifier: JwtVerifier | None

    async def aclose(self) -> None:
        await self.broker.close()
        await self.engine.dispose()


def bootstrap(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    broker: BrokerConnection | None = None,
    jwt_verifier: JwtVerifier | None = None,
) -> Container:
    key = settings.public_key_pem()
    return Container(
        settings=settings,
        engine=engine or make_engine(settings.database_url, pool_size=settings.db_pool_size),
        broker=broker or BrokerConnection(settings.amqp_url),
        jwt_verifier=jwt_verifier or (JwtVerifier(key, settings.jwt_audience) if key else None),
    )
