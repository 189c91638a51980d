"""The synchronous before-complete hook: what todos sends and what a subscriber answers."""

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from contracts.ids import DeliveryId, InvocationId, OwnerId, TaskId

BEFORE_COMPLETE_TASK = "todos.before_complete_task"
HOOK_PATH = f"/hooks/{BEFORE_COMPLETE_TASK}"
# A subscription's name: in TODOS_HOOKS, and in each call it signs (`subscriber`).
SUBSCRIBER_NAME = r"^[A-Za-z0-9._-]{1,64}$"


class BeforeCompleteTask(BaseModel):
    """The body todos POSTs to every subscriber before it completes a task.

    The signature covers the whole body, so it also covers whom the call is for (`subscriber`)
    and which delivery it is (`delivery_id`): a subscriber refuses a body for another one, and
    a delivery it has already seen (a replay). A retry of the same attempt is a new delivery.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    hook: Literal["todos.before_complete_task"] = "todos.before_complete_task"
    # The subscription's name in TODOS_HOOKS: the one subscriber this signature is for.
    subscriber: str = Field(pattern=SUBSCRIBER_NAME)
    # New on every HTTP request, retries included.
    delivery_id: DeliveryId
    # One completion attempt: every retry of the attempt carries the same one.
    invocation_id: InvocationId
    task_id: TaskId
    owner_id: OwnerId
    occurred_at: AwareDatetime
    # When the caller stops waiting for this subscription (now + its timeout). A subscriber
    # must not reserve anything for a call past its deadline: the caller has given up.
    deadline: AwareDatetime


class Allow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    decision: Literal["allow"] = "allow"


class Veto(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    decision: Literal["veto"] = "veto"
    reason: str = Field(min_length=1, max_length=500)


HookDecision = Annotated[Allow | Veto, Field(discriminator="decision")]
HOOK_DECISION: TypeAdapter[Allow | Veto] = TypeAdapter(HookDecision)
