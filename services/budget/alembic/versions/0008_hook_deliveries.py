"""`hook_deliveries`: the signed hook deliveries seen lately, so a replayed one is refused.

UNLOGGED: no WAL for a row that lives a minute, on the hook's hot path. A crash of PostgreSQL
(not a clean restart) empties it, and a standby does not have it: after a crash or a failover,
a delivery from the last minute could be accepted once more (see hook_api).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE UNLOGGED TABLE hook_deliveries ("
        " delivery_id uuid PRIMARY KEY,"
        " expires_at timestamptz NOT NULL)"
    )
    op.create_index("hook_deliveries_expires_at", "hook_deliveries", ["expires_at"])


def downgrade() -> None:
    op.drop_table("hook_deliveries")
