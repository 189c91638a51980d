"""Straight to RabbitMQ: publish events as todos would (or garbage), look into the DLQ."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime

import aio_pika

from contracts.envelope import AmqpMessage, build_envelope, to_amqp
from contracts.events import TaskCompleted
from contracts.ids import OwnerId, TaskId

# The same broker the launcher uses (it honours AMQP_URL too).
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def completed_message(task_id: str, owner_id: uuid.UUID) -> AmqpMessage:
    """A `todos.task.completed.v1` message with a fresh event id, as the relay would send it."""
    event = TaskCompleted(
        task_id=TaskId(uuid.UUID(task_id)),
        owner_id=OwnerId(owner_id),
        title="published by the e2e suite",
        completed_at=datetime.now(UTC),
    )
    return to_amqp(build_envelope(event, correlation_id=f"e2e-{uuid.uuid4().hex[:8]}"))


async def publish(exchange: str, message: AmqpMessage) -> None:
    """Publish one message, persistent, with publisher confirms."""
    await publish_raw(exchange, message.routing_key, message.body, message_id=message.message_id)


async def publish_raw(
    exchange: str, routing_key: str, body: bytes, *, message_id: str | None = None
) -> None:
    """Publish any bytes under `routing_key` (a poison message, for one)."""
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        target = await channel.get_exchange(exchange, ensure=True)
        await target.publish(
            aio_pika.Message(
                body,
                message_id=message_id or str(uuid.uuid4()),
                content_type="application/cloudevents+json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=routing_key,
        )


async def wait_for_dead_letter(queue: str, body: bytes, within: float = 20.0) -> bool:
    """True once a message with exactly `body` sits in `queue` (looked at, then put back)."""
    deadline = time.monotonic() + within
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        dlq = await channel.get_queue(queue, ensure=True)
        while time.monotonic() < deadline:
            seen: list[aio_pika.abc.AbstractIncomingMessage] = []
            found = False
            while (message := await dlq.get(fail=False, no_ack=False)) is not None:
                seen.append(message)
                found = found or message.body == body
            for message in seen:
                await message.nack(requeue=True)
            if found:
                return True
            await asyncio.sleep(0.3)
    return False


async def delete(exchanges: list[str], queues: list[str]) -> None:
    """Remove what a test stack declared."""
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        for queue in queues:
            channel = await connection.channel()
            await channel.queue_delete(queue)
        for exchange in exchanges:
            channel = await connection.channel()
            await channel.exchange_delete(exchange)
