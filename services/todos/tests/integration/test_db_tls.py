"""No TLS negotiation on a loopback DSN; an explicit `sslmode` in the URL is honoured."""

from typing import Any

import pytest
from sqlalchemy import event, make_url, text

from todos.adapters.db import is_loopback, make_engine, tls_mode


@pytest.mark.parametrize(
    ("url", "ssl"),
    [
        ("postgresql+asyncpg://u@127.0.0.1:5432/d", False),
        ("postgresql+asyncpg://u@localhost/d", False),
        ("postgresql+asyncpg://u@[::1]:5432/d", False),
        ("postgresql+asyncpg://u@db.internal:5432/d", None),  # asyncpg's default: prefer
        ("postgresql+asyncpg://u@10.0.0.5/d", None),
        ("postgresql+asyncpg://u@127.0.0.1/d?sslmode=require", "require"),
        ("postgresql+asyncpg://u@db.internal/d?sslmode=disable", "disable"),
    ],
)
def test_tls_mode(url: str, ssl: object) -> None:
    parsed, mode = tls_mode(make_url(url))
    assert mode == ssl
    assert "sslmode" not in parsed.query  # asyncpg takes it as `ssl`, not as a keyword


def test_an_explicit_ssl_argument_stays_in_the_url() -> None:
    parsed, mode = tls_mode(make_url("postgresql+asyncpg://u@127.0.0.1/d?ssl=require"))
    assert mode is None
    assert parsed.query["ssl"] == "require"


def test_loopback_names() -> None:
    assert is_loopback("127.0.0.2")
    assert is_loopback(None)
    assert is_loopback("/var/run/postgresql")
    assert not is_loopback("192.168.1.10")
    assert not is_loopback("example.org")


async def _connect_args(url: str) -> dict[str, Any]:
    engine = make_engine(url, pool_size=1)
    seen: dict[str, Any] = {}

    @event.listens_for(engine.sync_engine, "do_connect")
    def _capture(dialect: object, record: object, cargs: object, cparams: dict[str, Any]) -> None:
        seen.update(cparams)

    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()
    return seen


async def test_the_real_loopback_connection_is_made_without_tls(migrated_database: str) -> None:
    assert make_url(migrated_database).host in ("127.0.0.1", "localhost", "::1")
    assert (await _connect_args(migrated_database))["ssl"] is False


async def test_an_explicit_sslmode_reaches_the_driver(migrated_database: str) -> None:
    args = await _connect_args(f"{migrated_database}?sslmode=disable")
    assert args["ssl"] == "disable"
    assert "sslmode" not in args


def test_the_pool_never_overflows() -> None:
    engine = make_engine("postgresql+asyncpg://u@127.0.0.1/d", pool_size=3)
    assert engine.pool.size() == 3  # type: ignore[attr-defined]
    assert engine.pool._max_overflow == 0  # type: ignore[attr-defined]
