"""Typed identifiers: UUIDs on the wire; the types keep a task ID from passing for an owner ID."""

from typing import NewType
from uuid import UUID, uuid4

TaskId = NewType("TaskId", UUID)
OwnerId = NewType("OwnerId", UUID)
TokenTypeId = NewType("TokenTypeId", UUID)
EventId = NewType("EventId", UUID)
InvocationId = NewType("InvocationId", UUID)
DeliveryId = NewType("DeliveryId", UUID)


def new_event_id() -> EventId:
    """A fresh event id."""
    return EventId(uuid4())


def new_invocation_id() -> InvocationId:
    """A fresh hook invocation id (reused by every retry of one invocation)."""
    return InvocationId(uuid4())


def new_delivery_id() -> DeliveryId:
    """A fresh hook delivery id: one per HTTP request, so a retry is never taken for a replay."""
    return DeliveryId(uuid4())
