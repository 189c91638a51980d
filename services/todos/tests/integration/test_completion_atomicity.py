"""Completion against the real database: atomic with its outbox row, exactly once under races."""

import asyncio
from typing import Any
from uuid import uuid4

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.events import TaskCompleted
from contracts.ids import OwnerId, new_invocation_id
from todos.adapters.completions import SqlCompletionStore
from todos.adapters.db import DriverPool
from todos.adapters.tables import outbox
from todos.adapters.unit_of_work import SqlUnitOfWork
from todos.bootstrap import utc_now
from todos.domain.hook_verdict import HookAnswer
from todos.domain.model import TaskStatus
from todos.service_layer import tasks
from todos.service_layer.errors import TaskNotFoundError


class NoHooks:
    async def before_complete(
        self, task_id: object, owner_id: object, *, invocation_id: object
    ) -> list[HookAnswer]:
        return []


def _uow(engine: AsyncEngine) -> SqlUnitOfWork:
    return SqlUnitOfWork(engine, lambda: "corr-1")


def _store(pool: DriverPool) -> SqlCompletionStore:
    return SqlCompletionStore(pool, lambda: "corr-1")


async def _events(engine: AsyncEngine, task_id: object, event_type: str) -> int:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(func.count()).where(
                    outbox.c.envelope["data"]["task_id"].astext == str(task_id),
                    outbox.c.event_type == event_type,
                )
            )
        ).scalar_one()


async def test_a_failing_outbox_insert_leaves_the_task_open(
    engine: AsyncEngine, pool: DriverPool
) -> None:
    owner = OwnerId(uuid4())
    task = await tasks.create_task(lambda: _uow(engine), utc_now, owner, "atomic", None)
    trigger = f"fail_outbox_{task.id.hex}"
    async with engine.begin() as conn:
        await conn.execute(
            text(
                f"CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.envelope->'data'->>'task_id' = '{task.id}' THEN "
                "RAISE EXCEPTION 'outbox insert refused'; END IF; RETURN NEW; END $$"
            )
        )
        await conn.execute(
            text(
                f"CREATE TRIGGER {trigger} BEFORE INSERT ON outbox "
                f"FOR EACH ROW EXECUTE FUNCTION {trigger}()"
            )
        )
    try:
        with pytest.raises(asyncpg.RaiseError, match="outbox insert refused"):
            await tasks.complete_task(_store(pool), utc_now, NoHooks(), owner, task.id)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP TRIGGER {trigger} ON outbox"))
            await conn.execute(text(f"DROP FUNCTION {trigger}()"))
    stored = await tasks.get_task(lambda: _uow(engine), owner, task.id)
    assert stored.status is TaskStatus.OPEN
    assert await _events(engine, task.id, "todos.task.completed.v1") == 0


async def test_twenty_concurrent_completions_produce_one_event(
    engine: AsyncEngine, pool: DriverPool
) -> None:
    owner = OwnerId(uuid4())
    task = await tasks.create_task(lambda: _uow(engine), utc_now, owner, "race", None)
    results = await asyncio.gather(
        *(tasks.complete_task(_store(pool), utc_now, NoHooks(), owner, task.id) for _ in range(20))
    )
    assert all(r.status is TaskStatus.COMPLETED for r in results)
    assert len({r.completed_at for r in results}) == 1  # every caller sees the one completion
    assert await _events(engine, task.id, "todos.task.completed.v1") == 1


async def test_completing_another_owners_task_changes_nothing(
    engine: AsyncEngine, pool: DriverPool
) -> None:
    owner = OwnerId(uuid4())
    task = await tasks.create_task(lambda: _uow(engine), utc_now, owner, "mine", None)
    with pytest.raises(TaskNotFoundError):
        await tasks.complete_task(_store(pool), utc_now, NoHooks(), OwnerId(uuid4()), task.id)
    assert (await tasks.get_task(lambda: _uow(engine), owner, task.id)).status is TaskStatus.OPEN


async def test_a_completer_that_loses_the_update_race_writes_no_outbox_row(
    engine: AsyncEngine,
    pool: DriverPool,
) -> None:
    """Another transaction completes the task while our single statement waits on its row lock:
    ours re-checks the row, matches nothing, and its outbox INSERT and NOTIFY do not happen."""
    owner = OwnerId(uuid4())
    task = await tasks.create_task(lambda: _uow(engine), utc_now, owner, "race", None)
    store = _store(pool)
    stale = await store.load(owner, task.id)
    assert stale is not None
    stale.complete(utc_now())
    event = stale.pull_events()[-1]
    assert isinstance(event, TaskCompleted)

    async with engine.connect() as winner:
        await winner.execute(
            text("UPDATE tasks SET status = 'completed', completed_at = now() WHERE id = :id"),
            {"id": task.id},
        )
        ours = asyncio.create_task(store.complete(stale, event, new_invocation_id()))
        await asyncio.sleep(0.3)
        assert not ours.done()  # blocked on the winner's row lock
        await winner.commit()
    assert await ours is False
    assert await _events(engine, task.id, "todos.task.completed.v1") == 0


async def test_the_winning_statement_writes_the_task_and_its_row_together(
    engine: AsyncEngine,
    pool: DriverPool,
) -> None:
    owner = OwnerId(uuid4())
    task = await tasks.create_task(lambda: _uow(engine), utc_now, owner, "one", None)
    store = _store(pool)
    task.complete(utc_now())
    event = task.pull_events()[-1]
    assert isinstance(event, TaskCompleted)
    assert await store.complete(task, event, new_invocation_id()) is True
    # Already completed: another attempt writes nothing more.
    assert await store.complete(task, event, new_invocation_id()) is False
    async with engine.connect() as conn:
        envelope = (
            await conn.execute(
                select(outbox.c.envelope).where(
                    outbox.c.envelope["data"]["task_id"].astext == str(task.id),
                    outbox.c.event_type == "todos.task.completed.v1",
                )
            )
        ).scalar_one()
    assert envelope["correlationid"] == "corr-1"
    assert envelope["data"]["task_id"] == str(task.id)
    stored = await store.load(owner, task.id)
    assert stored is not None
    assert stored.status is TaskStatus.COMPLETED
    assert stored.completed_at == task.completed_at


async def test_a_completion_is_two_round_trips_a_read_and_one_statement(
    engine: AsyncEngine, migrated_database: str
) -> None:
    """Counted at the driver: no BEGIN, no COMMIT, no separate INSERT or NOTIFY."""
    sent: list[str] = []

    def note(record: Any) -> None:
        sent.append(" ".join(record.query.split())[:40])

    async def log_queries(conn: Any) -> None:
        conn.add_query_logger(note)

    pool = DriverPool(migrated_database, size=2, setup=log_queries)
    try:
        owner = OwnerId(uuid4())
        task = await tasks.create_task(lambda: _uow(engine), utc_now, owner, "count", None)
        done = await tasks.complete_task(_store(pool), utc_now, NoHooks(), owner, task.id)
    finally:
        await pool.close()
    assert done.status is TaskStatus.COMPLETED
    assert len(sent) == 2, sent
    assert sent[0].startswith("SELECT id, owner_id")
    assert sent[1].startswith("WITH done AS ( UPDATE tasks")
    assert await _events(engine, task.id, "todos.task.completed.v1") == 1
