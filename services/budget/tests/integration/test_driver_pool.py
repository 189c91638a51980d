"""The account steps' driver pool drops a connection it cannot use, never hands it out again."""

import asyncpg  # type: ignore[import-untyped]
import pytest

from budget.adapters.db import DriverPool
from budget.adapters.db_errors import is_transient_db_error
from tests.conftest import TEST_DATABASE_URL


async def test_a_connection_left_in_a_broken_state_is_dropped_not_handed_out_again(
    migrated_database: str,
) -> None:
    # postgres-restart fault case: the server's FATAL at shutdown reached an idle pooled
    # connection, the next statement on it raised asyncpg's InternalClientError ("cannot switch
    # to state 12; another operation (2) is in progress"), and the API answered 500.
    pool = DriverPool(TEST_DATABASE_URL, size=1)
    try:
        async with pool.connection() as conn:
            first = await conn.fetchval("SELECT pg_backend_pid()")
        with pytest.raises(asyncpg.exceptions.InternalClientError):
            async with pool.connection() as conn:
                raise asyncpg.exceptions.InternalClientError("cannot switch to state 12")
        async with pool.connection() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") != first
    finally:
        await pool.close()


async def test_a_pooled_connection_the_server_terminated_fails_as_an_outage_then_recovers(
    migrated_database: str,
) -> None:
    pool = DriverPool(TEST_DATABASE_URL, size=1)
    killer = await asyncpg.connect(TEST_DATABASE_URL.replace("+asyncpg", ""))
    try:
        async with pool.connection() as conn:
            pid = await conn.fetchval("SELECT pg_backend_pid()")
        assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
        failure: Exception | None = None
        try:  # depending on timing the driver has seen the close already, or not yet
            async with pool.connection() as conn:
                await conn.fetchval("SELECT 1")
        except Exception as exc:
            failure = exc
        assert failure is None or is_transient_db_error(failure), repr(failure)
        async with pool.connection() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") != pid
    finally:
        await killer.close()
        await pool.close()


async def test_a_statement_that_timed_out_keeps_its_connection(migrated_database: str) -> None:
    # asyncpg cancels it; dropping the connection would only add a reconnect under load
    pool = DriverPool(TEST_DATABASE_URL, size=1)
    try:
        async with pool.connection() as conn:
            first = await conn.fetchval("SELECT pg_backend_pid()")
        with pytest.raises(TimeoutError):
            async with pool.connection() as conn:
                await conn.fetchval("SELECT pg_sleep(2)", timeout=0.1)
        async with pool.connection() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") == first
    finally:
        await pool.close()
