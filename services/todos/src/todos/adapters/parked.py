"""The parking queue `<exchange>.unrouted`: events published while no queue was bound for them.

The exchange's alternate exchange routes there what no queue takes (a type nobody reads yet,
or a subscriber's queue that did not exist at the time). Listing takes the messages with
`basic.get` and hands them all back. Replaying publishes each to the events exchange again,
with its original routing key and properties, persistent, mandatory and confirmed, and acks
the parked copy only after the confirm: a crash in between duplicates, never loses, and
consumers are idempotent. An event that still has no queue is parked again, behind the
others; only the messages present at the start are taken, so a replay always ends.
"""

from collections.abc import Collection
from dataclasses import dataclass

from aio_pika import DeliveryMode, Message
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aio_pika.exceptions import DeliveryError

from contracts.envelope import unrouted_name

MAX_MESSAGES = 10_000


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    id: str
    type: str
    routing_key: str
    correlation_id: str


def describe(message: AbstractIncomingMessage) -> ParkedEvent:
    return ParkedEvent(
        id=message.message_id or "-",
        type=message.type or "-",
        routing_key=message.routing_key or "",
        correlation_id=message.correlation_id or "-",
    )


async def parked_count(channel: AbstractChannel, exchange: str) -> int:
    """Messages waiting in the parking queue (a passive declare)."""
    queue = await channel.declare_queue(unrouted_name(exchange), passive=True)
    return queue.declaration_result.message_count or 0


async def _take(channel: AbstractChannel, exchange: str) -> list[AbstractIncomingMessage]:
    """The messages parked now, unacked (at most `MAX_MESSAGES`)."""
    queue = await channel.declare_queue(unrouted_name(exchange), passive=True)
    count = min(queue.declaration_result.message_count or 0, MAX_MESSAGES)
    taken = []
    for _ in range(count):
        message = await queue.get(no_ack=False, fail=False)
        if message is None:
            break
        taken.append(message)
    return taken


async def list_parked(channel: AbstractChannel, exchange: str) -> list[ParkedEvent]:
    """What is parked, leaving it all parked."""
    taken = await _take(channel, exchange)
    for message in taken:
        await message.nack(requeue=True)
    return [describe(m) for m in taken]


async def replay_parked(
    channel: AbstractChannel,
    exchange: str,
    *,
    ids: Collection[str] | None = None,
    types: Collection[str] | None = None,
) -> list[ParkedEvent]:
    """Publish parked events (all, or those with the given ids/types) to `exchange` again.

    `channel` must have publisher confirms. Returns the events the broker confirmed; the rest
    stay parked.
    """
    events = await channel.get_exchange(exchange)
    replayed = []
    for message in await _take(channel, exchange):
        parked = describe(message)
        if (ids and parked.id not in ids) or (types and parked.type not in types):
            await message.nack(requeue=True)
            continue
        copy = Message(
            body=message.body,
            headers=dict(message.headers or {}),
            content_type=message.content_type,
            message_id=message.message_id,
            type=message.type,
            correlation_id=message.correlation_id,
            timestamp=message.timestamp,
            app_id=message.app_id,
            delivery_mode=DeliveryMode.PERSISTENT,
        )
        try:
            await events.publish(copy, routing_key=parked.routing_key, mandatory=True)
        except DeliveryError:  # refused or returned (an exchange without alternate exchange)
            await message.nack(requeue=True)
            continue
        await message.ack()
        replayed.append(parked)
    return replayed
