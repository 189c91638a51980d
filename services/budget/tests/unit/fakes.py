"""In-memory implementations of budget's own ports, with the database's unique rules."""

import copy
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from budget.domain.model import (
    Balance,
    EntryKind,
    Hold,
    HoldStatus,
    LedgerEntry,
    TaskCost,
    TokenType,
)


@dataclass
class State:
    token_types: dict[UUID, TokenType] = field(default_factory=dict)
    accounts: dict[tuple[UUID, UUID], int] = field(default_factory=dict)
    entries: list[LedgerEntry] = field(default_factory=list)
    costs: dict[UUID, TaskCost] = field(default_factory=dict)
    holds: dict[UUID, Hold] = field(default_factory=dict)
    events: set[UUID] = field(default_factory=set)
    aborted: set[UUID] = field(default_factory=set)


class FakeRepository:
    def __init__(self, state: State) -> None:
        self.s = state

    async def add_token_type(self, token_type: TokenType) -> bool:
        if any(t.code == token_type.code for t in self.s.token_types.values()):
            return False
        self.s.token_types[token_type.id] = token_type
        return True

    async def get_token_type(self, token_type_id: UUID) -> TokenType | None:
        return self.s.token_types.get(token_type_id)

    async def list_token_types(self) -> Sequence[TokenType]:
        return sorted(self.s.token_types.values(), key=lambda t: t.code)

    async def lock_account(self, owner_id: UUID, token_type_id: UUID) -> int:
        return self.s.accounts.setdefault((owner_id, token_type_id), 0)

    async def set_balance(self, owner_id: UUID, token_type_id: UUID, balance: int) -> None:
        self.s.accounts[(owner_id, token_type_id)] = balance

    async def add_entry(self, entry: LedgerEntry) -> bool:
        for e in self.s.entries:
            if entry.kind is EntryKind.DEBIT and e.kind is EntryKind.DEBIT and (
                e.owner_id, e.reference_id) == (entry.owner_id, entry.reference_id):  # fmt: skip
                return False
            if entry.idempotency_key is not None and (e.created_by, e.idempotency_key) == (
                entry.created_by, entry.idempotency_key):  # fmt: skip
                return False
        self.s.entries.append(entry)
        return True

    async def find_by_idempotency_key(self, created_by: UUID, key: str) -> LedgerEntry | None:
        return next(
            (e for e in self.s.entries if (e.created_by, e.idempotency_key) == (created_by, key)),
            None,
        )

    async def has_debit(self, owner_id: UUID, reference_id: str) -> bool:
        return any(
            e.kind is EntryKind.DEBIT and (e.owner_id, e.reference_id) == (owner_id, reference_id)
            for e in self.s.entries
        )

    async def balances(self, owner_id: UUID, now: datetime) -> Sequence[Balance]:
        return [
            Balance(tt, balance, await self.held(owner, tt, now))
            for (owner, tt), balance in sorted(self.s.accounts.items(), key=lambda kv: str(kv[0]))
            if owner == owner_id
        ]

    async def ledger_page(
        self, owner_id: UUID, token_type_id: UUID | None, before_seq: int | None, limit: int
    ) -> tuple[Sequence[LedgerEntry], int | None]:
        numbered = [
            (seq, e)
            for seq, e in enumerate(self.s.entries, start=1)
            if e.owner_id == owner_id and token_type_id in (None, e.token_type_id)
            and (before_seq is None or seq < before_seq)
        ][::-1]  # fmt: skip
        page = numbered[:limit]
        more = len(numbered) > limit
        return [e for _, e in page], (page[-1][0] if more else None)

    async def add_cost(self, cost: TaskCost) -> bool:
        if await self.get_cost(cost.owner_id, cost.task_id) is not None:
            return False
        self.s.costs[cost.id] = cost
        return True

    async def get_cost(self, owner_id: UUID, task_id: UUID) -> TaskCost | None:
        return next(
            (c for c in self.s.costs.values() if (c.owner_id, c.task_id) == (owner_id, task_id)),
            None,
        )

    async def get_cost_by_id(self, owner_id: UUID, cost_id: UUID) -> TaskCost | None:
        cost = self.s.costs.get(cost_id)
        return cost if cost is not None and cost.owner_id == owner_id else None

    async def list_costs(self, owner_id: UUID, task_id: UUID | None) -> Sequence[TaskCost]:
        return [
            c for c in self.s.costs.values()
            if c.owner_id == owner_id and task_id in (None, c.task_id) and c.visible
        ]  # fmt: skip

    async def delete_cost(self, cost_id: UUID) -> None:
        del self.s.costs[cost_id]

    async def mark_charged(self, cost_id: UUID, at: datetime) -> None:
        self.s.costs[cost_id] = replace(self.s.costs[cost_id], charged_at=at)

    async def mark_task_deleted(self, cost_id: UUID, at: datetime) -> None:
        self.s.costs[cost_id] = replace(self.s.costs[cost_id], task_deleted_at=at)

    async def expire_holds(self, owner_id: UUID, token_type_id: UUID, now: datetime) -> None:
        for h in list(self.s.holds.values()):
            if (h.owner_id, h.token_type_id) == (owner_id, token_type_id) and (
                h.status is HoldStatus.ACTIVE and h.expires_at <= now):  # fmt: skip
                self.s.holds[h.id] = replace(h, status=HoldStatus.EXPIRED)

    async def held(self, owner_id: UUID, token_type_id: UUID, now: datetime) -> int:
        return sum(
            h.amount
            for h in self.s.holds.values()
            if (h.owner_id, h.token_type_id) == (owner_id, token_type_id) and h.counts_at(now)
        )

    async def active_hold(self, owner_id: UUID, task_id: UUID) -> Hold | None:
        return next(
            (
                h for h in self.s.holds.values()
                if (h.owner_id, h.task_id) == (owner_id, task_id) and h.status is HoldStatus.ACTIVE
            ),
            None,
        )  # fmt: skip

    async def add_hold(self, hold: Hold) -> None:
        assert await self.active_hold(hold.owner_id, hold.task_id) is None, "unique index"
        self.s.holds[hold.id] = hold

    async def set_hold_status(self, hold_id: UUID, status: HoldStatus) -> None:
        self.s.holds[hold_id] = replace(self.s.holds[hold_id], status=status)

    async def bind_hold(self, hold_id: UUID, invocations: frozenset[UUID]) -> None:
        self.s.holds[hold_id] = replace(self.s.holds[hold_id], invocations=invocations)

    async def record_aborted_invocation(
        self, invocation_id: UUID, owner_id: UUID, task_id: UUID
    ) -> None:
        self.s.aborted.add(invocation_id)

    async def is_aborted_invocation(self, invocation_id: UUID) -> bool:
        return invocation_id in self.s.aborted

    async def record_event(self, event_id: UUID, event_type: str) -> bool:
        if event_id in self.s.events:
            return False
        self.s.events.add(event_id)
        return True


class FakeUnitOfWork:
    """Commits by keeping the changes; a block that raises leaves the state as it was."""

    def __init__(self) -> None:
        self.state = State()
        self.commits = 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeRepository]:
        snapshot = copy.deepcopy(self.state)
        try:
            yield FakeRepository(self.state)
        except BaseException:
            self.state.__dict__.update(snapshot.__dict__)
            raise
        self.commits += 1


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta
