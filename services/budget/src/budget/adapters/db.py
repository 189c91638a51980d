"""The database engine. Made by the composition root, never at import time."""

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import URL, make_url, text
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

    A fixed pool (no overflow): connections are kept, so their prepared statements are reused,
    and a burst waits for a connection (at most `pool_timeout`) instead of opening and closing
    sessions. No TLS attempt on a loopback address unless the URL asks for it.
    """
    limits = limits or DbLimits()
    server_settings = {
        "idle_in_transaction_session_timeout": _ms(limits.idle_in_transaction_timeout),
        "lock_timeout": _ms(limits.lock_timeout),
    }
    parsed, ssl = tls_mode(make_url(url))
    connect_args: dict[str, Any] = {
        "timeout": limits.connect_timeout,
        "command_timeout": limits.command_timeout,
        "server_settings": server_settings,
    }
    if ssl is not None:
        connect_args["ssl"] = ssl
    return create_async_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=0,
        pool_recycle=1800,
        pool_timeout=limits.pool_timeout,
        connect_args=connect_args,
    )


_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def tls_mode(url: URL) -> tuple[URL, str | bool | None]:
    """The URL asyncpg can take and its `ssl` argument (None: asyncpg's default, `prefer`).

    An explicit `sslmode` in the URL is honoured (asyncpg takes it as `ssl`); an explicit `ssl`
    stays in the URL; otherwise a loopback host gets `ssl=False`: no TLS negotiation per
    connection where there is nobody to eavesdrop.
    """
    if "sslmode" in url.query:
        mode = url.query["sslmode"]
        return url.difference_update_query(["sslmode"]), mode if isinstance(mode, str) else mode[0]
    if "ssl" in url.query:
        return url, None
    return url, False if all(is_loopback(h) for h in hosts(url)) else None


def hosts(url: URL) -> list[str | None]:
    """Every host a URL names: `?host=a:5432&host=b:5432` (SQLAlchemy's multi-host form,
    tried in order: the replicated database's failover) or its one host."""
    named = url.query.get("host", ())
    named = (named,) if isinstance(named, str) else named
    return [h.rsplit(":", 1)[0] if h.count(":") == 1 else h for h in named] or [url.host]


def driver_dsn(url: URL) -> str:
    """The DSN asyncpg's own `connect`/`create_pool` take, every host of a multi-host URL kept.

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


def is_loopback(host: str | None) -> bool:
    """A loopback address or name, or no host (a Unix socket)."""
    if not host or host.startswith("/") or host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    """A plain asyncpg pool for the hot paths (no SQLAlchemy checkout per statement).

    Made by the composition root, opened on first use (nothing connects before), fixed size,
    the same bounds and TLS rule as `make_engine`; asyncpg keeps each connection's prepared
    statements, so a statement is parsed once per connection.
    """

    def __init__(
        self,
        url: str,
        *,
        size: int,
        limits: DbLimits | None = None,
        setup: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
    ) -> None:
        self._limits = limits or DbLimits()
        self._setup = setup  # asyncpg's hook on every acquire (tests count round trips with it)
        parsed, ssl = tls_mode(make_url(url))
        self._dsn = driver_dsn(parsed)
        self._ssl = ssl
        self._size = size
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; waits at most `pool_timeout` for one (then `TimeoutError`)."""
        pool = self._pool or await self._open()
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

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                limits = self._limits
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=0,  # connect on demand: the database may come up after us
                    max_size=self._size,
                    setup=self._setup,
                    reset=_keep_session,
                    ssl=self._ssl,
                    timeout=limits.connect_timeout,
                    command_timeout=limits.command_timeout,
                    server_settings={
                        "idle_in_transaction_session_timeout": _ms(
                            limits.idle_in_transaction_timeout
                        ),
                        "lock_timeout": _ms(limits.lock_timeout),
                    },
                    max_inactive_connection_lifetime=1800,  # as the engine's `pool_recycle`
                )
            return self._pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    """No reset round trip on release (asyncpg's default sends `SELECT pg_advisory_unlock_all();
    CLOSE ALL; UNLISTEN *; RESET ALL`): the hot path takes no advisory lock, LISTENs to nothing
    and sets nothing, so a released connection has no session state to clear. (asyncpg still
    rolls back a transaction left open, before calling this.)"""
