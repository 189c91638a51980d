"""An attempt ends in exactly one outcome, decided by the database: completed or aborted.

A real proxy sits between the completion path and PostgreSQL and loses the server's answer to
the completing statement after the server ran it (a connection reset after the commit), or
loses the statement itself (nothing ran). todos must not record an abort for an attempt whose
completion committed: budget would release its hold while the `completed` event debits.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.ids import InvocationId, OwnerId, TaskId
from tests.integration.conftest import free_port
from todos.adapters.completions import SqlCompletionStore
from todos.adapters.db import DriverPool
from todos.adapters.tables import outbox
from todos.adapters.unit_of_work import SqlUnitOfWork
from todos.bootstrap import utc_now
from todos.domain.hook_verdict import AnswerKind, HookAnswer
from todos.domain.model import TaskStatus
from todos.service_layer import tasks


class LossyProxy:
    """Forwards to PostgreSQL; once armed, loses the next answer (or the next request) and
    resets both connections."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self._target = target_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.lose: str | None = None  # "answer" or "request"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._reset()
            await self._server.wait_closed()

    def _reset(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer, "request"),
            self._pipe(up_reader, writer, "answer"),
            return_exceptions=True,
        )
        self._writers -= {writer, up_writer}

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str
    ) -> None:
        pending = b""  # once armed for answers: the server's messages, cut at their ends
        try:
            while data := await reader.read(65536):
                if self.lose == direction == "request":
                    self.lose = None
                    self._reset()
                    return
                if self.lose == direction == "answer":
                    # Armed while idle, so this starts at a message: forward the messages up
                    # to ReadyForQuery ('Z': the statement's implicit transaction committed),
                    # lose that and reset.
                    pending += data
                    while len(pending) >= 5:
                        size = 1 + int.from_bytes(pending[1:5], "big")
                        if len(pending) < size:
                            break
                        message, pending = pending[:size], pending[size:]
                        if message[:1] == b"Z":
                            self.lose = None
                            self._reset()
                            return
                        writer.write(message)
                    await writer.drain()
                    continue
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


class ArmingHooks:
    """Allows, and arms the proxy: the completing statement is the next thing sent."""

    def __init__(self, proxy: LossyProxy, lose: str) -> None:
        self.proxy, self.lose_what = proxy, lose
        self.attempts: list[InvocationId] = []

    async def before_complete(
        self, task_id: TaskId, owner_id: OwnerId, *, invocation_id: InvocationId
    ) -> list[HookAnswer]:
        self.attempts.append(invocation_id)
        self.proxy.lose = self.lose_what
        return [HookAnswer("budget", AnswerKind.ALLOW)]


@pytest.fixture
async def proxy(migrated_database: str) -> AsyncIterator[LossyProxy]:
    port = make_url(migrated_database).port or 5432
    lossy = LossyProxy(port)
    await lossy.start()
    yield lossy
    await lossy.stop()


async def _count(engine: AsyncEngine, task_id: object, event_type: str) -> int:
    query = select(func.count()).where(
        outbox.c.envelope["data"]["task_id"].astext == str(task_id),
        outbox.c.event_type == event_type,
    )
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def _complete_through(
    proxy: LossyProxy, engine: AsyncEngine, pool: DriverPool, dsn: str, lose: str
) -> tuple[object, OwnerId]:
    owner = OwnerId(uuid4())
    uow = lambda: SqlUnitOfWork(engine, lambda: "corr")  # noqa: E731
    task = await tasks.create_task(uow, utc_now, owner, "lossy", None)
    url = make_url(dsn).set(host="127.0.0.1", port=proxy.port)
    lossy_pool = DriverPool(url.render_as_string(hide_password=False), size=1)
    try:
        store = SqlCompletionStore(lossy_pool, lambda: "corr", abort_pool=pool)
        with contextlib.suppress(Exception):  # the caller sees an error either way
            await tasks.complete_task(store, utc_now, ArmingHooks(proxy, lose), owner, task.id)
    finally:
        await lossy_pool.close()
    return task.id, owner


async def test_a_completion_whose_answer_was_lost_after_its_commit_records_no_abort(
    proxy: LossyProxy, engine: AsyncEngine, pool: DriverPool, migrated_database: str
) -> None:
    task_id, owner = await _complete_through(proxy, engine, pool, migrated_database, "answer")
    task = await tasks.get_task(lambda: SqlUnitOfWork(engine, lambda: "c"), owner, task_id)
    assert task.status is TaskStatus.COMPLETED  # the server committed it
    assert await _count(engine, task_id, "todos.task.completed.v1") == 1
    await asyncio.sleep(0.5)  # the background retry of the abort, if one was started
    assert await _count(engine, task_id, "todos.task.completion-aborted.v1") == 0


async def test_a_completion_that_never_ran_records_its_abort_once(
    proxy: LossyProxy, engine: AsyncEngine, pool: DriverPool, migrated_database: str
) -> None:
    task_id, owner = await _complete_through(proxy, engine, pool, migrated_database, "request")
    task = await tasks.get_task(lambda: SqlUnitOfWork(engine, lambda: "c"), owner, task_id)
    assert task.status is TaskStatus.OPEN
    assert await _count(engine, task_id, "todos.task.completed.v1") == 0
    assert await _count(engine, task_id, "todos.task.completion-aborted.v1") == 1
