"""Deleted tasks' costs kept as tombstones; holds bound to their attempts; aborted attempts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("task_costs", sa.Column("task_deleted_at", sa.DateTime(timezone=True)))
    # Existing holds stay unbound (empty): any abort releases them, as before.
    op.add_column(
        "holds",
        sa.Column(
            "invocation_ids",
            postgresql.ARRAY(sa.Uuid()),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
    )
    op.create_table(
        "aborted_invocations",
        sa.Column("invocation_id", sa.Uuid(), primary_key=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column(
            "aborted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
        ),
    )


def downgrade() -> None:
    op.drop_table("aborted_invocations")
    op.drop_column("holds", "invocation_ids")
    # Before 0003 a deleted task's uncharged cost was deleted outright.
    op.execute("DELETE FROM task_costs WHERE task_deleted_at IS NOT NULL AND charged_at IS NULL")
    op.drop_column("task_costs", "task_deleted_at")
