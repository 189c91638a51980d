"""The database engine. Made by the composition root, never at import time."""

import asyncio
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

READINESS_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class DbLimits:
    """Bounds on every database wait, so a caller gets an answer instead of a hang."""

    pool_timeout: float = 5.0  # waiting for a pooled connection
    connect_timeout: float = 3.0
    command_timeout: float = 10.0  # one statement, client side (below the gateway's 15 s)
    lock_timeout: float = 0.0  # waiting for a row lock; 0 waits as long as the statement may
    # The server ends a session left idle inside a transaction (a frozen process) and so
    # frees its row locks; our transactions never wait on anything but the database.
    idle_in_transaction_timeout: float = 5.0


def make_engine(url: str, *, pool_size: int = 10, limits: DbLimits | None = None) -> AsyncEngine:
    """An asyncpg engine; connecting is lazy, so the database may come up after us."""
    limits = limits or DbLimits()
    server_settings = {
        "idle_in_transaction_session_timeout": _ms(limits.idle_in_transaction_timeout),
        "lock_timeout": _ms(limits.lock_timeout),
    }
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        pool_timeout=limits.pool_timeout,
        connect_args={
            "timeout": limits.connect_timeout,
            "command_timeout": limits.command_timeout,
            "server_settings": server_settings,
        },
    )


def _ms(seconds: float) -> str:
    return str(round(seconds * 1000))


async def is_reachable(engine: AsyncEngine) -> bool:
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:  # any failure to answer means "not ready"
        return False
    return True
