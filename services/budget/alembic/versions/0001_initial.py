"""Token types, accounts, the ledger, task costs, holds and processed events.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "token_types",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_table(
        "accounts",
        sa.Column("owner_id", sa.Uuid(), primary_key=True),
        sa.Column("token_type_id", sa.Uuid(), sa.ForeignKey("token_types.id"), primary_key=True),
        sa.Column("balance", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False, unique=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("token_type_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reference_id", sa.String(200)),
        sa.Column("reason", sa.String(500)),
        sa.Column("created_by", sa.Uuid()),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.ForeignKeyConstraint(
            ["owner_id", "token_type_id"], ["accounts.owner_id", "accounts.token_type_id"]
        ),
        sa.CheckConstraint(
            "(kind = 'credit' AND amount > 0) OR (kind = 'debit' AND amount < 0)",
            name="ledger_entries_sign_matches_kind",
        ),
    )
    op.create_index("ix_ledger_owner_newest", "ledger_entries", ["owner_id", sa.text("seq DESC")])
    op.create_index(
        "uq_ledger_one_debit_per_task", "ledger_entries", ["owner_id", "reference_id"],
        unique=True, postgresql_where=sa.text("kind = 'debit'"),
    )
    op.create_index(
        "uq_ledger_idempotency_key", "ledger_entries", ["created_by", "idempotency_key"],
        unique=True, postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.create_table(
        "task_costs",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("token_type_id", sa.Uuid(), sa.ForeignKey("token_types.id"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("charged_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("amount > 0", name="task_costs_amount_positive"),
    )
    op.create_index("uq_task_costs_owner_task", "task_costs", ["owner_id", "task_id"], unique=True)
    op.create_table(
        "holds",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("token_type_id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("status IN ('active', 'captured', 'released')", name="holds_status_valid"),
        sa.CheckConstraint("amount > 0", name="holds_amount_positive"),
    )
    op.create_index(
        "uq_holds_active_per_task", "holds", ["owner_id", "task_id"],
        unique=True, postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "ix_holds_active_account", "holds", ["owner_id", "token_type_id", "expires_at"],
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )


def downgrade() -> None:
    for table in ("processed_events", "holds", "task_costs", "ledger_entries", "accounts", "token_types"):
        op.drop_table(table)
