"""The `Account` repository on PostgreSQL: one query loads, one statement saves.

Plain asyncpg on asyncpg's own pool (`DriverPool`; a test may hand the engine instead, whose
driver connection is then used), outside any explicit transaction: each statement is its own
implicit transaction, so nothing stays open while Python decides.
The save is one data-modifying CTE made conditional on the account row's `version` (an
upsert whose update only applies to the version that was loaded); every other part of it
hangs on that row, so either the whole step applies or none of it and the caller loads again.
Prepared statements are cached per connection by asyncpg.
"""

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncEngine

from budget.adapters.db import DriverPool
from budget.domain.account import Account
from budget.domain.model import EntryKind, Hold, HoldStatus, LedgerEntry, TaskCost
from budget.metrics import ACCOUNT_SAVES
from budget.service_layer.ports import (
    CreditView,
    IdempotencyKeyTakenError,
    LoadKey,
    SaveItem,
    SaveResult,
)

# The task's cost and active hold, the account row (of the cost's token type, else the hold's),
# the sum held by the account's other unexpired holds, and the two flags, in one snapshot.
LOAD = """
SELECT c.id AS cost_id, c.token_type_id AS cost_tt, c.amount AS cost_amount,
       c.charged_at, c.task_deleted_at,
       h.id AS hold_id, h.token_type_id AS hold_tt, h.amount AS hold_amount,
       h.expires_at AS hold_expires_at, h.invocation_ids,
       t.code, a.balance, a.version,
       (SELECT coalesce(sum(x.amount), 0) FROM holds x
         WHERE x.owner_id = $1 AND x.token_type_id = coalesce(c.token_type_id, h.token_type_id)
           AND x.status = 'active' AND x.expires_at > $3 AND x.task_id <> $2) AS held,
       EXISTS (SELECT 1 FROM ledger_entries e
                WHERE e.owner_id = $1 AND e.reference_id = $2::text AND e.kind = 'debit')
         AS debited,
       ($4::uuid IS NOT NULL AND EXISTS (
          SELECT 1 FROM aborted_invocations i WHERE i.invocation_id = $4)) AS aborted,
       ($5::uuid IS NOT NULL AND EXISTS (
          SELECT 1 FROM processed_events p WHERE p.event_id = $5)) AS seen,
       ($5::uuid IS NOT NULL AND EXISTS (
          SELECT 1 FROM holds x WHERE x.owner_id = $1 AND x.task_id = $2
             AND x.status = 'expired')) AS hold_lapsed
FROM (SELECT 1) AS one
LEFT JOIN task_costs c ON c.owner_id = $1 AND c.task_id = $2
LEFT JOIN holds h ON h.owner_id = $1 AND h.task_id = $2 AND h.status = 'active'
LEFT JOIN token_types t ON t.id = coalesce(c.token_type_id, h.token_type_id)
LEFT JOIN accounts a
       ON a.owner_id = $1 AND a.token_type_id = coalesce(c.token_type_id, h.token_type_id)
"""

