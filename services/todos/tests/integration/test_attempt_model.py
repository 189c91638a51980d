"""A model-based test of where an attempt's outcome is decided: todos' side of the money path.

On the real PostgreSQL store, Hypothesis interleaves completion attempts of a few tasks: the
completing statement (whose answer may be lost after it ran, so the service then tries the
abort), aborts (a veto elsewhere, or the background retry of one), a completing statement that
reaches the server only after its attempt was aborted, and deletions. After every step: a task
has at most one `completed` event, exactly one if it is completed; no attempt has both
outcomes; an abort event exists only for an attempt recorded as aborted. These are what budget
relies on to release a hold only for an attempt that will never complete.
"""

import asyncio
import contextlib
import os
from collections import Counter
from typing import Any
from uuid import UUID, uuid4

import asyncpg  # type: ignore[import-untyped]
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
from sqlalchemy import select, text

from contracts.events import TaskCompleted, TaskCompletionAborted
from contracts.ids import InvocationId, OwnerId, TaskId
from tests.conftest import TEST_DATABASE_URL
from todos.adapters.completions import SqlCompletionStore
from todos.adapters.db import DriverPool, make_engine
from todos.adapters.tables import completion_attempts
from todos.adapters.unit_of_work import SqlUnitOfWork
from todos.bootstrap import utc_now
from todos.domain.model import Task
from todos.service_layer import tasks
from todos.service_layer.errors import TaskNotFoundError

TASKS = 3
for name, examples, steps in (("attempts", 60, 25), ("attempts-long", 300, 40)):
    settings.register_profile(
        name,
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )

# Per task of this run: its completed events, and the attempts its abort events name.
EVENTS = text("""
SELECT (envelope->'data'->>'task_id')::uuid AS task_id, event_type,
       envelope->'data'->>'invocation_id' AS invocation_id
FROM outbox WHERE (envelope->'data'->>'task_id')::uuid = ANY(:tasks)
""")


class AttemptModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.engine = make_engine(TEST_DATABASE_URL, pool_size=2)
        self.pool = DriverPool(TEST_DATABASE_URL, size=2)
        self.store = SqlCompletionStore(self.pool, lambda: "model")
        self.owner = OwnerId(uuid4())
        self.tasks: list[Task] = []
        self.attempts: list[tuple[int, InvocationId]] = []
        self.completed: set[int] = set()  # completed tasks (deleted ones included)

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        self.run(self.pool.close())
        self.run(self.engine.dispose())
        self.loop.close()

    @initialize()
    def create_tasks(self) -> None:
        for i in range(TASKS):
            self.tasks.append(
                self.run(
                    tasks.create_task(
                        lambda: SqlUnitOfWork(self.engine, lambda: "m"),
                        utc_now,
                        self.owner,
                        f"t{i}",
                        None,
                    )
                )
            )

    @rule(task=st.integers(0, TASKS - 1))
    def start_attempt(self, task: int) -> None:
        self.attempts.append((task, InvocationId(uuid4())))

    @precondition(lambda self: bool(self.attempts))
    @rule(pick=st.integers(0, 1000), answer_lost=st.booleans())
    def complete(self, pick: int, answer_lost: bool) -> None:
        """The completing statement; if its answer is lost, the service tries the abort."""
        task, attempt = self.attempts[pick % len(self.attempts)]
        done = self.run(self._complete(task, attempt))
        STATS["completing statements: " + ("won" if done else "wrote nothing")] += 1
        if done:
            self.completed.add(task)
            if answer_lost:
                recorded = self.run(self.store.record_abort(self._abort(task, attempt)))
                assert not recorded, "an abort recorded for an attempt whose completion committed"

    @precondition(lambda self: bool(self.attempts))
    @rule(pick=st.integers(0, 1000))
    def abort(self, pick: int) -> None:
        task, attempt = self.attempts[pick % len(self.attempts)]
        recorded = self.run(self.store.record_abort(self._abort(task, attempt)))
        STATS["aborts: " + ("recorded" if recorded else "outcome already decided")] += 1

    @rule(task=st.integers(0, TASKS - 1))
    def delete(self, task: int) -> None:
        with contextlib.suppress(TaskNotFoundError):
            self.run(
                tasks.delete_task(
                    lambda: SqlUnitOfWork(self.engine, lambda: "m"),
                    utc_now,
                    self.owner,
                    self.tasks[task].id,
                )
            )

    @invariant()
    def one_outcome_per_attempt(self) -> None:
        if self.tasks:
            self.run(self._check())

    async def _complete(self, task: int, attempt: InvocationId) -> bool:
        current = await self.store.load(self.owner, self.tasks[task].id)
        if current is None or current.is_completed:
            return False
        current.complete(utc_now())
        [event] = [e for e in current.pull_events() if isinstance(e, TaskCompleted)]
        try:
            return await self.store.complete(current, event, attempt)
        except asyncpg.UniqueViolationError:
            return False  # the attempt was aborted first: the statement fails as a whole

    def _abort(self, task: int, attempt: InvocationId) -> TaskCompletionAborted:
        return TaskCompletionAborted(
            task_id=TaskId(self.tasks[task].id),
            owner_id=self.owner,
            aborted_at=utc_now(),
            reason="model",
            invocation_id=attempt,
        )

    async def _check(self) -> None:
        ids = [t.id for t in self.tasks]
        async with self.engine.connect() as conn:
            rows = (await conn.execute(EVENTS, {"tasks": ids})).all()
            outcomes = dict(
                (
                    await conn.execute(
                        select(completion_attempts.c.invocation_id, completion_attempts.c.outcome)
                        .where(completion_attempts.c.task_id.in_(ids))
                    )
                ).all()
            )  # fmt: skip
        completed_events = Counter(r.task_id for r in rows if r.event_type.endswith("completed.v1"))
        aborted = {UUID(r.invocation_id) for r in rows if r.event_type.endswith("aborted.v1")}
        for i, task in enumerate(self.tasks):
            assert completed_events[task.id] == (1 if i in self.completed else 0)
        assert all(outcomes.get(a) == "aborted" for a in aborted), "an abort of no aborted attempt"
        completers = [a for a, o in outcomes.items() if o == "completed"]
        assert len(completers) == len(self.completed), "one completing attempt per completed task"
        assert not set(completers) & aborted, "an attempt both completed and aborted"


STATS: Counter[str] = Counter()


@pytest.mark.timeout(3600)
@pytest.mark.usefixtures("migrated_database")
def test_an_attempt_ends_in_one_outcome_whatever_the_interleaving() -> None:
    profile = os.environ.get("ATTEMPT_MODEL_PROFILE", "attempts")
    STATS.clear()
    run_state_machine_as_test(AttemptModel, settings=settings.get_profile(profile))
    print(f"\nattempt model, profile {profile}:")
    for name, count in sorted(STATS.items()):
        print(f"  {name}: {count}")
