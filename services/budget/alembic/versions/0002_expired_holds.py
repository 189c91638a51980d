"""Holds may be marked `expired` (by the hook, under the account lock).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("holds_status_valid", "holds", type_="check")
    op.create_check_constraint(
        "holds_status_valid", "holds", "status IN ('active', 'captured', 'released', 'expired')"
    )


def downgrade() -> None:
    # An expired hold no longer counted anyway; `released` is the nearest earlier status.
    op.execute("UPDATE holds SET status = 'released' WHERE status = 'expired'")
    op.drop_constraint("holds_status_valid", "holds", type_="check")
    op.create_check_constraint(
        "holds_status_valid", "holds", "status IN ('active', 'captured', 'released')"
    )
