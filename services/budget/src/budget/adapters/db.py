"""The database engine. Made by the composition root, never at import time."""

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from budget.adapters.db_errors import breaks_connection

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
    """An asyncpg engine; connecting is lazy, so the database may come up after us.

    Exactly `pool_size` connections, no overflow: connections are kept, so their prepared
    statements are too (asyncpg caches them per connection), and a burst waits for one (at most
    `pool_timeout`) instead of opening and closing sessions. On a loopback host without an
    explicit `ssl`/`sslmode`, no TLS negotiation is attempted (asyncpg would try it first).
    """
    limits = limits or DbLimits()
    server_settings = {
        "idle_in_transaction_session_timeout": _ms(limits.idle_in_transaction_timeout),
        "lock_timeout": _ms(limits.lock_timeout),
    }
    connect_args: dict[str, Any] = {
        "timeout": limits.connect_timeout,
        "command_timeout": limits.command_timeout,
        "server_settings": server_settings,
    }
    if is_plain_loopback(url):
        connect_args["ssl"] = False
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_recycle=1800,
        pool_timeout=limits.pool_timeout,
        connect_args=connect_args,
    )


def is_plain_loopback(url: str) -> bool:
    """Every host the DSN names is a loopback one (or none: the local socket), and it asks
    nothing about TLS."""
    parsed = make_url(url)
    if {"ssl", "sslmode"} & set(parsed.query):
        return False
    return all(_is_loopback(host or "localhost") for host in hosts(parsed))


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.startswith("/"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: whatever it resolves to, TLS stays asyncpg's choice
        return False


def hosts(url: URL) -> list[str | None]:
    """Every host a URL names: `?host=a:5432&host=b:5432` (SQLAlchemy's multi-host form,
    tried in order: the replicated database's failover) or its one host."""
    named = url.query.get("host", ())
    named = (named,) if isinstance(named, str) else named
    return [h.rsplit(":", 1)[0] if h.count(":") == 1 else h for h in named] or [url.host]


def driver_dsn(url: URL) -> str:
    """The DSN asyncpg's own `create_pool` takes, every host of a multi-host URL kept.

    asyncpg reads one `host=` query argument (the last): several go into its host list
    (`postgresql://user@a:5432,b:5432/db`), so the first that answers (and suits
    `target_session_attrs`) is used, as SQLAlchemy's engine does.
    """
    plain = url.set(drivername="postgresql")
    named = url.query.get("host", ())
    if isinstance(named, str) or len(named) < 2:
        return plain.render_as_string(hide_password=False)
    rendered = plain.difference_update_query(["host"]).render_as_string(hide_password=False)
    scheme, _, rest = rendered.partition("://")
    netloc, _, path = rest.partition("/")  # no host: netloc is `user:password@` or empty
    netloc = netloc if netloc.endswith("@") or not netloc else netloc + "@"
    return f"{scheme}://{netloc}{','.join(named)}/{path}"


def _ms(seconds: float) -> str:
    return str(round(seconds * 1000))


async def is_reachable(engine: AsyncEngine) -> bool:
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:  # any failure to answer means "not ready"
        return False
    return True


class DriverPool:
    """asyncpg's own pool, for the hot paths (the `Account` repository) that speak asyncpg.

    A checkout through SQLAlchemy's async pool costs greenlet switches and a reset on return;
    this one costs neither: `reset` is a no-op (our steps leave no transaction, no session
    state), and connections are kept (`size` of them, made lazily, so the database may come up
    after us) with their prepared statements. A connection that broke is dropped on release.
    """

    def __init__(self, url: str, *, size: int = 10, limits: DbLimits | None = None) -> None:
        limits = limits or DbLimits()
        self._dsn = driver_dsn(make_url(url))
        self._size = size
        self._limits = limits
        self._ssl: bool | None = False if is_plain_loopback(url) else None
        self._pool: asyncpg.Pool | None = None
        self._creating = asyncio.Lock()

    async def _get(self) -> "asyncpg.Pool":
        if self._pool is None:
            async with self._creating:
                if self._pool is None:
                    limits = self._limits
                    extra: dict[str, Any] = {} if self._ssl is None else {"ssl": self._ssl}
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=0,
                        max_size=self._size,
                        timeout=limits.connect_timeout,
                        command_timeout=limits.command_timeout,
                        server_settings={
                            "idle_in_transaction_session_timeout": _ms(
                                limits.idle_in_transaction_timeout
                            ),
                            "lock_timeout": _ms(limits.lock_timeout),
                        },
                        max_inactive_connection_lifetime=1800,
                        reset=_keep_session,
                        **extra,
                    )
        return self._pool

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        """One connection for a step; waits at most `pool_timeout` for one."""
        pool = await self._get()
        async with pool.acquire(timeout=self._limits.pool_timeout) as conn:
            try:
                yield conn
            except Exception as exc:
                if breaks_connection(exc):
                    conn.terminate()  # never handed out again (asyncpg does not check on acquire)
                raise

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


async def _keep_session(conn: Any) -> None:
    """Nothing to reset: a step opens no transaction and sets nothing on its session."""
