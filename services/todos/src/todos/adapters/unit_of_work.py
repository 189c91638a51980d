"""The SQL unit of work: one connection, one transaction, task changes and outbox rows together."""

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.events import IntegrationEvent
from todos.adapters.outbox import write_events
from todos.adapters.repository import SqlTaskRepository


class SqlUnitOfWork:
    tasks: SqlTaskRepository

    def __init__(self, engine: AsyncEngine, correlation_id: Callable[[], str | None]) -> None:
        self._engine = engine
        self._correlation_id = correlation_id
        self._conn: AsyncConnection | None = None
        self._events: list[IntegrationEvent] = []

    async def __aenter__(self) -> Self:
        self._conn = await self._engine.connect()
        await self._conn.begin()
        self.tasks = SqlTaskRepository(self._conn)
        self._events = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                await self._conn.rollback()
        finally:
            await self._conn.close()
            self._conn = None

    def record(self, events: Sequence[IntegrationEvent]) -> None:
        self._events.extend(events)

    async def commit(self) -> None:
        assert self._conn is not None
        events, self._events = self._events, []
        await write_events(self._conn, events, correlation_id=self._correlation_id())
        await self._conn.commit()
