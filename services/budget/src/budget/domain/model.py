"""The budget's values: token types, ledger entries, task costs and holds. No I/O here."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

# A positive amount is at most this; a balance stays within +/- MAX_BALANCE on credits, so
# no sum of entries comes near the 64-bit column limit.
MAX_AMOUNT = 10**12
MAX_BALANCE = 10**15


class EntryKind(StrEnum):
    CREDIT = "credit"
    DEBIT = "debit"


class HoldStatus(StrEnum):
    ACTIVE = "active"
    CAPTURED = "captured"
    RELEASED = "released"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class TokenType:
    id: UUID
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: UUID
    owner_id: UUID
    token_type_id: UUID
    amount: int
    kind: EntryKind
    reference_id: str | None
    reason: str | None
    created_at: datetime
    created_by: UUID | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class TaskCost:
    id: UUID
    owner_id: UUID
    task_id: UUID
    token_type_id: UUID
    amount: int
    charged_at: datetime | None = None
    # Set by `todos.task.deleted.v1` instead of deleting the row, so that a `completed` event
    # delivered after it (the task was completed before it was deleted) still debits it.
    task_deleted_at: datetime | None = None

    @property
    def visible(self) -> bool:
        """Whether the owner still sees it: a deleted task's cost is gone unless it was charged."""
        return self.task_deleted_at is None or self.charged_at is not None


@dataclass(frozen=True, slots=True)
class Hold:
    id: UUID
    owner_id: UUID
    token_type_id: UUID
    task_id: UUID
    amount: int
    status: HoldStatus
    expires_at: datetime
    # The completion attempts (hook invocation ids) that this hold backs; an abort releases it
    # only when all of them were aborted. Empty: an unbound hold (from a caller without ids).
    invocations: frozenset[UUID] = frozenset()

    def counts_at(self, now: datetime) -> bool:
        """Whether the hold still reserves its amount at `now` (expiry needs no sweeper)."""
        return self.status is HoldStatus.ACTIVE and self.expires_at > now


@dataclass(frozen=True, slots=True)
class Balance:
    token_type_id: UUID
    balance: int
    held: int

    @property
    def available(self) -> int:
        return self.balance - self.held
