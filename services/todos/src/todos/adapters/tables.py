"""The todos database as SQLAlchemy Core tables (migrations in `alembic/` create them)."""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
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
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

tasks = Table(
    "tasks",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", String(2000)),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('open', 'completed')", name="tasks_status_valid"),
    Index("ix_tasks_owner_newest", "owner_id", text("created_at DESC"), text("id DESC")),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("event_type", String(200), nullable=False),
    Column("envelope", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("published_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("traceparent", String(55)),  # W3C trace context of the writer; NULL without tracing
    Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
    Index(
        "ix_outbox_published_at", "published_at", postgresql_where=text("published_at IS NOT NULL")
    ),
)

# One row per completion attempt that reached an outcome; the completing statement and the
# abort both claim it, so the first to commit decides (see adapters/completions.py).
completion_attempts = Table(
    "completion_attempts",
    metadata,
    Column("invocation_id", Uuid, primary_key=True),
    Column("task_id", Uuid, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Index("ix_completion_attempts_decided", "decided_at"),
)
