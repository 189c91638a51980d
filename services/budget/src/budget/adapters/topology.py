"""Budget's RabbitMQ topology: the quorum queue, its bindings, and the dead-letter queue.

`<queue>` is a durable quorum queue; what the consumer rejects (garbage, or an event that failed
BUDGET_CONSUMER_MAX_FAILURES times in our code) goes through the `<queue>.dlx` fanout exchange to
the durable `<queue>.dlq`. Its delivery limit (BUDGET_QUEUE_DELIVERY_LIMIT, 100) is only a far
backstop: the broker counts every return of an unacked message, each consumer restart returns up
to the prefetch, and our own failure count (see `adapters/consumer.py`) is what judges poison.

Queue arguments cannot change on an existing queue (RabbitMQ refuses the declare with
PRECONDITION_FAILED), and a `delivery-limit` policy cannot raise an argument's limit (the broker
applies the smaller of the two): it can only lower it. A queue an earlier release made with
other arguments (the delivery limit of 5) is therefore used as it is, with a warning, until an
operator re-creates it with these arguments (docs/operations.md#topology).
Dead-lettering is at-least-once (the DLQ confirms before the source drops the message), which
RabbitMQ only allows together with `overflow=reject-publish`.

The queue is bound to the exact event types budget has a handler for, never to a version
wildcard: a `.v2` published beside `.v1` (docs/architecture.md#events) is parked by the
exchange's alternate exchange instead of being dead-lettered here as unknown. The deployment
declares the same topology (`definitions`, loaded by the broker at boot) so that no event is
published before this queue exists.
"""

from dataclasses import dataclass
from typing import Any

import structlog
from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractQueue
from aio_pika.exceptions import ChannelPreconditionFailed

from budget.service_layer.events import HANDLERS
from contracts.envelope import exchange_arguments, unrouted_name

log = structlog.get_logger(__name__)

# Exactly the versions budget reads: what it has a handler for.
BINDING_KEYS = tuple(sorted(event.event_type for event in HANDLERS))
# Earlier releases bound `<family>.*`, which routes every future version here too; `declare`
# removes those bindings from an existing queue.
LEGACY_BINDING_KEYS = tuple(sorted({key.rsplit(".", 1)[0] + ".*" for key in BINDING_KEYS}))


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
        queue = await self._declare_queue(connection, channel)
        for key in BINDING_KEYS:
            await queue.bind(self.events_exchange, routing_key=key)
        for key in LEGACY_BINDING_KEYS:  # idempotent: unbinding a missing binding is fine
            await queue.unbind(self.events_exchange, routing_key=key)
        return queue

    async def _declare_queue(
        self, connection: AbstractConnection, channel: AbstractChannel
    ) -> AbstractQueue:
        """The main queue with these arguments, or as it is when an earlier release made it with
        others (tried on a channel of its own: a refused declare closes its channel)."""
        probe = await connection.channel()
        try:
            await probe.declare_queue(self.queue, durable=True, arguments=self.queue_arguments)
        except ChannelPreconditionFailed as exc:
            log.warning(
                "queue_predates_its_arguments",
                queue=self.queue,
                wanted=self.queue_arguments,
                refused=str(exc),
                fix="re-create the queue with these arguments (docs/operations.md#topology)",
            )
            return await channel.get_queue(self.queue, ensure=True)
        finally:
            if not probe.is_closed:
                await probe.close()
        return await channel.declare_queue(self.queue, durable=True, arguments=self.queue_arguments)

    @property
    def queue_arguments(self) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }

    def definitions(self, vhost: str = "/") -> dict[str, Any]:
        """The same topology as RabbitMQ definitions (exchanges, queues, bindings).

        It includes the events exchange with its alternate exchange and the parking queue
        that todos declares too, so the broker has every piece before either service starts.
        """
        parking = unrouted_name(self.events_exchange)

        def exchange(name: str, kind: str, arguments: dict[str, Any]) -> dict[str, Any]:
            return {
                "name": name,
                "vhost": vhost,
                "type": kind,
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": arguments,
            }

        def queue(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
            return {
                "name": name,
                "vhost": vhost,
                "durable": True,
                "auto_delete": False,
                "arguments": arguments,
            }

        def binding(source: str, destination: str, key: str) -> dict[str, Any]:
            return {
                "source": source,
                "vhost": vhost,
                "destination": destination,
                "destination_type": "queue",
                "routing_key": key,
                "arguments": {},
            }

        return {
            "vhosts": [{"name": vhost}],  # imported before users' files may create it
            "exchanges": [
                exchange(self.events_exchange, "topic", exchange_arguments(self.events_exchange)),
                exchange(parking, "fanout", {}),
                exchange(self.dead_letter_exchange, "fanout", {}),
            ],
            "queues": [
                queue(parking, {"x-queue-type": "quorum"}),
                queue(self.queue, self.queue_arguments),
                queue(self.dead_letter_queue, {}),
            ],
            "bindings": [
                binding(parking, parking, ""),
                *(binding(self.events_exchange, self.queue, key) for key in BINDING_KEYS),
                binding(self.dead_letter_exchange, self.dead_letter_queue, ""),
            ],
        }

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
