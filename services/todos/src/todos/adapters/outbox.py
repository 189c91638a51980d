"""The transactional outbox: how an event becomes a stored row, and how the relay drains rows.

`outbox_envelope` is the one function that turns a domain event into the CloudEvent stored in
(and later published from) the outbox; the Pact provider test calls it too.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.envelope import CloudEvent, build_envelope
from contracts.events import IntegrationEvent
from todos.adapters.tables import completion_attempts, outbox
from todos.tracing import current_traceparent

NOTIFY_CHANNEL = "todos_outbox"
MAX_ERROR_LENGTH = 1000
# 0.5 s * 2**7 = 64 s is past the one-minute cap already; a larger exponent only overflows.
MAX_BACKOFF_EXPONENT = 7


def outbox_envelope(event: IntegrationEvent, *, correlation_id: str | None) -> CloudEvent:
    """The CloudEvents envelope stored for `event` (and published as it is)."""
    return build_envelope(event, correlation_id=correlation_id)


# The one place that says what an outbox row holds: its columns as the single-statement paths
# write them (name -> SQL type) and `outbox_row` below. A new column is added to both; every
# writer (the unit of work, `adapters/completions.py`) follows.
OUTBOX_INSERT_COLUMNS: dict[str, str] = {
    "event_id": "uuid",
    "event_type": "text",
    "envelope": "jsonb",
    "traceparent": "text",
}


def outbox_row(event: IntegrationEvent, *, correlation_id: str | None) -> dict[str, Any]:
    """The outbox row that records `event` (keys: `OUTBOX_INSERT_COLUMNS`)."""
    envelope = outbox_envelope(event, correlation_id=correlation_id)
    return {
        "event_id": envelope.id,
        "event_type": envelope.type,
        "envelope": envelope.model_dump(mode="json", exclude_none=True),
        "traceparent": current_traceparent(),
    }


async def write_events(
    conn: AsyncConnection, events: Sequence[IntegrationEvent], *, correlation_id: str | None
) -> None:
    """Insert the events' rows and wake the relay once this transaction commits."""
    if not events:
        return
    rows = [outbox_row(event, correlation_id=correlation_id) for event in events]
    await conn.execute(insert(outbox), rows)
    # NOTIFY is transactional: the relay hears it only if (and when) the rows are committed.
    await conn.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))


@dataclass(frozen=True, slots=True)
class PendingRow:
    id: int
    envelope: CloudEvent


async def claim(conn: AsyncConnection, limit: int) -> list[PendingRow]:
    """Lock up to `limit` unsent rows in id order; rows another relay holds are skipped."""
    query = (
        select(outbox.c.id, outbox.c.envelope, outbox.c.traceparent)
        .where(
            outbox.c.published_at.is_(None),
            or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= func.now()),
        )
        .order_by(outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await conn.execute(query)
    return [PendingRow(row.id, _envelope(row.envelope, row.traceparent)) for row in result]


def _envelope(stored: dict[str, Any], traceparent: str | None) -> CloudEvent:
    """The stored envelope, carrying its writer's trace (CloudEvents `traceparent`) if any."""
    if traceparent and "traceparent" not in stored:
        stored = {**stored, "traceparent": traceparent}
    return CloudEvent.model_validate(stored)


async def mark_published(conn: AsyncConnection, ids: Sequence[int]) -> None:
    if ids:
        await conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(ids))
            .values(published_at=datetime.now(UTC), attempts=outbox.c.attempts + 1)
        )


async def mark_failed(conn: AsyncConnection, row_id: int, error: str) -> None:
    """Count a failed publish of this row; it alone waits (0.5 s doubling, at most a minute)."""
    await conn.execute(
        update(outbox)
        .where(outbox.c.id == row_id)
        .values(
            attempts=outbox.c.attempts + 1,
            last_error=error[:MAX_ERROR_LENGTH],
            # The exponent is capped before the power: PostgreSQL has no interval of 2**45 s.
            next_attempt_at=func.now()
            + func.least(
                text("interval '500 milliseconds'")
                * func.power(2, func.least(outbox.c.attempts, MAX_BACKOFF_EXPONENT)),
                text("interval '60 seconds'"),
            ),
        )
    )


async def release_backoff(conn: AsyncConnection) -> int:
    """Make every unsent row that waits on its own due now; how many there were."""
    result = await conn.execute(
        update(outbox)
        .where(outbox.c.published_at.is_(None), outbox.c.next_attempt_at > func.now())
        .values(next_attempt_at=None)
    )
    return result.rowcount


async def backlog(conn: AsyncConnection) -> tuple[int, float]:
    """Unsent rows and the age in seconds of the oldest (0 when none).

    Both read the partial index of unsent rows only (ids grow with `created_at`), never the
    published history.
    """
    count = (
        await conn.execute(select(func.count()).where(outbox.c.published_at.is_(None)))
    ).scalar_one()
    oldest = (
        await conn.execute(
            select(outbox.c.created_at)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
    return int(count), max(age, 0.0)


async def purge_published(conn: AsyncConnection, retention: timedelta, limit: int) -> int:
    """Delete up to `limit` rows published more than `retention` ago, and as many attempts
    decided that long ago; how many outbox rows (or attempts, if more) went."""
    doomed = (
        select(outbox.c.id)
        .where(outbox.c.published_at < func.now() - retention)
        .limit(limit)
        .with_for_update(skip_locked=True)  # another relay purging at once takes other rows
        .scalar_subquery()
    )
    result = await conn.execute(delete(outbox).where(outbox.c.id.in_(doomed)))
    # The attempts' outcomes are needed only while an abort of theirs may still be retried
    # (about a minute): they go with the published rows of the same age.
    attempts = (
        select(completion_attempts.c.invocation_id)
        .where(completion_attempts.c.decided_at < func.now() - retention)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    gone = await conn.execute(
        delete(completion_attempts).where(completion_attempts.c.invocation_id.in_(attempts))
    )
    return max(result.rowcount, gone.rowcount)
