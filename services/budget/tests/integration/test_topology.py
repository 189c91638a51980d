"""Budget's queue topology against the real RabbitMQ."""

from uuid import uuid4

import aio_pika

from budget.adapters.topology import Topology
from tests.conftest import TEST_AMQP_URL


async def test_an_events_exchange_made_before_its_arguments_is_used_as_it_is() -> None:
    suffix = uuid4().hex[:10]
    topology = Topology(f"test.budget.old.{suffix}", f"test.budget.old.{suffix}", 2)
    connection = await aio_pika.connect(TEST_AMQP_URL, timeout=10)
    async with connection:
        setup = await connection.channel()
        # As an earlier release declared it: no alternate exchange.
        old = await setup.declare_exchange(
            topology.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        channel = await connection.channel(publisher_confirms=True)
        try:
            queue = await topology.declare(connection, channel)

            await old.publish(aio_pika.Message(b"{}"), routing_key="todos.task.completed.v1")
            message = await queue.get(timeout=5, fail=True)
            assert message is not None
            await message.ack()
        finally:
            await topology.delete(channel)
            await channel.exchange_delete(topology.events_exchange)
