"""The outbox row keeps the W3C `traceparent` of the request that wrote it (NULL when off).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable without a default: a metadata-only change, no table rewrite.
    op.add_column("outbox", sa.Column("traceparent", sa.String(55)))


def downgrade() -> None:
    op.drop_column("outbox", "traceparent")
