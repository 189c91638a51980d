"""A model-based test of the money path on the real PostgreSQL adapters (Hypothesis stateful).

Hypothesis generates, for two owners and a few tasks each: credits, cost changes, hook calls
(new attempts, retries of an attempt, late calls after the caller gave up), what todos then
does with each attempt (completes the task, or aborts the attempt), deletions, the events that
follow, delivered in any order, one by one or in the consumer's batches, again with the same id
or under a new one, and clock jumps across the hold TTL. todos' own rules decide which events
exist (an allow that came after the attempt's deadline is a failure to todos: it aborts).

After every step: the balance column = the API's balance = the sum of the entries; at most one
debit per task; `held` = the sum of live holds; and a balance below zero only for an owner one
of whose debits no live hold backed (its TTL passed first, or the cost was set after the hook
allowed), which the consumer counts. At the end, once every attempt is settled and every event
delivered: each charged cost has its one debit and each debit its charged cost, and no live hold
is left.

`make test` runs the profile `money` (a few hundred examples); `make test-faults` runs it with
MONEY_MODEL_PROFILE=money-long.
"""

import asyncio
import contextlib
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from budget.adapters.repository import SqlRepositories
from budget.adapters.tables import holds, ledger_entries
from budget.config import Settings
from budget.service_layer import costs, events, hook, ledger
from budget.service_layer.errors import ConflictError, NotFoundError
from contracts.events import IntegrationEvent, TaskCompleted, TaskCompletionAborted, TaskDeleted
from contracts.identity import ADMIN_ROLE, Caller
from contracts.ids import EventId, InvocationId, OwnerId, TaskId, TokenTypeId
from tests.conftest import TEST_DATABASE_URL

TTL = Settings().hold_ttl
HOOK_DEADLINE = timedelta(seconds=2)
OWNERS, TASKS = 2, 3
UNBACKED = {events.Outcome.DEBITED_AFTER_HOLD_EXPIRED, events.Outcome.DEBITED_WITHOUT_HOLD}

# Per owner of the token type, in one query: the balance column, the sum of the entries, the
# sum of the live holds, and the most debits any one task has.
BOOKS = text("""
SELECT a.owner_id, a.balance AS column_balance,
       (SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e
         WHERE e.owner_id = a.owner_id AND e.token_type_id = a.token_type_id) AS total,
       (SELECT coalesce(sum(h.amount), 0) FROM holds h
         WHERE h.owner_id = a.owner_id AND h.token_type_id = a.token_type_id
           AND h.status = 'active' AND h.expires_at > :now) AS live,
       (SELECT max(n) FROM (SELECT count(*) AS n FROM ledger_entries d
          WHERE d.owner_id = a.owner_id AND d.kind = 'debit' GROUP BY d.reference_id) x)
         AS most_debits
FROM accounts a WHERE a.token_type_id = :tt
""")

