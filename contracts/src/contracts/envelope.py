"""The CloudEvents 1.0 envelope in structured JSON mode, as the body of an AMQP message.

`build_envelope` wraps an event, `to_amqp` turns an envelope into the body and properties to
publish, and `parse_event` turns a body back into the registered model. Anything a consumer
cannot use raises `InvalidEventError`, the one error it dead-letters on.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from contracts.events import EVENT_TYPES, IntegrationEvent
from contracts.ids import EventId, new_event_id

CONTENT_TYPE = "application/cloudevents+json"
EXCHANGE = "todos.events"
SOURCE_TODOS = "todos-service"


def exchange_arguments(exchange: str) -> dict[str, Any]:
    """Arguments every service declares the events exchange with (RabbitMQ refuses others).

    Its alternate exchange, `<exchange>.unrouted`, parks events no queue is bound for (a
    type nobody subscribes to yet) instead of losing them or returning them forever.
    """
    return {"alternate-exchange": unrouted_name(exchange)}


def unrouted_name(exchange: str) -> str:
    """The alternate exchange and parking queue of `exchange`."""
    return f"{exchange}.unrouted"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event; unknown extension attributes are kept."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: EventId
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    correlationid: str | None = None
    traceparent: str | None = None


@dataclass(frozen=True, slots=True)
class AmqpMessage:
    """What a publisher hands to the broker: body plus the properties that mirror the envelope."""

    body: bytes
    routing_key: str
    message_id: str
    type: str
    content_type: str
    correlation_id: str | None
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    envelope: CloudEvent
    event: IntegrationEvent


class InvalidEventError(ValueError):
    """The message can never be processed (not JSON, unknown type, invalid data): dead-letter it."""


def build_envelope(
    event: IntegrationEvent,
    *,
    source: str = SOURCE_TODOS,
    correlation_id: str | None = None,
    traceparent: str | None = None,
    event_id: EventId | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    """Wrap an event in a new envelope (a fresh id and the current time unless given)."""
    return CloudEvent(
        id=event_id or new_event_id(),
        source=source,
        type=event.event_type,
        time=time or datetime.now(UTC),
        data=event.model_dump(mode="json"),
        correlationid=correlation_id,
        traceparent=traceparent,
    )


def to_amqp(envelope: CloudEvent) -> AmqpMessage:
    """Serialise an envelope to its AMQP body and properties (docs/architecture.md#events)."""
    return AmqpMessage(
        body=envelope.model_dump_json(exclude_none=True).encode(),
        routing_key=envelope.type,
        message_id=str(envelope.id),
        type=envelope.type,
        content_type=CONTENT_TYPE,
        correlation_id=envelope.correlationid,
        timestamp=envelope.time,
    )


def parse_envelope(body: bytes | str) -> CloudEvent:
    """Parse a structured-mode body into an envelope, or raise `InvalidEventError`."""
    try:
        return CloudEvent.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidEventError(f"not a CloudEvents 1.0 envelope: {_first_error(exc)}") from exc


def parse_event(body: bytes | str) -> ParsedEvent:
    """Parse a body into its envelope and registered event model, or raise `InvalidEventError`."""
    envelope = parse_envelope(body)
    model = EVENT_TYPES.get(envelope.type)
    if model is None:
        raise InvalidEventError(f"unknown event type {envelope.type!r}")
    try:
        event = model.model_validate(envelope.data)
    except ValidationError as exc:
        raise InvalidEventError(f"invalid {envelope.type} data: {_first_error(exc)}") from exc
    return ParsedEvent(envelope=envelope, event=event)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"]) or "body"
    return f"{where}: {err['msg']}"
