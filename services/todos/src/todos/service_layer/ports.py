"""The ports the use cases need; adapters implement them, tests pass fakes."""

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from contracts.events import IntegrationEvent, TaskCompleted, TaskCompletionAborted
from contracts.ids import InvocationId, OwnerId, TaskId
from todos.domain.hook_verdict import HookAnswer
from todos.domain.model import Task, TaskStatus

Position = tuple[datetime, TaskId]  # (created_at, id): where a newest-first page ends


class TaskRepository(Protocol):
    async def add(self, task: Task) -> None: ...

    async def get(
        self, owner_id: OwnerId, task_id: TaskId, *, for_update: bool = False
    ) -> Task | None: ...

    async def list(
        self, owner_id: OwnerId, *, status: TaskStatus | None, limit: int, after: Position | None
    ) -> list[Task]: ...

    async def save_edits(self, task: Task) -> None: ...

    async def delete(self, task: Task) -> bool: ...


class UnitOfWork(Protocol):
    """One transaction: the task changes and the outbox rows of their events commit together."""

    @property
    def tasks(self) -> TaskRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def record(self, events: Sequence[IntegrationEvent]) -> None:
        """Queue events to be written to the outbox by `commit`."""
        ...

    async def commit(self) -> None: ...


class CompletionStore(Protocol):
    """The completion path's storage: each call is one statement, no transaction held between."""

    async def load(self, owner_id: OwnerId, task_id: TaskId) -> Task | None:
        """The owner's task (None if absent or another owner's): one query."""
        ...

    async def complete(self, task: Task, event: TaskCompleted, attempt: InvocationId) -> bool:
        """Mark `task` completed if it is still open and owned, with its outbox row, atomically,
        as the outcome of `attempt`.

        False, and nothing written, when someone else completed or deleted it first; raises,
        nothing written, when `attempt` was already recorded as aborted.
        """
        ...

    async def record_abort(self, event: TaskCompletionAborted) -> bool:
        """Record the attempt `event` names as aborted, with its outbox row, unless the attempt
        already has an outcome (its completion committed): False then, nothing written. On
        capacity the completions cannot take."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class HookGate(Protocol):
    """Asks every before-complete subscription, concurrently; one answer per subscription."""

    async def before_complete(
        self, task_id: TaskId, owner_id: OwnerId, *, invocation_id: InvocationId
    ) -> list[HookAnswer]:
        """Ask about one completion attempt, named by `invocation_id` (its abort names it too)."""
        ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...