# The parameters of the SQL function `budget_save_account` (migration 0006: a data-modifying
# CTE conditional on the loaded version), in order, with their SQL types. The one source: the
# call's placeholders, the batch's arrays and `_save_args` are built from it, and a test checks
# it against the migration's signature and the migrated database's function.
SAVE_PARAMS: tuple[tuple[str, str], ...] = (
    ("owner_id", "uuid"),
    ("token_type_id", "uuid"),  # NULL: the step has no account
    ("loaded_version", "bigint"),
    ("balance", "bigint"),  # the new balance
    ("event_id", "uuid"),  # the event to record with the step (NULL: none)
    ("event_type", "text"),
    ("task_id", "uuid"),
    ("entry_id", "uuid"),  # the ledger entry (NULL: none)
    ("entry_amount", "bigint"),
    ("entry_kind", "text"),
    ("entry_reference_id", "text"),
    ("entry_reason", "text"),
    ("entry_created_by", "uuid"),
    ("entry_idempotency_key", "text"),
    ("entry_created_at", "timestamptz"),
    ("cost_id", "uuid"),
    ("cost_charged_at", "timestamptz"),
    ("cost_task_deleted_at", "timestamptz"),
    ("cost_removed", "boolean"),  # delete the cost row
    ("changed_hold_id", "uuid"),
    ("changed_hold_status", "text"),
    ("changed_hold_invocations", "uuid[]"),
    ("new_hold_id", "uuid"),
    ("new_hold_amount", "bigint"),
    ("new_hold_expires_at", "timestamptz"),
    ("new_hold_invocations", "uuid[]"),
    ("expire_until", "timestamptz"),  # expire the account's holds up to this time
    ("aborted_invocation", "uuid"),  # an aborted invocation to remember
    ("new_hold_status", "text"),
    ("changed_hold_expires_at", "timestamptz"),  # a renewal (NULL: unchanged)
)
SAVE_NAMES = tuple(name for name, _ in SAVE_PARAMS)
SAVE_TYPES = tuple(sql_type for _, sql_type in SAVE_PARAMS)
SAVE = "SELECT applied, effective FROM budget_save_account({})".format(  # noqa: S608
    ", ".join(f"${i}::{t}" for i, t in enumerate(SAVE_TYPES, 1))
)
# Many steps in one statement, in order: each call sees the writes of those before it. The
# arrays of invocations travel as text (an array of arrays must be rectangular).
_ARRAY_TYPES = ["text" if t == "uuid[]" else t for t in SAVE_TYPES]
SAVE_MANY = (  # noqa: S608 - built from constants only
    "SELECT s.applied, s.effective FROM unnest({}) WITH ORDINALITY AS k({}, i)\n"
    "CROSS JOIN LATERAL budget_save_account({}) AS s ORDER BY k.i"
).format(
    ", ".join(f"${i}::{t}[]" for i, t in enumerate(_ARRAY_TYPES, 1)),
    ", ".join(f"p{i}" for i in range(1, len(SAVE_TYPES) + 1)),
    ", ".join(f"k.p{i}::{t}" for i, t in enumerate(SAVE_TYPES, 1)),
)
# Many loads in one query, one row per (owner, task, invocation, event) in order, at one `now`.
LOAD_MANY = (  # noqa: S608 - built from constants only
    "SELECT l.* FROM unnest($1::uuid[], $2::uuid[], $4::uuid[], $5::uuid[])\n"
    "  WITH ORDINALITY AS k(owner_id, task_id, invocation_id, event_id, i)\n"
    "CROSS JOIN LATERAL ({}) AS l ORDER BY k.i"
).format(
    re.sub(
        r"\$([1245])\b",
        lambda m: {"1": "k.owner_id", "2": "k.task_id", "4": "k.invocation_id", "5": "k.event_id"}[
            m.group(1)
        ],
        LOAD,
    )
)


# A credit's account: the token type (must exist), the account row (may not yet), and the entry
# an earlier credit by the same caller with the same idempotency key wrote.
LOAD_FOR_CREDIT = """
SELECT t.id IS NOT NULL AS known, t.code, a.balance, a.version,
       e.id AS e_id, e.owner_id AS e_owner, e.token_type_id AS e_tt, e.amount AS e_amount,
       e.kind AS e_kind, e.reference_id AS e_ref, e.reason AS e_reason, e.created_at AS e_at
FROM (SELECT 1) AS one
LEFT JOIN token_types t ON t.id = $2
LEFT JOIN accounts a ON a.owner_id = $1 AND a.token_type_id = $2
LEFT JOIN ledger_entries e
       ON $4::text IS NOT NULL AND e.created_by = $3 AND e.idempotency_key = $4::text
"""
IDEMPOTENCY_INDEX = "uq_ledger_idempotency_key"
NO_TASK = UUID(int=0)  # a credit concerns no task


