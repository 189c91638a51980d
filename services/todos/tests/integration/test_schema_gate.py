"""Readiness waits for the migrations: an older schema keeps the API out of rotation."""

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.conftest import TEST_DATABASE_URL
from todos.schema_gate import HEAD, SchemaGate


@pytest.fixture
async def scratch() -> AsyncIterator[AsyncEngine]:
    """An engine whose search_path is a private, empty schema (alembic_version included)."""
    schema = f"gate_{uuid4().hex[:10]}"
    admin = create_async_engine(TEST_DATABASE_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_async_engine(
        TEST_DATABASE_URL, connect_args={"server_settings": {"search_path": schema}}
    )
    yield engine
    await engine.dispose()
    async with admin.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    await admin.dispose()


async def _stamp(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE IF NOT EXISTS alembic_version (version_num varchar(32) PRIMARY KEY)")
        )
        await conn.execute(text("DELETE FROM alembic_version"))
        await conn.execute(text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})


async def test_not_migrated_then_older_then_head_then_cached(scratch: AsyncEngine) -> None:
    gate = SchemaGate()
    assert not await gate.reached(scratch)  # no alembic_version yet
    await _stamp(scratch, "0002")
    assert not await gate.reached(scratch)  # the previous release's schema
    await _stamp(scratch, HEAD)
    assert await gate.reached(scratch)
    await _stamp(scratch, "0002")
    assert await gate.reached(scratch)  # cached: no query once reached


async def test_a_newer_revision_than_this_code_knows_is_ready(scratch: AsyncEngine) -> None:
    await _stamp(scratch, "9999_next_release")
    assert await SchemaGate().reached(scratch)
