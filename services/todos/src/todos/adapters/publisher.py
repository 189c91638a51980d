"""Publishes outbox envelopes to the topic exchange: persistent, confirmed, mandatory."""

import asyncio

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange

from contracts.envelope import CloudEvent, to_amqp
from todos.adapters.broker import BrokerConnection


class AmqpPublisher:
    """Each `publish` returns only once the broker confirmed a routed message; else it raises.

    The channel has `on_return_raises=True`: an unroutable message is confirmed by the broker
    but not delivered, and must not count as published.
    """

    def __init__(self, broker: BrokerConnection, exchange_name: str, *, timeout: float) -> None:
        self._broker = broker
        self._exchange_name = exchange_name
        self._timeout = timeout
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
                self._exchange = await self._channel.declare_exchange(
                    self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
                )
            return self._exchange

    async def publish(self, envelope: CloudEvent) -> None:
        """Publish one envelope and wait for its confirm (bounded by the publish timeout)."""
        async with asyncio.timeout(self._timeout):  # the broker may be down: do not wait forever
            exchange = await self.ensure_exchange()
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
        await exchange.publish(
            message, routing_key=amqp.routing_key, mandatory=True, timeout=self._timeout
        )
