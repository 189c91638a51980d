"""Each completion attempt's outcome, decided once by the database: completed or aborted.

The completing statement and the statement that records an abort both claim the attempt's row
(its invocation id is the key); whichever commits first decides, so an attempt whose completion
committed is never also aborted, whatever the client saw of the answer. Rows older than the
relay's retention are purged with the published outbox rows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "completion_attempts",
        sa.Column("invocation_id", sa.Uuid(), primary_key=True),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column(
            "decided_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
        ),
        sa.CheckConstraint(
            "outcome IN ('completed', 'aborted')", name="completion_attempts_outcome_valid"
        ),
    )
    op.create_index("ix_completion_attempts_decided", "completion_attempts", ["decided_at"])


def downgrade() -> None:
    op.drop_table("completion_attempts")
