"""Inspect and replay the dead-letter queue.

Listing takes messages with `basic.get` and hands them all back unacked, so nothing is lost.
Replaying publishes a copy into the main queue (through the default exchange) with publisher
confirms, and only then acks the dead letter: a crash in between duplicates, never loses, and
duplicates are harmless because the consumer is idempotent.
"""

import asyncio
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import structlog
from aio_pika import DeliveryMode, Message
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from budget.adapters.topology import Topology
from budget.metrics import DLQ_DEPTH
from contracts.envelope import InvalidEventError, parse_event

log = structlog.get_logger(__name__)

MAX_MESSAGES = 10_000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    type: str
    reason: str
    deliveries: int


def describe(message: AbstractIncomingMessage) -> DeadLetter:
    """What a dead letter is and why it died, from its properties and `x-death` headers."""
    headers: dict[str, Any] = dict(message.headers or {})
    deaths = headers.get("x-death") or []
    death: dict[str, Any] = dict(deaths[0]) if deaths else {}
    reason = str(death.get("reason", "unknown"))
    try:
        parse_event(message.body)
    except InvalidEventError as exc:
        reason = f"{reason}: {exc}"
    deliveries = headers.get("x-delivery-count")
    if deliveries is None:
        deliveries = death.get("count", 1)
    return DeadLetter(
        id=message.message_id or "-",
        type=message.type or "-",
        reason=reason,
        deliveries=int(deliveries),
    )


async def list_dead_letters(channel: AbstractChannel, topology: Topology) -> list[DeadLetter]:
    """Every dead letter, oldest first; the queue is left as it was."""
    queue = await channel.get_queue(topology.dead_letter_queue, ensure=True)
    taken: list[AbstractIncomingMessage] = []
    try:
        while len(taken) < MAX_MESSAGES:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            taken.append(message)
        return [describe(m) for m in taken]
    finally:
        for message in taken:
            await message.nack(requeue=True)


async def replay(
    channel: AbstractChannel, topology: Topology, ids: Collection[str] | None = None
) -> list[DeadLetter]:
    """Move dead letters (all, or those whose message id is in `ids`) back to the main queue."""
    queue = await channel.get_queue(topology.dead_letter_queue, ensure=True)
    replayed: list[DeadLetter] = []
    skipped: list[AbstractIncomingMessage] = []
    try:
        while len(replayed) + len(skipped) < MAX_MESSAGES:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            if ids is not None and message.message_id not in ids:
                skipped.append(message)
                continue
            await channel.default_exchange.publish(_copy(message), routing_key=topology.queue)
            await message.ack()
            replayed.append(describe(message))
    finally:
        for message in skipped:
            await message.nack(requeue=True)
    return replayed


def _copy(message: AbstractIncomingMessage) -> Message:
    headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-")}
    return Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        message_id=message.message_id,
        type=message.type,
        correlation_id=message.correlation_id,
        timestamp=message.timestamp,
        delivery_mode=DeliveryMode.PERSISTENT,
    )


async def watch_depth(connection: AbstractConnection, topology: Topology, every: float) -> None:
    """Set `budget_dlq_messages` from a passive declare of the DLQ, every `every` seconds."""
    while True:
        try:
            channel = await connection.channel()
            try:
                dlq = await channel.declare_queue(topology.dead_letter_queue, passive=True)
                DLQ_DEPTH.set(dlq.declaration_result.message_count or 0)
            finally:
                if not channel.is_closed:
                    await channel.close()
        except Exception as exc:  # a gauge must never stop the consumer
            log.debug("dlq_depth_unknown", error=repr(exc))
        await asyncio.sleep(every)
