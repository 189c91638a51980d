"""The Task aggregate: its rules (open -> completed once; completed tasks are frozen) and events."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import uuid4

from contracts.events import IntegrationEvent, TaskCompleted, TaskCreated, TaskDeleted
from contracts.ids import OwnerId, TaskId

TITLE_MAX = 200
DESCRIPTION_MAX = 2000


class TaskStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


class TaskAlreadyCompletedError(Exception):
    """A completed task cannot be edited."""


class InvalidTaskError(ValueError):
    """A title or description breaks the length rules."""


@dataclass
class Task:
    id: TaskId
    owner_id: OwnerId
    title: str
    description: str | None
    status: TaskStatus
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    events: list[IntegrationEvent] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def create(
        cls, owner_id: OwnerId, title: str, description: str | None, now: datetime
    ) -> "Task":
        """A new open task that records `TaskCreated`."""
        task = cls(
            id=TaskId(uuid4()),
            owner_id=owner_id,
            title=_valid_title(title),
            description=_valid_description(description),
            status=TaskStatus.OPEN,
            created_at=now,
            updated_at=now,
        )
        task.events.append(
            TaskCreated(task_id=task.id, owner_id=owner_id, title=task.title, created_at=now)
        )
        return task

    @property
    def is_completed(self) -> bool:
        return self.status is TaskStatus.COMPLETED

    def edit(self, *, title: str | None, description: str | None, clear_description: bool) -> None:
        """Change title and/or description; refused once the task is completed."""
        if self.is_completed:
            raise TaskAlreadyCompletedError(f"task {self.id} is completed and cannot be edited")
        if title is not None:
            self.title = _valid_title(title)
        if clear_description:
            self.description = None
        elif description is not None:
            self.description = _valid_description(description)

    def complete(self, now: datetime) -> None:
        """Mark an open task completed at `now`, recording `TaskCompleted`."""
        if self.is_completed:
            raise TaskAlreadyCompletedError(f"task {self.id} is already completed")
        self.status, self.completed_at, self.updated_at = TaskStatus.COMPLETED, now, now
        self.events.append(
            TaskCompleted(
                task_id=self.id, owner_id=self.owner_id, title=self.title, completed_at=now
            )
        )

    def delete(self, now: datetime) -> None:
        """Record this task's deletion (open and completed tasks alike may be deleted)."""
        self.events.append(TaskDeleted(task_id=self.id, owner_id=self.owner_id, deleted_at=now))

    def pull_events(self) -> list[IntegrationEvent]:
        """The events recorded since the last pull, handed over once."""
        events, self.events = self.events, []
        return events


def _valid_title(title: str) -> str:
    stripped = title.strip()
    if not 1 <= len(stripped) <= TITLE_MAX:
        raise InvalidTaskError(f"title must be 1..{TITLE_MAX} characters after trimming")
    return stripped


def _valid_description(description: str | None) -> str | None:
    if description is not None and len(description) > DESCRIPTION_MAX:
        raise InvalidTaskError(f"description must be at most {DESCRIPTION_MAX} characters")
    return description
