"""The wire shapes of the tasks API (docs/architecture.md#tasks-api)."""

from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

from contracts.text import NOT_BLANK, STORABLE
from todos.domain.model import DESCRIPTION_MAX, TITLE_MAX, Task

# Every string of a request ends with STORABLE or NOT_BLANK: no NUL, no lone surrogate.
Title = Annotated[str, StringConstraints(min_length=1, max_length=TITLE_MAX), NOT_BLANK]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX), STORABLE]


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description | None = None


class TaskPatch(BaseModel):
    """Fields present are changed; `description: null` clears it; `title` cannot be null."""

    model_config = ConfigDict(extra="forbid")

    # null is refused for `title` below, so the document does not offer it (SkipJsonSchema)
    title: Title | SkipJsonSchema[None] = None
    description: Description | None = None

    @model_validator(mode="after")
    def _title_not_null(self) -> Self:
        if "title" in self.model_fields_set and self.title is None:
            raise ValueError("title cannot be null")
        return self


class TaskOut(BaseModel):
    id: UUID
    owner_id: UUID
    title: str
    description: str | None
    status: Literal["open", "completed"]
    created_at: AwareDatetime
    completed_at: AwareDatetime | None

    @classmethod
    def of(cls, task: Task) -> "TaskOut":
        return cls(
            id=task.id,
            owner_id=task.owner_id,
            title=task.title,
            description=task.description,
            status=task.status.value,
            created_at=task.created_at,
            completed_at=task.completed_at,
        )


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None