class SqlAccounts:
    """Implements `Accounts` on asyncpg's own pool (the services), or on the engine's (tests)."""

    def __init__(self, connections: AsyncEngine | DriverPool) -> None:
        self._connections = connections

    @asynccontextmanager
    async def open(self) -> AsyncIterator["SqlAccountStore"]:
        if isinstance(self._connections, DriverPool):
            async with self._connections.connection() as driver:
                yield SqlAccountStore(driver)
            return
        # A checkout without SQLAlchemy's autobegin: the pool's reset on return finds no
        # transaction to roll back, so it costs no round trip either.
        async with self._connections.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            try:
                yield SqlAccountStore(driver)
            except BaseException as exc:
                # SQLAlchemy never saw the error: tell its pool when the connection is unusable,
                # or the next step would be handed the same dead connection.
                if driver.is_closed() or isinstance(exc, (OSError, asyncpg.InterfaceError)):
                    await conn.invalidate()
                raise


class SqlAccountStore:
    """Implements `AccountStore` on one asyncpg connection."""

    def __init__(self, driver: Any) -> None:
        self._driver = driver

    async def load(
        self,
        owner_id: UUID,
        task_id: UUID,
        now: datetime,
        *,
        invocation_id: UUID | None = None,
        event_id: UUID | None = None,
    ) -> tuple[Account, bool]:
        row = await self._driver.fetchrow(LOAD, owner_id, task_id, now, invocation_id, event_id)
        return _account(owner_id, task_id, row), bool(row["seen"])

    async def save(
        self, account: Account, *, event_id: UUID | None = None, event_type: str | None = None
    ) -> SaveResult:
        try:
            row = await self._driver.fetchrow(SAVE, *_save_args(account, event_id, event_type))
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == IDEMPOTENCY_INDEX:
                raise IdempotencyKeyTakenError(str(exc)) from exc
            raise
        return _result(row)

    async def load_for_credit(
        self,
        owner_id: UUID,
        token_type_id: UUID,
        created_by: UUID,
        idempotency_key: str | None,
    ) -> CreditView:
        row = await self._driver.fetchrow(
            LOAD_FOR_CREDIT, owner_id, token_type_id, created_by, idempotency_key
        )
        first = None
        if row["e_id"] is not None:
            first = LedgerEntry(
                id=row["e_id"],
                owner_id=row["e_owner"],
                token_type_id=row["e_tt"],
                amount=row["e_amount"],
                kind=EntryKind(row["e_kind"]),
                reference_id=row["e_ref"],
                reason=row["e_reason"],
                created_at=row["e_at"],
                created_by=created_by,
                idempotency_key=idempotency_key,
            )
        if not row["known"]:
            return CreditView(None, first)
        account = Account(
            owner_id=owner_id,
            task_id=NO_TASK,
            token_type_id=token_type_id,
            code=row["code"],
            opening_balance=row["balance"] or 0,
            version=row["version"] or 0,
        )
        return CreditView(account, first)

    async def load_many(self, keys: Sequence[LoadKey], now: datetime) -> list[tuple[Account, bool]]:
        """`load` for each key, in one query (one snapshot)."""
        if not keys:
            return []
        rows = await self._driver.fetch(
            LOAD_MANY,
            [k.owner_id for k in keys],
            [k.task_id for k in keys],
            now,
            [k.invocation_id for k in keys],
            [k.event_id for k in keys],
        )
        return [
            (_account(k.owner_id, k.task_id, row), bool(row["seen"]))
            for k, row in zip(keys, rows, strict=True)
        ]

    async def save_many(self, items: Sequence[SaveItem]) -> list[SaveResult]:
        """`save` for each item in order, in one statement (all of them or, on error, none)."""
        if not items:
            return []
        columns = zip(
            *(_save_args(i.account, i.event_id, i.event_type) for i in items), strict=True
        )
        params = [
            [None if v is None else "{" + ",".join(map(str, v)) + "}" for v in column]
            if kind == "uuid[]"
            else list(column)
            for kind, column in zip(SAVE_TYPES, columns, strict=True)
        ]
        rows = await self._driver.fetch(SAVE_MANY, *params)
        return [_result(row) for row in rows]


