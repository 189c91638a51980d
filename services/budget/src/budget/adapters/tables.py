"""The budget database as SQLAlchemy Core tables (migrations in `alembic/` create them).

`accounts` holds one row per (owner, token type) with the running balance; that row is the
lock every balance change takes. `ledger_entries` is append-only. A task is debited at most
once per owner (a partial unique index), and an event id is recorded once, forever. A deleted
task's cost is kept with `task_deleted_at` set (a late `completed` still debits it); a hold lists
the completion attempts it backs, and `aborted_invocations` remembers the aborted ones.
"""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

metadata = MetaData()

_now = text("now()")

token_types = Table(
    "token_types",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=_now),
)

accounts = Table(
    "accounts",
    metadata,
    Column("owner_id", Uuid, primary_key=True),
    Column("token_type_id", Uuid, ForeignKey("token_types.id"), primary_key=True),
    Column("balance", BigInteger, nullable=False, server_default=text("0")),
    # Bumped by every change to the account, its holds or its tasks' costs (see Account).
    Column("version", BigInteger, nullable=False, server_default=text("0")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=_now),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("seq", BigInteger, Identity(always=True), nullable=False, unique=True),
    Column("owner_id", Uuid, nullable=False),
    Column("token_type_id", Uuid, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reference_id", String(200)),
    Column("reason", String(500)),
    Column("created_by", Uuid),
    Column("idempotency_key", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=_now),
    ForeignKeyConstraint(
        ["owner_id", "token_type_id"], ["accounts.owner_id", "accounts.token_type_id"]
    ),
    CheckConstraint(
        "(kind = 'credit' AND amount > 0) OR (kind = 'debit' AND amount < 0)",
        name="ledger_entries_sign_matches_kind",
    ),
    Index("ix_ledger_owner_newest", "owner_id", text("seq DESC")),
    Index(
        "uq_ledger_one_debit_per_task",
        "owner_id",
        "reference_id",
        unique=True,
        postgresql_where=text("kind = 'debit'"),
    ),
    Index(
        "uq_ledger_idempotency_key",
        "created_by",
        "idempotency_key",
        unique=True,
        postgresql_where=text("idempotency_key IS NOT NULL"),
    ),
)

task_costs = Table(
    "task_costs",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, nullable=False),
    Column("task_id", Uuid, nullable=False),
    Column("token_type_id", Uuid, ForeignKey("token_types.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("charged_at", DateTime(timezone=True)),
    Column("task_deleted_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=_now),
    CheckConstraint("amount > 0", name="task_costs_amount_positive"),
    Index("uq_task_costs_owner_task", "owner_id", "task_id", unique=True),
)

holds = Table(
    "holds",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, nullable=False),
    Column("token_type_id", Uuid, nullable=False),
    Column("task_id", Uuid, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=_now),
    Column("invocation_ids", ARRAY(Uuid), nullable=False, server_default=text("'{}'")),
    CheckConstraint(
        "status IN ('active', 'captured', 'released', 'expired')", name="holds_status_valid"
    ),
    CheckConstraint("amount > 0", name="holds_amount_positive"),
    Index(
        "uq_holds_active_per_task",
        "owner_id",
        "task_id",
        unique=True,
        postgresql_where=text("status = 'active'"),
    ),
    Index(
        "ix_holds_active_account",
        "owner_id",
        "token_type_id",
        "expires_at",
        postgresql_where=text("status = 'active'"),
    ),
)

aborted_invocations = Table(
    "aborted_invocations",
    metadata,
    Column("invocation_id", Uuid, primary_key=True),
    Column("owner_id", Uuid, nullable=False),
    Column("task_id", Uuid, nullable=False),
    Column("aborted_at", DateTime(timezone=True), nullable=False, server_default=_now),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("event_type", String(200), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=_now),
)

# Failures of an event in the consumer's own code (never a broker redelivery): the consumer
# dead-letters the event once they reach its limit (see `adapters/event_failures.py`).
event_failures = Table(
    "event_failures",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("event_type", String(200), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("first_failed_at", DateTime(timezone=True), nullable=False, server_default=_now),
    Column("last_failed_at", DateTime(timezone=True), nullable=False, server_default=_now),
)

# Signed hook deliveries seen until their signature expires (UNLOGGED, see migration 0008).
hook_deliveries = Table(
    "hook_deliveries",
    metadata,
    Column("delivery_id", Uuid, primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("hook_deliveries_expires_at", "expires_at"),
    prefixes=["UNLOGGED"],
)
