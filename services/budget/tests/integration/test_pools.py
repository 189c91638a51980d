"""Pools: kept connections of a fixed size, and no TLS negotiation on a loopback DSN."""

import pytest
from sqlalchemy import make_url, text

from budget.adapters.db import DriverPool, make_engine, tls_mode
from tests.conftest import TEST_DATABASE_URL


@pytest.mark.parametrize(
    ("url", "plain"),
    [
        ("postgresql+asyncpg://u@127.0.0.1:5432/d", True),
        ("postgresql+asyncpg://u@localhost/d", True),
        ("postgresql+asyncpg://u@[::1]:5432/d", True),
        ("postgresql+asyncpg://u@127.0.0.1/d?ssl=require", False),
        ("postgresql+asyncpg://u@127.0.0.1/d?sslmode=verify-full", False),
        ("postgresql+asyncpg://u@db.internal:5432/d", False),
        ("postgresql+asyncpg://u@10.0.0.5/d", False),
    ],
)
def test_tls_is_skipped_only_on_a_plain_loopback_dsn(url: str, plain: bool) -> None:
    assert (tls_mode(make_url(url))[1] is False) is plain


async def test_the_engine_does_not_overflow_and_connects_without_tls(
    migrated_database: str,
) -> None:
    engine = make_engine(TEST_DATABASE_URL, pool_size=3)
    try:
        assert engine.pool.size() == 3  # type: ignore[attr-defined]
        assert engine.pool._max_overflow == 0  # type: ignore[attr-defined]
        async with engine.connect() as conn:
            ssl = await conn.scalar(
                text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            )
        assert ssl is False
    finally:
        await engine.dispose()


async def test_the_driver_pool_keeps_its_connections_and_their_statements(
    migrated_database: str,
) -> None:
    pool = DriverPool(TEST_DATABASE_URL, size=2)
    try:
        pids = set()
        for _ in range(6):
            async with pool.connection() as conn:
                pids.add(await conn.fetchval("SELECT pg_backend_pid()"))
                assert (
                    await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                    is False
                )
        assert len(pids) == 1  # one kept connection served every step, one at a time
        async with pool.connection() as conn:  # the statement prepared before is reused
            assert any(
                "pg_backend_pid" in s
                for s in await conn.fetchval(
                    "SELECT array_agg(statement) FROM pg_prepared_statements"
                )
            )
    finally:
        await pool.close()
