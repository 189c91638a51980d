"""The `Account` repository on PostgreSQL: one query loads, one statement saves.

Plain asyncpg on the SQLAlchemy pool's driver connection, outside any explicit transaction:
each statement is its own implicit transaction, so nothing stays open while Python decides.
The save is one data-modifying CTE made conditional on the account row's `version` (an
upsert whose update only applies to the version that was loaded); every other part of it
hangs on that row, so either the whole step applies or none of it and the caller loads again.
Prepared statements are cached per connection by asyncpg.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncEngine

from budget.domain.account import Account
from budget.domain.model import Hold, HoldStatus, TaskCost
from budget.service_layer.ports import SaveResult

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
          SELECT 1 FROM processed_events p WHERE p.event_id = $5)) AS seen
FROM (SELECT 1) AS one
LEFT JOIN task_costs c ON c.owner_id = $1 AND c.task_id = $2
LEFT JOIN holds h ON h.owner_id = $1 AND h.task_id = $2 AND h.status = 'active'
LEFT JOIN token_types t ON t.id = coalesce(c.token_type_id, h.token_type_id)
LEFT JOIN accounts a
       ON a.owner_id = $1 AND a.token_type_id = coalesce(c.token_type_id, h.token_type_id)
"""

# $1 owner, $2 token type (NULL: no account), $3 loaded version, $4 new balance,
# $5 event id, $6 event type, $7 task,
# $8-$15 the entry (id NULL: none): id, amount, kind, reference, reason, created_by, key, at,
# $16 cost id, $17 charged_at, $18 task_deleted_at, $19 remove the cost,
# $20 changed hold id, $21 its status, $22 its invocations,
# $23 new hold id, $24 amount, $25 expires_at, $26 invocations,
# $27 expire the account's holds up to, $28 aborted invocation to remember,
# $29 the new hold's status.
SAVE = """
WITH acct AS (
  INSERT INTO accounts AS a (owner_id, token_type_id, balance, version, updated_at)
  SELECT $1::uuid, $2::uuid, $4::bigint, $3::bigint + 1, now() WHERE $2::uuid IS NOT NULL
  ON CONFLICT (owner_id, token_type_id) DO UPDATE
     SET balance = EXCLUDED.balance, version = a.version + 1, updated_at = now()
   WHERE a.version = $3::bigint
  RETURNING 1 AS ok
), applied AS (
  SELECT 1 AS ok WHERE $2::uuid IS NULL UNION ALL SELECT ok FROM acct
), ev AS (
  INSERT INTO processed_events (event_id, event_type)
  SELECT $5::uuid, $6::text FROM applied WHERE $5::uuid IS NOT NULL
  ON CONFLICT DO NOTHING RETURNING 1 AS ok
), go AS (
  -- without an account only the event record guards: a duplicate changes nothing
  SELECT 1 AS ok FROM applied
   WHERE $2::uuid IS NOT NULL OR $5::uuid IS NULL OR EXISTS (SELECT 1 FROM ev)
), entry AS (
  INSERT INTO ledger_entries (id, owner_id, token_type_id, amount, kind, reference_id, reason,
                              created_by, idempotency_key, created_at)
  SELECT $8::uuid, $1, $2, $9::bigint, $10::text, $11::text, $12::text, $13::uuid, $14::text,
         $15::timestamptz
    FROM go WHERE $8::uuid IS NOT NULL
  RETURNING 1 AS ok
), cost AS (
  UPDATE task_costs SET charged_at = coalesce($17::timestamptz, charged_at),
                        task_deleted_at = coalesce($18::timestamptz, task_deleted_at)
   WHERE id = $16::uuid AND NOT $19::boolean AND EXISTS (SELECT 1 FROM go)
  RETURNING 1 AS ok
), cost_gone AS (
  DELETE FROM task_costs WHERE id = $16::uuid AND $19::boolean AND EXISTS (SELECT 1 FROM go)
  RETURNING 1 AS ok
), hold AS (
  UPDATE holds SET status = $21::text, invocation_ids = $22::uuid[]
   WHERE id = $20::uuid AND EXISTS (SELECT 1 FROM go)
  RETURNING 1 AS ok
), expired AS (
  UPDATE holds SET status = 'expired'
   WHERE owner_id = $1 AND token_type_id = $2 AND status = 'active'
     AND expires_at <= $27::timestamptz
     AND id IS DISTINCT FROM $20::uuid AND EXISTS (SELECT 1 FROM go)
  RETURNING 1 AS ok
), new_hold AS (
  -- after the task's old hold left 'active' (one active hold per task)
  INSERT INTO holds (id, owner_id, token_type_id, task_id, amount, status, expires_at,
                     invocation_ids)
  SELECT $23::uuid, $1, $2, $7::uuid, $24::bigint, $29::text, $25::timestamptz, $26::uuid[]
    FROM go
   WHERE $23::uuid IS NOT NULL AND (SELECT count(*) FROM hold) >= 0
  RETURNING 1 AS ok
), aborted AS (
  INSERT INTO aborted_invocations (invocation_id, owner_id, task_id)
  SELECT $28::uuid, $1, $7 FROM go WHERE $28::uuid IS NOT NULL
  ON CONFLICT DO NOTHING RETURNING 1 AS ok
)
SELECT (SELECT count(*) FROM applied) AS applied, (SELECT count(*) FROM go) AS effective,
       (SELECT count(*) FROM entry) + (SELECT count(*) FROM cost) + (SELECT count(*) FROM cost_gone)
       + (SELECT count(*) FROM new_hold) + (SELECT count(*) FROM expired)
       + (SELECT count(*) FROM aborted) AS written
"""


class SqlAccounts:
    """Implements `Accounts` on the engine's pool."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def open(self) -> AsyncIterator["SqlAccountStore"]:
        # A checkout without SQLAlchemy's autobegin: the pool's reset on return finds no
        # transaction to roll back, so it costs no round trip either.
        async with self._engine.connect() as conn:
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
        row = await self._driver.fetchrow(SAVE, *_save_args(account, event_id, event_type))
        if not row["applied"]:
            return SaveResult.CONFLICT
        return SaveResult.SAVED if row["effective"] else SaveResult.DUPLICATE


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
    )


def _save_args(account: Account, event_id: UUID | None, event_type: str | None) -> list[Any]:
    entry = account.entries[0] if account.entries else None
    if len(account.entries) > 1:
        raise ValueError("one ledger entry per step")
    cost = account.changed_cost or (account.cost if account.cost_removed else None)
    changed, new = account.changed_hold, account.new_hold
    return [
        account.owner_id,
        account.token_type_id,
        account.version,
        account.balance,
        event_id,
        event_type,
        account.task_id,
        entry.id if entry else None,
        entry.amount if entry else None,
        entry.kind.value if entry else None,
        entry.reference_id if entry else None,
        entry.reason if entry else None,
        entry.created_by if entry else None,
        entry.idempotency_key if entry else None,
        entry.created_at if entry else None,
        cost.id if cost else None,
        cost.charged_at if cost else None,
        cost.task_deleted_at if cost else None,
        account.cost_removed,
        changed.id if changed else None,
        changed.status.value if changed else None,
        sorted(changed.invocations) if changed else None,
        new.id if new else None,
        new.amount if new else None,
        new.expires_at if new else None,
        sorted(new.invocations) if new else None,
        account.expire_until,
        account.aborted_invocation,
        new.status.value if new else None,
    ]
