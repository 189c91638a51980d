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


@dataclass(frozen=True, slots=True)
class Hold:
    id: UUID
    owner_id: UUID
    token_type_id: UUID
    task_id: UUID
    amount: int
    status: HoldStatus
    expires_at: datetime

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
