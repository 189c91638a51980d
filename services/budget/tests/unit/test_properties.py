"""Property: whatever the sequence of credits, holds, completions and deletions, the balance
equals the sum of the ledger entries and no task is ever debited twice."""

import contextlib
from collections import Counter
from datetime import timedelta
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from budget.domain.model import EntryKind
from budget.service_layer import costs, hook, ledger
from budget.service_layer.errors import ConflictError
from budget.service_layer.events import handle_event
from contracts.events import TaskCompleted, TaskDeleted
from contracts.identity import ADMIN_ROLE, Caller
from contracts.ids import EventId, OwnerId, TaskId
from tests.unit.fakes import FakeClock, FakeRepositories

TASKS = 4
ADMIN = Caller(owner_id=OwnerId(uuid4()), roles=frozenset({ADMIN_ROLE}))

step = st.one_of(
    st.tuples(st.just("credit"), st.integers(1, 20)),
    st.tuples(st.just("cost"), st.integers(0, TASKS - 1), st.integers(1, 20)),
    st.tuples(st.just("hook"), st.integers(0, TASKS - 1)),
    st.tuples(st.just("complete"), st.integers(0, TASKS - 1), st.booleans()),
    st.tuples(st.just("delete"), st.integers(0, TASKS - 1)),
    st.tuples(st.just("time"), st.integers(1, 15)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=30))
async def test_balance_is_the_sum_of_entries_and_each_task_is_debited_once(
    steps: list[tuple[object, ...]],
) -> None:
    repos, clock = FakeRepositories(), FakeClock()
    owner = uuid4()
    caller = Caller(owner_id=OwnerId(owner), roles=frozenset())
    tt = await ledger.create_token_type(repos, ADMIN, "gold", "Gold")
    tasks: list[UUID] = [uuid4() for _ in range(TASKS)]
    last_event: dict[int, EventId] = {}
    for op, *args in steps:
        if op == "credit":
            await ledger.credit(
                repos, clock, ADMIN, ledger.CreditRequest(owner, tt.id, args[0], None)
            )
        elif op == "cost":
            with contextlib.suppress(ConflictError):
                await costs.add_cost(repos, caller, tasks[args[0]], tt.id, args[1])
        elif op == "hook":
            await hook.before_complete_task(
                repos, clock, timedelta(minutes=10), owner, tasks[args[0]]
            )
        elif op == "complete":
            i, redeliver = args
            event_id = last_event.get(i) if redeliver else None
            event_id = event_id or EventId(uuid4())
            last_event[i] = event_id
            event = TaskCompleted(
                task_id=TaskId(tasks[i]), owner_id=OwnerId(owner), title="t", completed_at=clock()
            )
            await handle_event(repos, clock, event_id, event)
        elif op == "delete":
            event = TaskDeleted(
                task_id=TaskId(tasks[args[0]]), owner_id=OwnerId(owner), deleted_at=clock()
            )
            await handle_event(repos, clock, EventId(uuid4()), event)
        else:
            clock.advance(timedelta(minutes=args[0]))

        entries = repos.state.entries
        for (o, t), balance in repos.state.accounts.items():
            assert balance == sum(
                e.amount for e in entries if (e.owner_id, e.token_type_id) == (o, t)
            )
        debits = Counter(e.reference_id for e in entries if e.kind is EntryKind.DEBIT)
        assert all(n == 1 for n in debits.values())
        for bal in await ledger.balances(repos, clock, caller):
            assert bal.held >= 0