for name, examples, steps in (("money", 150, 30), ("money-smoke", 10, 20), ("money-long", 600, 50)):
    settings.register_profile(
        name,
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


@dataclass
class Attempt:
    """One completion attempt as todos sees it."""

    id: InvocationId
    task: int
    deadline: datetime
    allowed: bool | None = None  # the last answer todos got
    answered_in_time: bool = False
    settled: bool = False


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


# What the runs did, printed at the end of the test (run pytest with -s to see it).
STATS: Counter[str] = Counter()


class MoneyModel(RuleBasedStateMachine):
    """todos' side as a model, budget's side the real use cases on PostgreSQL."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.engine: AsyncEngine = create_async_engine(TEST_DATABASE_URL, pool_size=2)
        self.repos = SqlRepositories(self.engine)
        self.clock = Clock()
        self.owners = [uuid4() for _ in range(OWNERS)]
        self.tasks = [(o, uuid4()) for o in self.owners for _ in range(TASKS)]
        self.status = ["open"] * len(self.tasks)  # todos' view: open, completed, deleted
        self.completed: set[UUID] = set()
        self.attempts: list[Attempt] = []
        self.pending: list[tuple[EventId, IntegrationEvent]] = []
        self.delivered: list[tuple[EventId, IntegrationEvent]] = []
        self.unbacked: set[UUID] = set()  # owners with a debit no live hold backed
        self._overdrawn: set[UUID] = set()
        self.token_type: TokenTypeId | None = None

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        try:
            self._finish()
        finally:
            self.run(self.engine.dispose())
            self.loop.close()

    @initialize()
    def token_type_and_first_credit(self) -> None:
        admin = Caller(owner_id=OwnerId(uuid4()), roles=frozenset({ADMIN_ROLE}))
        created = self.run(
            ledger.create_token_type(self.repos, admin, f"m-{uuid4().hex[:12]}", "Model")
        )
        self.token_type = created.id
        for owner in self.owners:
            self._credit(owner, 10)
        for owner, task_id in self.tasks:  # any two tasks of an owner compete for its tokens
            self.run(costs.add_cost(self.repos, _caller(owner), TaskId(task_id), created.id, 6))

    # --- budget's API
    @rule(owner=st.integers(0, OWNERS - 1), amount=st.sampled_from([2, 5]))
    def credit(self, owner: int, amount: int) -> None:
        self._credit(self.owners[owner], amount)

    @rule(task=st.integers(0, OWNERS * TASKS - 1), amount=st.sampled_from([6, 3]))
    def add_cost(self, task: int, amount: int) -> None:
        owner, task_id = self.tasks[task]
        assert self.token_type is not None
        with contextlib.suppress(ConflictError):  # one cost per task; a deleted task takes none
            self.run(
                costs.add_cost(self.repos, _caller(owner), TaskId(task_id), self.token_type, amount)
            )

    @rule(task=st.integers(0, OWNERS * TASKS - 1))
    def remove_cost(self, task: int) -> None:
        owner, task_id = self.tasks[task]
        for cost in self.run(costs.list_costs(self.repos, _caller(owner), task_id)):
            with contextlib.suppress(
                ConflictError, NotFoundError
            ):  # charged, or held by a completion
                self.run(costs.delete_cost(self.repos, _caller(owner), cost.id, clock=self.clock))

    # --- todos: hook calls, and what it does with their answers
    @precondition(lambda self: "open" in self.status)
    @rule(pick=st.integers(0, 1000))
    def start_attempt(self, pick: int) -> None:
        # todos calls no hook for a completed or deleted task
        open_tasks = [i for i, s in enumerate(self.status) if s == "open"]
        task = open_tasks[pick % len(open_tasks)]
        attempt = Attempt(InvocationId(uuid4()), task, self.clock.now + HOOK_DEADLINE)
        self.attempts.append(attempt)
        self._call(attempt)

    @precondition(lambda self: any(not a.settled for a in self.attempts))
    @rule(pick=st.integers(0, 1000))
    def retry_attempt(self, pick: int) -> None:
        """The same invocation again: the first answer was lost, or came late."""
        attempt = _pick([a for a in self.attempts if not a.settled], pick)
        self._call(attempt)

    @precondition(lambda self: any(not a.settled for a in self.attempts))
    @rule(pick=st.integers(0, 1000), abort=st.booleans())
    def settle_attempt(self, pick: int, abort: bool) -> None:
        """todos completes the task, or aborts (another hook vetoed, the store failed)."""
        self._settle(_pick([a for a in self.attempts if not a.settled], pick), abort)

    @precondition(lambda self: any(a.settled for a in self.attempts))
    @rule(pick=st.integers(0, 1000))
    def late_call(self, pick: int) -> None:
        """A call of an attempt todos gave up on reaches budget at last (a slow network)."""
        attempt = _pick([a for a in self.attempts if a.settled], pick)
        if self.clock.now > attempt.deadline:
            self._hook(attempt)

    @rule(task=st.integers(0, OWNERS * TASKS - 1), open_too=st.integers(0, 3))
    def delete_task(self, task: int, open_too: int) -> None:
        """Mostly a completed task (its events race); now and then an open one."""
        if self.status[task] == "deleted" or (self.status[task] == "open" and open_too):
            return
        self.status[task] = "deleted"
        owner, task_id = self.tasks[task]
        self._emit(
            TaskDeleted(task_id=TaskId(task_id), owner_id=OwnerId(owner), deleted_at=self.clock())
        )

    # --- the broker: any order, again, in batches
    @precondition(lambda self: bool(self.pending))
    @rule(pick=st.integers(0, 1000), keep=st.booleans())
    def deliver(self, pick: int, keep: bool) -> None:
        """One event; `keep`: it is delivered again later (a redelivery, same id)."""
        item = self.pending[pick % len(self.pending)]
        if not keep:
            self.pending.remove(item)
        self._apply([item])

    @precondition(lambda self: bool(self.pending))
    @rule(picks=st.lists(st.integers(0, 1000), min_size=2, max_size=6))
    def deliver_batch(self, picks: list[int]) -> None:
        """The consumer's batch: several events in one load and one save."""
        batch = [self.pending[p % len(self.pending)] for p in picks]
        for item in batch:
            if item in self.pending:
                self.pending.remove(item)
        self._apply(batch)

    @precondition(lambda self: bool(self.delivered))
    @rule(pick=st.integers(0, 1000))
    def deliver_under_a_new_id(self, pick: int) -> None:
        """The same fact published again under another event id."""
        _, event = self.delivered[pick % len(self.delivered)]
        self._apply([(EventId(uuid4()), event)])

    @rule(jump=st.sampled_from(["1s", "1s", "1s", "ttl-0.5s", "ttl+1s"]))
    def tick(self, jump: str) -> None:
        STATS[f"clock jumps: {jump}"] += 1
        self.clock.now += {
            "1s": timedelta(seconds=1),
            "ttl-0.5s": TTL - timedelta(seconds=0.5),
            "ttl+1s": TTL + timedelta(seconds=1),
        }[jump]

    # --- checks
    @invariant()
    def books_balance(self) -> None:
        if self.token_type is not None:
            self.run(self._check_books())

    # --- helpers
    def _credit(self, owner: UUID, amount: int) -> None:
        admin = Caller(owner_id=OwnerId(uuid4()), roles=frozenset({ADMIN_ROLE}))
        assert self.token_type is not None
        request = ledger.CreditRequest(owner, self.token_type, amount, None)
        self.run(ledger.credit(self.repos, self.clock, admin, request))

    def _hook(self, attempt: Attempt) -> hook.Decision:
        owner, task_id = self.tasks[attempt.task]
        decision: hook.Decision = self.run(
            hook.before_complete_task(
                self.repos,
                self.clock,
                TTL,
                owner,
                task_id,
                invocation_id=attempt.id,
                deadline=attempt.deadline,
            )
        )
        return decision

    def _call(self, attempt: Attempt) -> None:
        decision = self._hook(attempt)
        STATS["hook calls: allow" if decision.allowed else "hook calls: veto"] += 1
        attempt.allowed = decision.allowed
        attempt.answered_in_time = self.clock.now <= attempt.deadline

    def _settle(self, attempt: Attempt, abort: bool) -> None:
        """What todos does once the hooks answered (or it gave up)."""
        attempt.settled = True
        owner, task_id = self.tasks[attempt.task]
        if attempt.allowed is False:
            return  # budget vetoed: nothing held, no abort sent
        allowed = attempt.allowed and attempt.answered_in_time
        if allowed and not abort and self.status[attempt.task] == "open":
            self.status[attempt.task] = "completed"
            self.completed.add(task_id)
            self._emit(
                TaskCompleted(
                    task_id=TaskId(task_id),
                    owner_id=OwnerId(owner),
                    title="t",
                    completed_at=self.clock(),
                )
            )
        elif self.status[attempt.task] != "completed" or abort:
            # Not completed by this attempt (vetoed elsewhere, too late, the task deleted): the
            # attempt is aborted. When another attempt completed the task, todos answers with
            # it and aborts nothing; modelled as an abort here only when `abort` was drawn.
            self._emit(
                TaskCompletionAborted(
                    task_id=TaskId(task_id),
                    owner_id=OwnerId(owner),
                    aborted_at=self.clock(),
                    reason="model",
                    invocation_id=attempt.id,
                )
            )

    def _emit(self, event: IntegrationEvent) -> None:
        self.pending.append((EventId(uuid4()), event))

    def _apply(self, batch: list[tuple[EventId, IntegrationEvent]]) -> None:
        outcomes = self.run(events.handle_events(self.repos, self.clock, batch))
        STATS["deliveries: batches" if len(batch) > 1 else "deliveries: single"] += 1
        for (event_id, event), outcome in zip(batch, outcomes, strict=True):
            STATS[f"events: {event.event_type.split('.')[2]} -> {outcome.value}"] += 1
            if (event_id, event) not in self.delivered:
                self.delivered.append((event_id, event))
            if outcome in UNBACKED:
                self.unbacked.add(getattr(event, "owner_id"))  # noqa: B009

    def _finish(self) -> None:
        """Every attempt settled, every event delivered: then the end state is checked."""
        if self.token_type is None:
            return
        for attempt in self.attempts:
            if not attempt.settled:
                self._settle(attempt, abort=False)
        while self.pending:
            self._apply([self.pending.pop(0)])
        self.run(self._check_books())
        self.run(self._check_end())
        STATS["runs checked to the end"] += 1
        STATS["attempts"] += len(self.attempts)
        STATS["owners overdrawn by an unbacked debit"] += len(self.unbacked & self._overdrawn)

    async def _check_books(self) -> None:
        async with self.engine.connect() as conn:
            rows = {
                r.owner_id: r
                for r in await conn.execute(BOOKS, {"tt": self.token_type, "now": self.clock.now})
            }
        for owner in self.owners:
            row = rows.get(owner)
            column, total, live, most = (
                (row.column_balance, row.total, row.live, row.most_debits) if row else (0, 0, 0, 0)
            )
            assert (column or 0) == total, "the balance column is the sum of the entries"
            [api] = [
                b
                for b in await ledger.balances(self.repos, self.clock, _caller(owner))
                if b.token_type_id == self.token_type
            ]
            assert api.balance == total, "the API's balance is the sum of the entries"
            assert api.held == live, "held is the sum of the live holds"
            assert (most or 0) <= 1, "a task debited twice"
            if total < 0:
                self._overdrawn.add(owner)
            assert total >= 0 or owner in self.unbacked, (
                f"owner {owner} overdrawn ({total}) though every debit had a live hold"
            )

    async def _check_end(self) -> None:
        e, h = ledger_entries.c, holds.c
        async with self.engine.connect() as conn:
            for owner in self.owners:
                live = (
                    await conn.execute(
                        select(func.count()).where(
                            h.owner_id == owner,
                            h.status == "active",
                            h.expires_at > self.clock.now,
                        )
                    )
                ).scalar_one()
                assert live == 0, "a hold outlived every attempt it backed"
                debited = set(
                    (
                        await conn.execute(
                            select(e.reference_id).where(e.owner_id == owner, e.kind == "debit")
                        )
                    ).scalars()
                )
                charged = {
                    str(c.task_id)
                    for c in await costs.list_costs(self.repos, _caller(owner), None)
                    if c.charged_at is not None
                }
                assert debited == charged, "each charged cost has its one debit, and only those"
                completed = {str(t) for o, t in self.tasks if o == owner and t in self.completed}
                assert debited <= completed, "only a completed task is debited"


def _caller(owner: UUID) -> Caller:
    return Caller(owner_id=OwnerId(owner), roles=frozenset())


def _pick(items: list[Attempt], pick: int) -> Attempt:
    return items[pick % len(items)]


@pytest.mark.timeout(3600)  # the long profile; the default one takes about a minute
@pytest.mark.usefixtures("migrated_database")
def test_money_is_never_spent_twice_in_any_order() -> None:
    profile = os.environ.get("MONEY_MODEL_PROFILE", "money")
    STATS.clear()
    run_state_machine_as_test(MoneyModel, settings=settings.get_profile(profile))
    print(f"\nmoney model, profile {profile}:")
    for name, count in sorted(STATS.items()):
        print(f"  {name}: {count}")
