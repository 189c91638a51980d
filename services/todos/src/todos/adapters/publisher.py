"""Publishes outbox envelopes to the topic exchange: persistent, confirmed, mandatory.

The exchange's alternate exchange parks events that no queue is bound for (for instance
`todos.task.created.v1`, which nobody subscribes to yet) in the durable `<exchange>.unrouted`
queue, where an operator can read or shovel them. Only when even that path is missing is a
message returned unroutable, and then its outbox row stays unsent.
"""

import asyncio

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractExchange
from aio_pika.exceptions import ChannelPreconditionFailed, DeliveryError

from contracts.envelope import CloudEvent, exchange_arguments, to_amqp, unrouted_name
from todos.adapters.broker import BrokerConnection
from todos.adapters.relay import BrokerUnavailableError

log = structlog.get_logger(__name__)


class AmqpPublisher:
    """Each `publish` returns only once the broker confirmed a routed message; else it raises.

    The channel has `on_return_raises=True`: an unroutable message is confirmed by the broker
    but not delivered, and must not count as published.
    """

    def __init__(
        self,
        broker: BrokerConnection,
        exchange_name: str,
        *,
        timeout: float,
        park_unrouted: bool = True,
    ) -> None:
        self._broker = broker
        self._exchange_name = exchange_name
        self._timeout = timeout
        self._park_unrouted = park_unrouted
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._lock = asyncio.Lock()

    async def ensure_exchange(self) -> AbstractExchange:
        """The durable topic exchange, declared once per process (restored on reconnect)."""
        async with self._lock:
            if self._exchange is None or self._channel is None or self._channel.is_closed:
                connection = await self._broker.ready()
                self._channel = await connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
                if self._park_unrouted:
                    await _declare_parking(self._channel, unrouted_name(self._exchange_name))
                try:
                    self._exchange = await self._channel.declare_exchange(
                        self._exchange_name,
                        aio_pika.ExchangeType.TOPIC,
                        durable=True,
                        arguments=exchange_arguments(self._exchange_name),
                    )
                except ChannelPreconditionFailed:
                    # RabbitMQ cannot add an alternate exchange to an existing exchange: use one
                    # made before the contract had it; unroutable rows are then retried.
                    log.warning(
                        "events_exchange_predates_its_arguments", exchange=self._exchange_name
                    )
                    self._channel = await connection.channel(
                        publisher_confirms=True, on_return_raises=True
                    )
                    self._exchange = await self._channel.get_exchange(
                        self._exchange_name, ensure=True
                    )
            return self._exchange

    async def publish(self, envelope: CloudEvent) -> None:
        """Publish one envelope and wait for its confirm (bounded by the publish timeout).

        Raises `DeliveryError` when the broker refused this message (returned or nacked) and
        `BrokerUnavailableError` for anything else: then no message could have gone.
        """
        try:
            async with asyncio.timeout(self._timeout):  # the broker may be down: do not hang
                exchange = await self.ensure_exchange()
        except Exception as exc:
            raise BrokerUnavailableError(f"{type(exc).__name__}: {exc}") from exc
        amqp = to_amqp(envelope)
        message = aio_pika.Message(
            body=amqp.body,
            content_type=amqp.content_type,
            message_id=amqp.message_id,
            type=amqp.type,
            correlation_id=amqp.correlation_id,
            timestamp=amqp.timestamp,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        try:
            await exchange.publish(
                message, routing_key=amqp.routing_key, mandatory=True, timeout=self._timeout
            )
        except DeliveryError:
            raise
        except Exception as exc:
            raise BrokerUnavailableError(f"{type(exc).__name__}: {exc}") from exc

    async def parked_depth(self) -> int:
        """Messages in the parking queue, read with a passive declare (cheap, no side effect)."""
        async with asyncio.timeout(self._timeout):
            connection = await self._broker.ready()
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(
                    unrouted_name(self._exchange_name), passive=True
                )
                return queue.declaration_result.message_count or 0
            finally:
                if not channel.is_closed:
                    await channel.close()


async def _declare_parking(channel: AbstractChannel, name: str) -> None:
    exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.FANOUT, durable=True)
    queue = await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
    await queue.bind(exchange)