def _result(row: Any) -> SaveResult:
    if not row["applied"]:
        result = SaveResult.CONFLICT
    else:
        result = SaveResult.SAVED if row["effective"] else SaveResult.DUPLICATE
    ACCOUNT_SAVES.labels(result.value).inc()
    return result


def _account(owner_id: UUID, task_id: UUID, row: Any) -> Account:
    token_type_id = row["cost_tt"] or row["hold_tt"]
    cost = None
    if row["cost_id"] is not None:
        cost = TaskCost(
            id=row["cost_id"],
            owner_id=owner_id,
            task_id=task_id,
            token_type_id=row["cost_tt"],
            amount=row["cost_amount"],
            charged_at=row["charged_at"],
            task_deleted_at=row["task_deleted_at"],
        )
    hold = None
    if row["hold_id"] is not None:
        hold = Hold(
            id=row["hold_id"],
            owner_id=owner_id,
            token_type_id=row["hold_tt"],
            task_id=task_id,
            amount=row["hold_amount"],
            status=HoldStatus.ACTIVE,
            expires_at=row["hold_expires_at"],
            invocations=frozenset(row["invocation_ids"]),
        )
    return Account(
        owner_id=owner_id,
        task_id=task_id,
        token_type_id=token_type_id,
        code=row["code"] or str(token_type_id),
        opening_balance=row["balance"] or 0,
        version=row["version"] or 0,
        cost=cost,
        task_hold=hold,
        held_by_others=row["held"],
        debited=row["debited"],
        invocation_aborted=row["aborted"],
        hold_lapsed=row["hold_lapsed"],
    )


def _save_args(account: Account, event_id: UUID | None, event_type: str | None) -> list[Any]:
    """The save's bind parameters, in `SAVE_PARAMS` order."""
    values = save_values(account, event_id, event_type)
    return [values[name] for name in SAVE_NAMES]


def save_values(account: Account, event_id: UUID | None, event_type: str | None) -> dict[str, Any]:
    """The value of each of `SAVE_PARAMS` for one step, by name."""
    entry = account.entries[0] if account.entries else None
    if len(account.entries) > 1:
        raise ValueError("one ledger entry per step")
    cost = account.changed_cost or (account.cost if account.cost_removed else None)
    changed, new = account.changed_hold, account.new_hold
    return {
        "owner_id": account.owner_id,
        "token_type_id": account.token_type_id,
        "loaded_version": account.version,
        "balance": account.balance,
        "event_id": event_id,
        "event_type": event_type,
        "task_id": account.task_id,
        "entry_id": entry.id if entry else None,
        "entry_amount": entry.amount if entry else None,
        "entry_kind": entry.kind.value if entry else None,
        "entry_reference_id": entry.reference_id if entry else None,
        "entry_reason": entry.reason if entry else None,
        "entry_created_by": entry.created_by if entry else None,
        "entry_idempotency_key": entry.idempotency_key if entry else None,
        "entry_created_at": entry.created_at if entry else None,
        "cost_id": cost.id if cost else None,
        "cost_charged_at": cost.charged_at if cost else None,
        "cost_task_deleted_at": cost.task_deleted_at if cost else None,
        "cost_removed": account.cost_removed,
        "changed_hold_id": changed.id if changed else None,
        "changed_hold_status": changed.status.value if changed else None,
        "changed_hold_invocations": sorted(changed.invocations) if changed else None,
        "new_hold_id": new.id if new else None,
        "new_hold_amount": new.amount if new else None,
        "new_hold_expires_at": new.expires_at if new else None,
        "new_hold_invocations": sorted(new.invocations) if new else None,
        "expire_until": account.expire_until,
        "aborted_invocation": account.aborted_invocation,
        "new_hold_status": new.status.value if new else None,
        "changed_hold_expires_at": changed.expires_at if changed else None,
    }
