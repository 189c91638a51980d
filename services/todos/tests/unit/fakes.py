"""In-memory implementations of the service layer's ports (no I/O)."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from contracts.events import IntegrationEvent, TaskCompleted, TaskCompletionAborted
from contracts.ids import InvocationId, OwnerId, TaskId
from todos.domain.hook_verdict import HookAnswer
from todos.domain.model import Task, TaskStatus
from todos.service_layer.ports import Position


class FakeRepository:
    def __init__(self) -> None:
        self.rows: dict[TaskId, Task] = {}
        self.lose_next_completion = False  # simulate a concurrent completer winning the UPDATE

    async def add(self, task: Task) -> None:
        self.rows[task.id] = replace(task, events=[])

    async def get(
        self, owner_id: OwnerId, task_id: TaskId, *, for_update: bool = False
    ) -> Task | None:
        row = self.rows.get(task_id)
        return replace(row, events=[]) if row and row.owner_id == owner_id else None

    async def list(
        self, owner_id: OwnerId, *, status: TaskStatus | None, limit: int, after: Position | None
    ) -> list[Task]:
        rows = [
            t
            for t in self.rows.values()
            if t.owner_id == owner_id
            and (status is None or t.status is status)
            and (after is None or (t.created_at, t.id) < after)
        ]
        rows.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        return [replace(t, events=[]) for t in rows[:limit]]

    async def save_edits(self, task: Task) -> None:
        self.rows[task.id] = replace(task, events=[])

    async def complete_if_open(self, task: Task) -> bool:
        if self.lose_next_completion:
            self.lose_next_completion = False
            winner = self.rows[task.id]
            winner.status, winner.completed_at = TaskStatus.COMPLETED, task.completed_at
            return False
        row = self.rows.get(task.id)
        if row is None or row.status is not TaskStatus.OPEN:
            return False
        self.rows[task.id] = replace(task, events=[])
        return True

    async def delete(self, task: Task) -> bool:
        return self.rows.pop(task.id, None) is not None


class FakeUnitOfWork:
    """Every `uow()` shares one repository; events reach `outbox` only on commit."""

    def __init__(self) -> None:
        self.repo = FakeRepository()
        self.outbox: list[IntegrationEvent] = []
        self.fail_commit = False
        self.failing_commits = 0  # so many commits fail in a row (a database outage)
        self.attempts: dict[InvocationId, str] = {}  # each attempt's one outcome
        self.lose_next_answer = False
        self._pending: list[IntegrationEvent] = []
        self._snapshot: dict[TaskId, Task] | None = None

    @property
    def tasks(self) -> FakeRepository:
        return self.repo

    def __call__(self) -> Self:
        return self

    async def __aenter__(self) -> Self:
        self._pending = []
        self._snapshot = {k: replace(v) for k, v in self.repo.rows.items()}
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._snapshot is not None:  # not committed: roll back
            self.repo.rows = self._snapshot
        self._pending = []

    def record(self, events: Sequence[IntegrationEvent]) -> None:
        self._pending.extend(events)

    async def commit(self) -> None:
        self._fail_if_down()
        self.outbox.extend(self._pending)
        self._pending = []
        self._snapshot = None

    # The completion path's storage (`CompletionStore`), on the same rows and outbox: each call
    # is one statement, so a failing commit fails it whole.
    async def load(self, owner_id: OwnerId, task_id: TaskId) -> Task | None:
        return await self.repo.get(owner_id, task_id)

    async def complete(self, task: Task, event: TaskCompleted, attempt: InvocationId) -> bool:
        self._fail_if_down()
        if attempt in self.attempts:
            raise RuntimeError("the attempt was already aborted")  # the real one: a unique key
        if not await self.repo.complete_if_open(task):
            return False
        self.attempts[attempt] = "completed"
        self.outbox.append(event)
        if self.lose_next_answer:  # committed, but the answer never reached the caller
            self.lose_next_answer = False
            raise ConnectionResetError("connection reset after the commit")
        return True

    async def record_abort(self, event: TaskCompletionAborted) -> bool:
        self._fail_if_down()
        if event.invocation_id in self.attempts:
            return False
        self.attempts[event.invocation_id] = "aborted"
        self.outbox.append(event)
        return True

    def _fail_if_down(self) -> None:
        if self.fail_commit or self.failing_commits > 0:
            self.fail_commit = False
            self.failing_commits = max(self.failing_commits - 1, 0)
            raise ConnectionError("database went away")


class FakeHookGate:
    def __init__(self, *answers: HookAnswer) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[TaskId, OwnerId]] = []
        self.invocations: list[InvocationId] = []

    async def before_complete(
        self, task_id: TaskId, owner_id: OwnerId, *, invocation_id: InvocationId
    ) -> list[HookAnswer]:
        self.calls.append((task_id, owner_id))
        self.invocations.append(invocation_id)
        return list(self.answers)


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now
