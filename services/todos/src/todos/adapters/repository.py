"""Tasks in PostgreSQL through SQLAlchemy Core on the unit of work's connection."""

from typing import Any

from sqlalchemy import Row, delete, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.ids import OwnerId, TaskId
from todos.adapters.tables import tasks
from todos.domain.model import Task, TaskStatus
from todos.service_layer.ports import Position


class SqlTaskRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, task: Task) -> None:
        await self._conn.execute(insert(tasks).values(**task_columns(task)))

    async def get(
        self, owner_id: OwnerId, task_id: TaskId, *, for_update: bool = False
    ) -> Task | None:
        query = select(tasks).where(tasks.c.id == task_id, tasks.c.owner_id == owner_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return _task(row) if row else None

    async def list(
        self, owner_id: OwnerId, *, status: TaskStatus | None, limit: int, after: Position | None
    ) -> list[Task]:
        query = select(tasks).where(tasks.c.owner_id == owner_id)
        if status is not None:
            query = query.where(tasks.c.status == status.value)
        if after is not None:
            query = query.where(tuple_(tasks.c.created_at, tasks.c.id) < tuple_(*after))
        query = query.order_by(tasks.c.created_at.desc(), tasks.c.id.desc()).limit(limit)
        return [_task(row) for row in await self._conn.execute(query)]

    async def save_edits(self, task: Task) -> None:
        await self._conn.execute(
            update(tasks)
            .where(tasks.c.id == task.id, tasks.c.owner_id == task.owner_id)
            .values(title=task.title, description=task.description, updated_at=task.updated_at)
        )

    async def delete(self, task: Task) -> bool:
        result = await self._conn.execute(
            delete(tasks)
            .where(tasks.c.id == task.id, tasks.c.owner_id == task.owner_id)
            .returning(tasks.c.id)
        )
        return result.first() is not None


def task_columns(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "owner_id": task.owner_id,
        "title": task.title,
        "description": task.description,
        "status": task.status.value,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "completed_at": task.completed_at,
    }


def _task(row: Row[Any]) -> Task:
    return Task(
        id=TaskId(row.id),
        owner_id=OwnerId(row.owner_id),
        title=row.title,
        description=row.description,
        status=TaskStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        completed_at=row.completed_at,
    )
