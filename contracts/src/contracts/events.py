"""Integration events published by todos-service: past-tense facts, one model per wire type.

Each model declares its wire type beside it, and `EVENT_TYPES` is the one registry of
type -> model. Consumers ignore fields they do not know (tolerant reader), so a published
version may only grow by optional fields; anything else needs a new `.vN` type.
"""

from collections.abc import Mapping
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.ids import InvocationId, OwnerId, TaskId


class IntegrationEvent(BaseModel):
    """Base of every event's `data`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]


class TaskCreated(IntegrationEvent):
    event_type: ClassVar[str] = "todos.task.created.v1"

    task_id: TaskId
    owner_id: OwnerId
    title: str = Field(min_length=1, max_length=200)
    created_at: AwareDatetime


class TaskCompleted(IntegrationEvent):
    event_type: ClassVar[str] = "todos.task.completed.v1"

    task_id: TaskId
    owner_id: OwnerId
    title: str = Field(min_length=1, max_length=200)
    completed_at: AwareDatetime


class TaskDeleted(IntegrationEvent):
    event_type: ClassVar[str] = "todos.task.deleted.v1"

    task_id: TaskId
    owner_id: OwnerId
    deleted_at: AwareDatetime


class TaskCompletionAborted(IntegrationEvent):
    """A completion that a hook may have allowed did not happen; hooks release what they held."""

    event_type: ClassVar[str] = "todos.task.completion-aborted.v1"

    task_id: TaskId
    owner_id: OwnerId
    aborted_at: AwareDatetime
    reason: str = Field(max_length=500)
    # The hook invocation of the aborted attempt: a subscriber releases only what that attempt
    # held, never what backs a later, successful retry. Optional: older producers omit it.
    invocation_id: InvocationId | None = None


EVENT_TYPES: Mapping[str, type[IntegrationEvent]] = {
    model.event_type: model
    for model in (TaskCreated, TaskCompleted, TaskDeleted, TaskCompletionAborted)
}
