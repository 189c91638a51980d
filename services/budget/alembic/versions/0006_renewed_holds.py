"""A renewed hold keeps its new expiry; a task's past holds are found by (owner, task).

`budget_save_account` takes one more parameter, $30: the new expiry of the task's changed hold
(a hook call that reuses a hold gives it its whole TTL again). The index lets a `completed`
event tell whether the task's hold lapsed before it (such a debit is counted).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_SIGNATURE = (
    "uuid, uuid, bigint, bigint, uuid, text, uuid, uuid, bigint, text, text, text, uuid, text,"
    " timestamptz, uuid, timestamptz, timestamptz, boolean, uuid, text, uuid[], uuid, bigint,"
    " timestamptz, uuid[], timestamptz, uuid, text"
)
SIGNATURE = OLD_SIGNATURE + ", timestamptz"

BODY = """
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
  UPDATE holds SET status = $21::text, invocation_ids = $22::uuid[],
                   expires_at = coalesce($30::timestamptz, expires_at)
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


RENEWAL = ",\n                   expires_at = coalesce($30::timestamptz, expires_at)"
OLD_BODY = BODY.replace(RENEWAL, "")


def _create(signature: str, body: str) -> None:
    op.execute(
        f"CREATE FUNCTION budget_save_account({signature})\n"
        "RETURNS TABLE (applied bigint, effective bigint, written bigint)\n"
        "LANGUAGE plpgsql VOLATILE AS $fn$\n#variable_conflict use_column\n"
        f"BEGIN\nRETURN QUERY {body};\nEND\n$fn$"
    )


def upgrade() -> None:
    op.execute(f"DROP FUNCTION budget_save_account({OLD_SIGNATURE})")
    _create(SIGNATURE, BODY)
    op.create_index("ix_holds_owner_task", "holds", ["owner_id", "task_id"])


def downgrade() -> None:
    op.drop_index("ix_holds_owner_task", table_name="holds")
    op.execute(f"DROP FUNCTION budget_save_account({SIGNATURE})")
    _create(OLD_SIGNATURE, OLD_BODY)
