"""A multi-host URL (the replicated database's failover form): the hot-path pool reaches the
first host that answers, not only the last one named."""

import pytest
from sqlalchemy import URL, make_url

from budget.adapters.db import DriverPool, tls_mode
from tests.conftest import TEST_DATABASE_URL

DEAD = "127.0.0.1:1"  # nothing listens there: connecting is refused at once


def _multihost(first_live: bool) -> str:
    url = make_url(TEST_DATABASE_URL)
    live = f"{url.host or '127.0.0.1'}:{url.port or 5432}"
    hosts = [live, DEAD] if first_live else [DEAD, live]
    bare = URL.create(url.drivername, url.username, url.password, database=url.database)
    return bare.update_query_pairs([("host", h) for h in hosts]).render_as_string(
        hide_password=False
    )


@pytest.mark.parametrize("first_live", [True, False])
async def test_the_driver_pool_tries_every_host(migrated_database: str, first_live: bool) -> None:
    pool = DriverPool(_multihost(first_live), size=1)
    try:
        async with pool.connection() as conn:
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


def test_a_multihost_url_is_loopback_only_when_every_host_is() -> None:
    local = "postgresql+asyncpg://u@/d?host=127.0.0.1:5432&host=127.0.0.2:5432"
    remote = "postgresql+asyncpg://u@/d?host=127.0.0.1:5432&host=198.18.0.9:5432"
    assert tls_mode(make_url(local))[1] is False
    assert tls_mode(make_url(remote))[1] is None  # asyncpg's default (prefer) off the box
