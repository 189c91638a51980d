"""The inline peer's own database: tasks, outbox, accounts, costs and holds; seeded in bulk."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg  # type: ignore[import-untyped]

SCHEMA = """
DROP TABLE IF EXISTS tasks, outbox, accounts, task_costs, holds;
CREATE TABLE tasks (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL,
    title text NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE TABLE outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    event_type text NOT NULL,
    envelope jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE accounts (
    owner_id uuid PRIMARY KEY,
    balance bigint NOT NULL,
    held bigint NOT NULL DEFAULT 0
);
CREATE TABLE task_costs (
    task_id uuid PRIMARY KEY,
    owner_id uuid NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0)
);
CREATE TABLE holds (
    task_id uuid PRIMARY KEY,
    owner_id uuid NOT NULL,
    amount bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""


def plain_dsn(url: str) -> str:
    """asyncpg wants `postgresql://`, SQLAlchemy-style URLs say `postgresql+asyncpg://`."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def seed(
    dsn: str, tasks: Sequence[tuple[uuid.UUID, uuid.UUID, int]], credits: dict[uuid.UUID, int]
) -> None:
    """Fresh tables holding `tasks` (id, owner, cost), all open, and the owners' credits."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SCHEMA)
        await conn.copy_records_to_table(
            "tasks",
            records=[(t, o, "bench task", "open") for t, o, _ in tasks],
            columns=["id", "owner_id", "title", "status"],
        )
        await conn.copy_records_to_table(
            "task_costs", records=list(tasks), columns=["task_id", "owner_id", "amount"]
        )
        await conn.copy_records_to_table(
            "accounts", records=list(credits.items()), columns=["owner_id", "balance"]
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def counts(dsn: str) -> dict[str, int]:
    """Completed tasks, outbox rows and holds: the peer's work, to cross-check its 200s."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM tasks WHERE status = 'completed') AS completed,"
            " (SELECT count(*) FROM outbox) AS outbox, (SELECT count(*) FROM holds) AS holds"
        )
        assert row is not None
        return dict(row)
    finally:
        await conn.close()


async def backend_pids(conn: asyncpg.Connection, databases: Sequence[str]) -> list[int]:
    """Server processes currently connected to `databases` (their CPU is the work's, too)."""
    rows = await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[])", list(databases)
    )
    return [int(r["pid"]) for r in rows]
