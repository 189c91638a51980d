"""The consumer's own failure count, per event id, in the real database."""

from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncEngine

from budget.adapters.event_failures import SqlFailureCounter


async def test_failures_count_per_event_and_survive_a_new_counter(engine: AsyncEngine) -> None:
    first, other = uuid4(), uuid4()
    counter = SqlFailureCounter(engine)
    assert await counter.record(first, "todos.task.completed.v1", "ValueError('a')") == 1
    assert await counter.record(first, "todos.task.completed.v1", "ValueError('b')") == 2
    assert await counter.record(other, "todos.task.deleted.v1", "x" * 5000) == 1
    # Another process (a restart, a replica) sees the same count.
    assert await SqlFailureCounter(engine).record(first, "todos.task.completed.v1", "c") == 3
