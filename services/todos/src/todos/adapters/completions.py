"""The completion path's storage: plain asyncpg on its own pool, one statement per call.

`load` is one owner-scoped SELECT; `complete` is one data-modifying CTE: the conditional UPDATE
(still open, still this owner's), the attempt's claim and the outbox INSERT (only if the UPDATE
matched) and `pg_notify` (only if the row was inserted). A single statement outside an explicit
transaction is its own transaction: no BEGIN/COMMIT round trips, no transaction open across an
await on anything but the database, and a completer that loses the race writes nothing.

An attempt has one outcome, and the database decides it: the completion and the abort both
insert the attempt's row in `completion_attempts` (its invocation id is the key). An abort
that finds the row claimed writes nothing: the completion committed, even if its answer never
reached us (a reset connection, a client-side timeout). A completion that finds the row
claimed by an abort fails as a whole (unique violation): the abort was recorded first.
Statements are prepared once per pooled connection (asyncpg's statement cache).
"""

import json
from collections.abc import Callable
from typing import Any

from contracts.events import IntegrationEvent, TaskCompleted, TaskCompletionAborted
from contracts.ids import InvocationId, OwnerId, TaskId
from todos.adapters.db import DriverPool
from todos.adapters.outbox import NOTIFY_CHANNEL, OUTBOX_INSERT_COLUMNS, outbox_row
from todos.domain.model import Task, TaskStatus

LOAD = """
SELECT id, owner_id, title, description, status, created_at, updated_at, completed_at
FROM tasks WHERE id = $1 AND owner_id = $2
"""

_COLUMNS = ", ".join(OUTBOX_INSERT_COLUMNS)


def _params(first: int) -> str:
    """`$n::type, ...` for the outbox columns, numbered from `first` (types stated: an
    INSERT ... SELECT does not infer them)."""
    return ", ".join(
        f"${first + i}::{sql_type}" for i, sql_type in enumerate(OUTBOX_INSERT_COLUMNS.values())
    )


# Only module constants are interpolated into the SQL; every value is a bound parameter.
COMPLETE = f"""
WITH done AS (
    UPDATE tasks SET status = 'completed', completed_at = $3, updated_at = $3
    WHERE id = $1 AND owner_id = $2 AND status = 'open'
    RETURNING id
), claim AS (
    INSERT INTO completion_attempts (invocation_id, task_id, outcome, decided_at)
    SELECT $4, id, 'completed', $3 FROM done
), event AS (
    INSERT INTO outbox ({_COLUMNS})
    SELECT {_params(5)} FROM done
    RETURNING id
), wake AS (
    SELECT pg_notify('{NOTIFY_CHANNEL}', '') FROM event
)
SELECT (SELECT count(*) FROM done) AS completed, (SELECT count(*) FROM wake) AS woken
"""  # noqa: S608

RECORD_ABORT = f"""
WITH claim AS (
    INSERT INTO completion_attempts (invocation_id, task_id, outcome)
    VALUES ($1, $2, 'aborted')
    ON CONFLICT (invocation_id) DO NOTHING
    RETURNING invocation_id
), event AS (
    INSERT INTO outbox ({_COLUMNS})
    SELECT {_params(3)} FROM claim
    RETURNING id
)
SELECT (SELECT count(*) FROM claim) AS claimed, (SELECT count(pg_notify('{NOTIFY_CHANNEL}', ''))
        FROM event) AS woken
"""  # noqa: S608


class SqlCompletionStore:
    """Implements `CompletionStore`. Aborts use their own small pool (`abort_pool`), so an
    abort is never starved by the completions that fill the main pool."""

    def __init__(
        self,
        pool: DriverPool,
        correlation_id: Callable[[], str | None],
        *,
        abort_pool: DriverPool | None = None,
    ) -> None:
        self._pool = pool
        self._abort_pool = abort_pool or pool
        self._correlation_id = correlation_id

    async def load(self, owner_id: OwnerId, task_id: TaskId) -> Task | None:
        async with self._pool.connection() as conn:
            row = await conn.fetchrow(LOAD, task_id, owner_id)
        return _task(row) if row is not None else None

    async def complete(self, task: Task, event: TaskCompleted, attempt: InvocationId) -> bool:
        values = self._event_values(event)
        async with self._pool.connection() as conn:
            row = await conn.fetchrow(
                COMPLETE, task.id, task.owner_id, task.completed_at, attempt, *values
            )
        return bool(row["completed"])

    async def record_abort(self, event: TaskCompletionAborted) -> bool:
        values = self._event_values(event)
        async with self._abort_pool.connection() as conn:
            row = await conn.fetchrow(RECORD_ABORT, event.invocation_id, event.task_id, *values)
        return bool(row["claimed"])

    def _event_values(self, event: IntegrationEvent) -> list[Any]:
        values = outbox_row(event, correlation_id=self._correlation_id())
        values["envelope"] = json.dumps(values["envelope"])
        return [values[column] for column in OUTBOX_INSERT_COLUMNS]


def _task(row: Any) -> Task:
    return Task(
        id=TaskId(row["id"]),
        owner_id=OwnerId(row["owner_id"]),
        title=row["title"],
        description=row["description"],
        status=TaskStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        completed_at=row["completed_at"],
    )
