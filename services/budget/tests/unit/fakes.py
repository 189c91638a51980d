"""In-memory implementations of budget's own ports, with the database's unique rules."""

import copy
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from budget.domain.account import Account
from budget.domain.model import (
    Balance,
    EntryKind,
    Hold,
    HoldStatus,
    LedgerEntry,
    TaskCost,
    TokenType,
)
from budget.service_layer.ports import (
    CreditView,
    IdempotencyKeyTakenError,
    LoadKey,
    SaveItem,
    SaveResult,
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
    versions: dict[tuple[UUID, UUID], int] = field(default_factory=dict)


class _Fake:
    def __init__(self, state: State) -> None:
        self.s = state


class FakeTokenTypes(_Fake):
    async def add(self, token_type: TokenType) -> bool:
        if any(t.code == token_type.code for t in self.s.token_types.values()):
            return False
        self.s.token_types[token_type.id] = token_type
        return True

    async def get(self, token_type_id: UUID) -> TokenType | None:
        return self.s.token_types.get(token_type_id)

    async def list(self) -> Sequence[TokenType]:
        return sorted(self.s.token_types.values(), key=lambda t: t.code)


class FakeLedgerView(_Fake):
    async def balances(self, owner_id: UUID, now: datetime) -> Sequence[Balance]:
        return [
            Balance(tt, balance, self._held(owner, tt, now))
            for (owner, tt), balance in sorted(self.s.accounts.items(), key=lambda kv: str(kv[0]))
            if owner == owner_id
        ]

    def _held(self, owner_id: UUID, token_type_id: UUID, now: datetime) -> int:
        return sum(
            h.amount
            for h in self.s.holds.values()
            if (h.owner_id, h.token_type_id) == (owner_id, token_type_id) and h.counts_at(now)
        )

    async def page(
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


class FakeTaskCosts(_Fake):
    async def add(self, cost: TaskCost) -> bool:
        if await self.get(cost.owner_id, cost.task_id) is not None:
            return False
        self.s.costs[cost.id] = cost
        return True

    async def get(self, owner_id: UUID, task_id: UUID) -> TaskCost | None:
        return next(
            (c for c in self.s.costs.values() if (c.owner_id, c.task_id) == (owner_id, task_id)),
            None,
        )

    async def get_by_id(self, owner_id: UUID, cost_id: UUID) -> TaskCost | None:
        cost = self.s.costs.get(cost_id)
        return cost if cost is not None and cost.owner_id == owner_id else None

    async def list(self, owner_id: UUID, task_id: UUID | None) -> Sequence[TaskCost]:
        return [
            c for c in self.s.costs.values()
            if c.owner_id == owner_id and task_id in (None, c.task_id) and c.visible
        ]  # fmt: skip


class FakeAccounts:
    """The `Accounts` port in memory: a save applies only over the version it loaded."""

    def __init__(self, state: State) -> None:
        self.s = state
        self.loads = 0
        self.saves = 0

    @asynccontextmanager
    async def open(self) -> AsyncIterator["FakeAccounts"]:
        yield self

    async def load(
        self,
        owner_id: UUID,
        task_id: UUID,
        now: datetime,
        *,
        invocation_id: UUID | None = None,
        event_id: UUID | None = None,
    ) -> tuple[Account, bool]:
        self.loads += 1
        cost = next(
            (c for c in self.s.costs.values() if (c.owner_id, c.task_id) == (owner_id, task_id)),
            None,
        )
        hold = next(
            (
                h for h in self.s.holds.values()
                if (h.owner_id, h.task_id) == (owner_id, task_id) and h.status is HoldStatus.ACTIVE
            ),
            None,
        )  # fmt: skip
        tt = cost.token_type_id if cost else hold.token_type_id if hold else None
        token_type = self.s.token_types.get(tt) if tt else None
        account = Account(
            owner_id=owner_id,
            task_id=task_id,
            token_type_id=tt,
            code=token_type.code if token_type else str(tt),
            opening_balance=self.s.accounts.get((owner_id, tt), 0) if tt else 0,
            version=self.s.versions.get((owner_id, tt), 0) if tt else 0,
            cost=cost,
            task_hold=hold,
            held_by_others=sum(
                h.amount
                for h in self.s.holds.values()
                if (h.owner_id, h.token_type_id) == (owner_id, tt)
                and h.task_id != task_id
                and h.counts_at(now)
            ),
            debited=any(
                e.kind is EntryKind.DEBIT
                and (e.owner_id, e.reference_id) == (owner_id, str(task_id))
                for e in self.s.entries
            ),
            invocation_aborted=invocation_id in self.s.aborted,
            hold_lapsed=event_id is not None
            and any(
                (h.owner_id, h.task_id) == (owner_id, task_id) and h.status is HoldStatus.EXPIRED
                for h in self.s.holds.values()
            ),
        )
        return copy.deepcopy(account), event_id in self.s.events

    async def save(
        self, account: Account, *, event_id: UUID | None = None, event_type: str | None = None
    ) -> SaveResult:
        self.saves += 1
        key = (account.owner_id, account.token_type_id)
        if account.token_type_id is not None:
            if self.s.versions.get(key, 0) != account.version:  # type: ignore[arg-type]
                return SaveResult.CONFLICT
            self.s.versions[key] = account.version + 1  # type: ignore[index]
            self.s.accounts[key] = account.balance  # type: ignore[index]
        elif event_id is not None and event_id in self.s.events:
            return SaveResult.DUPLICATE
        if event_id is not None:
            self.s.events.add(event_id)
        for entry in account.entries:
            if entry.idempotency_key is not None and any(
                (e.created_by, e.idempotency_key) == (entry.created_by, entry.idempotency_key)
                for e in self.s.entries
            ):
                raise IdempotencyKeyTakenError(entry.idempotency_key)
        for entry in account.entries:
            assert entry.kind is not EntryKind.DEBIT or not any(
                e.kind is EntryKind.DEBIT
                and (e.owner_id, e.reference_id) == (entry.owner_id, entry.reference_id)
                for e in self.s.entries
            ), "unique index: one debit per task"
            self.s.entries.append(entry)
        cost = account.changed_cost or account.cost
        if cost is not None and account.cost_removed:
            del self.s.costs[cost.id]
        elif account.changed_cost is not None:
            self.s.costs[cost.id] = account.changed_cost  # type: ignore[union-attr]
        if account.changed_hold is not None:
            self.s.holds[account.changed_hold.id] = account.changed_hold
        if account.expire_until is not None:
            for h in list(self.s.holds.values()):
                if (h.owner_id, h.token_type_id) == key and h.status is HoldStatus.ACTIVE and (
                    h.expires_at <= account.expire_until):  # fmt: skip
                    self.s.holds[h.id] = replace(h, status=HoldStatus.EXPIRED)
        if account.new_hold is not None:
            new = account.new_hold
            assert not any(
                h.status is HoldStatus.ACTIVE
                and (h.owner_id, h.task_id) == (new.owner_id, new.task_id)
                for h in self.s.holds.values()
            ), "unique index: one active hold per task"
            self.s.holds[new.id] = new
        if account.aborted_invocation is not None:
            self.s.aborted.add(account.aborted_invocation)
        return SaveResult.SAVED

    async def load_for_credit(
        self, owner_id: UUID, token_type_id: UUID, created_by: UUID, idempotency_key: str | None
    ) -> CreditView:
        self.loads += 1
        first = next(
            (
                e for e in self.s.entries
                if idempotency_key is not None
                and (e.created_by, e.idempotency_key) == (created_by, idempotency_key)
            ),
            None,
        )  # fmt: skip
        token_type = self.s.token_types.get(token_type_id)
        if token_type is None:
            return CreditView(None, first)
        account = Account(
            owner_id=owner_id,
            task_id=UUID(int=0),
            token_type_id=token_type_id,
            code=token_type.code,
            opening_balance=self.s.accounts.get((owner_id, token_type_id), 0),
            version=self.s.versions.get((owner_id, token_type_id), 0),
        )
        return CreditView(account, first)

    async def load_many(self, keys: Sequence[LoadKey], now: datetime) -> list[tuple[Account, bool]]:
        return [
            await self.load(k.owner_id, k.task_id, now, invocation_id=k.invocation_id,
                            event_id=k.event_id)
            for k in keys
        ]  # fmt: skip

    async def save_many(self, items: Sequence[SaveItem]) -> list[SaveResult]:
        return [
            await self.save(i.account, event_id=i.event_id, event_type=i.event_type) for i in items
        ]


class FakeRepositories:
    """budget's repositories in memory, on one shared state."""

    def __init__(self) -> None:
        self.state = State()
        self.accounts = FakeAccounts(self.state)
        self.token_types = FakeTokenTypes(self.state)
        self.costs = FakeTaskCosts(self.state)
        self.ledger = FakeLedgerView(self.state)


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta
