"""What the use cases need from storage: one repository per aggregate (`Account`, token
types, task costs as set by their owner) and the read side (balances, the ledger).

The SQL adapters implement these on PostgreSQL; unit tests use in-memory fakes. Every method is
owner-scoped where the data is. An account's version is the serialisation point of every change
to its balance, holds and costs: `Accounts.save` applies only over the version it loaded.
"""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from budget.domain.account import Account
from budget.domain.model import Balance, LedgerEntry, TaskCost, TokenType


class TokenTypes(Protocol):
    """The token-type catalogue."""

    async def add(self, token_type: TokenType) -> bool:
        """Insert; False if the code is taken."""
        ...

    async def get(self, token_type_id: UUID) -> TokenType | None: ...

    async def list(self) -> Sequence[TokenType]: ...


class TaskCosts(Protocol):
    """Task costs as the owner sets and lists them; changing one is an `Account` step."""

    async def add(self, cost: TaskCost) -> bool:
        """Insert; False if the owner already has a cost for the task."""
        ...

    async def get(self, owner_id: UUID, task_id: UUID) -> TaskCost | None: ...

    async def get_by_id(self, owner_id: UUID, cost_id: UUID) -> TaskCost | None: ...

    async def list(self, owner_id: UUID, task_id: UUID | None) -> Sequence[TaskCost]:
        """The owner's visible costs (`TaskCost.visible`)."""
        ...


class LedgerView(Protocol):
    """The read side: balances with what is held, and the ledger newest first."""

    async def balances(self, owner_id: UUID, now: datetime) -> Sequence[Balance]: ...

    async def page(
        self, owner_id: UUID, token_type_id: UUID | None, before_seq: int | None, limit: int
    ) -> tuple[Sequence[LedgerEntry], int | None]:
        """Newest first; the second value is the seq to continue before, if more remain."""
        ...


class SaveResult(StrEnum):
    SAVED = "saved"
    CONFLICT = "conflict"  # the account changed since it was loaded: nothing written
    DUPLICATE = "duplicate"  # the event id was recorded before: nothing written


@dataclass(frozen=True, slots=True)
class LoadKey:
    """What a step loads: the owner's account as seen by `task_id`, for an attempt or event."""

    owner_id: UUID
    task_id: UUID
    invocation_id: UUID | None = None
    event_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class SaveItem:
    """One step's account to save, with the event id to record with it (if any)."""

    account: Account
    event_id: UUID | None = None
    event_type: str | None = None


class IdempotencyKeyTakenError(Exception):
    """A save's credit reused an idempotency key that another credit committed with first."""


@dataclass(frozen=True, slots=True)
class CreditView:
    """What a credit decides on: the account (None: no such token type), and the entry a
    credit by the same caller with the same idempotency key wrote, if any."""

    account: Account | None
    first: LedgerEntry | None


class AccountStore(Protocol):
    """The `Account` aggregate on one connection: loaded in one query, saved in one statement."""

    async def load(
        self,
        owner_id: UUID,
        task_id: UUID,
        now: datetime,
        *,
        invocation_id: UUID | None = None,
        event_id: UUID | None = None,
    ) -> tuple[Account, bool]:
        """The owner's account as a step on `task_id` sees it, and whether `event_id` was seen."""
        ...

    async def save(
        self, account: Account, *, event_id: UUID | None = None, event_type: str | None = None
    ) -> SaveResult:
        """Write the account's changes (and record `event_id`) iff its version is unchanged;
        `IdempotencyKeyTakenError` if its credit's key was used first by another."""
        ...

    async def load_for_credit(
        self,
        owner_id: UUID,
        token_type_id: UUID,
        created_by: UUID,
        idempotency_key: str | None,
    ) -> CreditView:
        """The (owner, token type) account for a credit, in one query."""
        ...

    async def load_many(self, keys: Sequence[LoadKey], now: datetime) -> list[tuple[Account, bool]]:
        """`load` of each key, in order, in one query."""
        ...

    async def save_many(self, items: Sequence[SaveItem]) -> list[SaveResult]:
        """`save` of each item, in order, in one statement: each sees the saves before it."""
        ...


class Accounts(Protocol):
    def open(self) -> AbstractAsyncContextManager[AccountStore]:
        """A store on one pooled connection for a step's load and save (no transaction)."""
        ...


class Repositories(Protocol):
    """One repository per aggregate, and the read side: not a unit of work, since there is no
    transaction to share. Every write is one statement (the `Account`'s save, an insert), so no
    use case holds a transaction across calls."""

    @property
    def accounts(self) -> Accounts: ...

    @property
    def token_types(self) -> TokenTypes: ...

    @property
    def costs(self) -> TaskCosts: ...

    @property
    def ledger(self) -> LedgerView: ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...
