"""How many times each event failed in the consumer's own code, kept in budget's database.

Only our code's failures make an event poison. The broker's delivery count cannot tell them
apart: a quorum queue counts every return of an unacked message as a delivery, and a consumer
that stops, dies or loses its channel returns all it holds (up to the prefetch), so a few
restarts with a backlog would dead-letter valid events. The consumer therefore counts a failure
here, by event id, each time applying the event alone raised something other than a database
outage, and dead-letters the event itself at BUDGET_CONSUMER_MAX_FAILURES.

Why the database and not the consumer's memory: the count must survive the very restarts this
is about (a crash loop on a poison event would otherwise start from zero each time and never
reach the limit, leaving only the broker's far backstop) and be shared by every replica (the
broker may redeliver to another one). It costs one upsert per failure, none on the success
path. A database that cannot take the upsert leaves the failure uncounted: the message is
requeued, and the broker's delivery limit (a much higher number) still bounds it.

Rows are few (only failed events) and kept: one that later succeeded shows what failed before.
"""

from uuid import UUID

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from budget.adapters.tables import event_failures

MAX_ERROR_LENGTH = 1000


class SqlFailureCounter:
    """`FailureCounter` on the `event_failures` table; each count commits on its own."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, event_id: UUID, event_type: str, error: str) -> int:
        """Count one more failure of the event; returns its failures so far."""
        f = event_failures.c
        stmt = (
            insert(event_failures)
            .values(
                event_id=event_id,
                event_type=event_type,
                failures=1,
                last_error=error[:MAX_ERROR_LENGTH],
            )
            .on_conflict_do_update(
                index_elements=[f.event_id],
                set_={
                    "failures": f.failures + 1,
                    "last_error": error[:MAX_ERROR_LENGTH],
                    "last_failed_at": func.now(),
                },
            )
            .returning(f.failures)
        )
        async with self._engine.begin() as conn:
            return int((await conn.execute(stmt)).scalar_one())
