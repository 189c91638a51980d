"""What the use cases need from storage: one repository per transaction, opened by a UoW.

The SQLAlchemy adapter implements these on PostgreSQL; unit tests use in-memory fakes.
Every method is owner-scoped where the data is; `lock_account` is the serialisation point of
every change to a balance.
"""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol
from uuid import UUID

from budget.domain.model import Balance, Hold, HoldStatus, LedgerEntry, TaskCost, TokenType


class BudgetRepository(Protocol):
    # token types
    async def add_token_type(self, token_type: TokenType) -> bool:
        """Insert; False if the code is taken."""
        ...

    async def get_token_type(self, token_type_id: UUID) -> TokenType | None: ...

    async def list_token_types(self) -> Sequence[TokenType]: ...

    # accounts and the ledger
    async def lock_account(self, owner_id: UUID, token_type_id: UUID) -> int:
        """Create the account if missing, lock its row until commit, return its balance."""
        ...

    async def set_balance(self, owner_id: UUID, token_type_id: UUID, balance: int) -> None: ...

    async def add_entry(self, entry: LedgerEntry) -> bool:
        """Append; False if it would be a second debit of a task or a reused idempotency key."""
        ...

    async def find_by_idempotency_key(self, created_by: UUID, key: str) -> LedgerEntry | None: ...

    async def has_debit(self, owner_id: UUID, reference_id: str) -> bool: ...

    async def balances(self, owner_id: UUID, now: datetime) -> Sequence[Balance]: ...

    async def ledger_page(
        self, owner_id: UUID, token_type_id: UUID | None, before_seq: int | None, limit: int
    ) -> tuple[Sequence[LedgerEntry], int | None]:
        """Newest first; the second value is the seq to continue before, if more remain."""
        ...

    # task costs
    async def add_cost(self, cost: TaskCost) -> bool:
        """Insert; False if the owner already has a cost for the task."""
        ...

    async def get_cost(self, owner_id: UUID, task_id: UUID) -> TaskCost | None: ...

    async def get_cost_by_id(self, owner_id: UUID, cost_id: UUID) -> TaskCost | None: ...

    async def list_costs(self, owner_id: UUID, task_id: UUID | None) -> Sequence[TaskCost]:
        """The owner's visible costs (`TaskCost.visible`)."""
        ...

    async def delete_cost(self, cost_id: UUID) -> None: ...

    async def mark_charged(self, cost_id: UUID, at: datetime) -> None: ...

    async def mark_task_deleted(self, cost_id: UUID, at: datetime) -> None: ...

    # holds
    async def expire_holds(self, owner_id: UUID, token_type_id: UUID, now: datetime) -> None:
        """Mark the account's active holds that passed `expires_at` as expired."""
        ...

    async def held(self, owner_id: UUID, token_type_id: UUID, now: datetime) -> int: ...

    async def active_hold(self, owner_id: UUID, task_id: UUID) -> Hold | None: ...

    async def add_hold(self, hold: Hold) -> None: ...

    async def set_hold_status(self, hold_id: UUID, status: HoldStatus) -> None: ...

    async def bind_hold(self, hold_id: UUID, invocations: frozenset[UUID]) -> None:
        """Set the completion attempts the hold backs."""
        ...

    # aborted completion attempts
    async def record_aborted_invocation(
        self, invocation_id: UUID, owner_id: UUID, task_id: UUID
    ) -> None:
        """Remember forever that this hook invocation's completion was aborted."""
        ...

    async def is_aborted_invocation(self, invocation_id: UUID) -> bool: ...

    # consumed events
    async def record_event(self, event_id: UUID, event_type: str) -> bool:
        """Remember an event id forever; False if it was seen before."""
        ...


class UnitOfWork(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[BudgetRepository]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...
