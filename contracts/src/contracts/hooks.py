"""The synchronous before-complete hook: what todos sends and what a subscriber answers."""

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from contracts.ids import InvocationId, OwnerId, TaskId

BEFORE_COMPLETE_TASK = "todos.before_complete_task"
HOOK_PATH = f"/hooks/{BEFORE_COMPLETE_TASK}"


class BeforeCompleteTask(BaseModel):
    """The body todos POSTs to every subscriber before it completes a task."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    hook: Literal["todos.before_complete_task"] = "todos.before_complete_task"
    invocation_id: InvocationId
    task_id: TaskId
    owner_id: OwnerId
    occurred_at: AwareDatetime
    # When the caller stops waiting for this subscription (now + its timeout). A subscriber
    # should not reserve anything for a call past its deadline: the caller has given up.
    # Optional: older callers did not send it.
    deadline: AwareDatetime | None = None


class Allow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    decision: Literal["allow"] = "allow"


class Veto(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    decision: Literal["veto"] = "veto"
    reason: str = Field(min_length=1, max_length=500)


HookDecision = Annotated[Allow | Veto, Field(discriminator="decision")]
HOOK_DECISION: TypeAdapter[Allow | Veto] = TypeAdapter(HookDecision)
