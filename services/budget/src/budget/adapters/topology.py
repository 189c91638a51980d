"""Budget's RabbitMQ topology: the quorum queue, its bindings, and the dead-letter queue.

`<queue>` is a durable quorum queue with an explicit delivery limit; what exceeds it, or is
rejected, goes through the `<queue>.dlx` fanout exchange to the durable `<queue>.dlq`.
Dead-lettering is at-least-once (the DLQ confirms before the source drops the message), which
RabbitMQ only allows together with `overflow=reject-publish`.
"""

from dataclasses import dataclass

import structlog
from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractQueue
from aio_pika.exceptions import ChannelPreconditionFailed

from contracts.envelope import exchange_arguments
from contracts.events import TaskCompleted, TaskCompletionAborted, TaskDeleted

log = structlog.get_logger(__name__)

# `*` matches the version segment, so a future `.v2` beside `.v1` is routed here too.
BINDING_KEYS = tuple(
    event.event_type.rsplit(".", 1)[0] + ".*"
    for event in (TaskCompleted, TaskDeleted, TaskCompletionAborted)
)


@dataclass(frozen=True, slots=True)
class Topology:
    events_exchange: str
    queue: str
    delivery_limit: int

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.queue}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dlq"

    async def declare(
        self, connection: AbstractConnection, channel: AbstractChannel
    ) -> AbstractQueue:
        """Declare (idempotently) everything and return the main queue, on `channel`."""
        await declare_events_exchange(connection, self.events_exchange)
        dlx = await channel.declare_exchange(
            self.dead_letter_exchange, ExchangeType.FANOUT, durable=True
        )
        # A classic queue: it has no delivery limit, so inspecting (get + requeue) never
        # drops a dead letter.
        dlq = await channel.declare_queue(self.dead_letter_queue, durable=True)
        await dlq.bind(dlx)
        queue = await channel.declare_queue(
            self.queue,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": self.delivery_limit,
                "x-dead-letter-exchange": self.dead_letter_exchange,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        for key in BINDING_KEYS:
            await queue.bind(self.events_exchange, routing_key=key)
        return queue

    async def delete(self, channel: AbstractChannel) -> None:
        """Remove what `declare` made except the shared events exchange (tests clean up)."""
        await channel.queue_delete(self.queue)
        await channel.queue_delete(self.dead_letter_queue)
        await channel.exchange_delete(self.dead_letter_exchange)


async def declare_events_exchange(connection: AbstractConnection, name: str) -> None:
    """Declare the shared events exchange as the contract says, or accept an older one.

    RabbitMQ cannot add an alternate exchange to an existing exchange, and refuses (closing
    the channel) a declare with other arguments. An exchange made before the contract had
    them is used as it is: todos then retries unroutable events instead of parking them.
    """
    channel = await connection.channel()
    try:
        await channel.declare_exchange(
            name, ExchangeType.TOPIC, durable=True, arguments=exchange_arguments(name)
        )
    except ChannelPreconditionFailed:
        log.warning("events_exchange_predates_its_arguments", exchange=name)
        channel = await connection.channel()
        await channel.get_exchange(name, ensure=True)
    finally:
        await channel.close()
