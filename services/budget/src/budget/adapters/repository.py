"""budget's repositories on PostgreSQL besides the `Account` aggregate's (`accounts.py`): the
token-type catalogue, task costs being set, and the read side (balances, the ledger, metrics).

SQLAlchemy Core; each method is one statement on a pooled connection, committed on its own.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from budget.adapters.accounts import SqlAccounts
from budget.adapters.db import DriverPool
from budget.adapters.tables import accounts, holds, ledger_entries, task_costs
from budget.adapters.tables import token_types as token_types_t
from budget.domain.model import Balance, EntryKind, HoldStatus, LedgerEntry, TaskCost, TokenType

_ACTIVE = HoldStatus.ACTIVE.value


class _OnEngine:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        async with self._engine.begin() as conn:
            yield conn


class SqlTokenTypes(_OnEngine):
    """The token-type catalogue."""

    async def add(self, token_type: TokenType) -> bool:
        async with self._connection() as conn:
            stmt = (
                insert(token_types_t)
                .values(id=token_type.id, code=token_type.code, name=token_type.name)
                .on_conflict_do_nothing()
                .returning(token_types_t.c.id)
            )
            return (await conn.execute(stmt)).first() is not None

    async def get(self, token_type_id: UUID) -> TokenType | None:
        async with self._connection() as conn:
            t = token_types_t.c
            row = (
                await conn.execute(select(t.id, t.code, t.name).where(t.id == token_type_id))
            ).first()
            return TokenType(row.id, row.code, row.name) if row else None

    async def list(self) -> Sequence[TokenType]:
        async with self._connection() as conn:
            t = token_types_t.c
            rows = await conn.execute(select(t.id, t.code, t.name).order_by(t.code))
            return [TokenType(r.id, r.code, r.name) for r in rows]


class SqlTaskCosts(_OnEngine):
    """Task costs as their owner sets and lists them (their changes go through `Account`)."""

    async def add(self, cost: TaskCost) -> bool:
        async with self._connection() as conn:
            stmt = (
                insert(task_costs)
                .values(
                    id=cost.id,
                    owner_id=cost.owner_id,
                    task_id=cost.task_id,
                    token_type_id=cost.token_type_id,
                    amount=cost.amount,
                )
                .on_conflict_do_nothing()
                .returning(task_costs.c.id)
            )
            return (await conn.execute(stmt)).first() is not None

    async def get(self, owner_id: UUID, task_id: UUID) -> TaskCost | None:
        c = task_costs.c
        return await self._one(and_(c.owner_id == owner_id, c.task_id == task_id))

    async def get_by_id(self, owner_id: UUID, cost_id: UUID) -> TaskCost | None:
        c = task_costs.c
        return await self._one(and_(c.owner_id == owner_id, c.id == cost_id))

    async def _one(self, where: Any) -> TaskCost | None:
        async with self._connection() as conn:
            row = (await conn.execute(select(task_costs).where(where))).first()
        return _cost(row) if row else None

    async def list(self, owner_id: UUID, task_id: UUID | None) -> Sequence[TaskCost]:
        async with self._connection() as conn:
            c = task_costs.c
            visible = or_(
                c.task_deleted_at.is_(None), c.charged_at.is_not(None)
            )  # TaskCost.visible
            stmt = select(task_costs).where(c.owner_id == owner_id, visible)
            if task_id is not None:
                stmt = stmt.where(c.task_id == task_id)
            rows = await conn.execute(stmt.order_by(c.created_at.desc(), c.id))
            return [_cost(r) for r in rows]


class SqlLedgerView(_OnEngine):
    """Reads: balances with what is held, pages of the ledger, the active-holds metric."""

    async def balances(self, owner_id: UUID, now: datetime) -> Sequence[Balance]:
        async with self._connection() as conn:
            a, h = accounts.c, holds.c
            held = (
                select(func.coalesce(func.sum(h.amount), 0))
                .where(
                    h.owner_id == a.owner_id,
                    h.token_type_id == a.token_type_id,
                    h.status == _ACTIVE,
                    h.expires_at > now,
                )
                .scalar_subquery()
            )
            stmt = (
                select(a.token_type_id, a.balance, held.label("held"))
                .where(a.owner_id == owner_id)
                .order_by(a.token_type_id)
            )
            rows = await conn.execute(stmt)
            return [Balance(r.token_type_id, int(r.balance), int(r.held)) for r in rows]

    async def page(
        self, owner_id: UUID, token_type_id: UUID | None, before_seq: int | None, limit: int
    ) -> tuple[Sequence[LedgerEntry], int | None]:
        async with self._connection() as conn:
            e = ledger_entries.c
            stmt = select(ledger_entries).where(e.owner_id == owner_id)
            if token_type_id is not None:
                stmt = stmt.where(e.token_type_id == token_type_id)
            if before_seq is not None:
                stmt = stmt.where(e.seq < before_seq)
            rows = (await conn.execute(stmt.order_by(e.seq.desc()).limit(limit + 1))).all()
            more = len(rows) > limit
            rows = rows[:limit]
            return [_entry(r) for r in rows], (int(rows[-1].seq) if more else None)

    async def count_active_holds(self, now: datetime) -> int:
        """Unexpired active holds across all owners (a metric, not a use case)."""
        async with self._connection() as conn:
            h = holds.c
            stmt = select(func.count()).where(h.status == _ACTIVE, h.expires_at > now)
            return int((await conn.execute(stmt)).scalar_one())


class SqlRepositories:
    """budget's repositories, one per aggregate, on the engine's pool (`accounts`: on asyncpg's
    own pool when given one); each write is one statement, so no transaction spans calls."""

    def __init__(self, engine: AsyncEngine, hot: DriverPool | None = None) -> None:
        self.accounts = SqlAccounts(hot or engine)
        self.token_types = SqlTokenTypes(engine)
        self.costs = SqlTaskCosts(engine)
        self.ledger = SqlLedgerView(engine)


def _entry(row: Row[Any]) -> LedgerEntry:
    return LedgerEntry(
        id=row.id,
        owner_id=row.owner_id,
        token_type_id=row.token_type_id,
        amount=int(row.amount),
        kind=EntryKind(row.kind),
        reference_id=row.reference_id,
        reason=row.reason,
        created_at=row.created_at,
        created_by=row.created_by,
        idempotency_key=row.idempotency_key,
    )


def _cost(row: Row[Any]) -> TaskCost:
    return TaskCost(
        id=row.id,
        owner_id=row.owner_id,
        task_id=row.task_id,
        token_type_id=row.token_type_id,
        amount=int(row.amount),
        charged_at=row.charged_at,
        task_deleted_at=row.task_deleted_at,
    )
