"""Budget's queue topology against the real RabbitMQ."""

import asyncio
from uuid import uuid4

import aio_pika
from aio_pika.abc import AbstractQueue

from budget.adapters.topology import LEGACY_BINDING_KEYS, Topology
from contracts.envelope import unrouted_name
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


async def _parking(channel: aio_pika.abc.AbstractChannel, exchange: str) -> AbstractQueue:
    """The parking queue todos' publisher declares behind the exchange's alternate exchange."""
    name = unrouted_name(exchange)
    fanout = await channel.declare_exchange(name, aio_pika.ExchangeType.FANOUT, durable=True)
    queue = await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
    await queue.bind(fanout)
    return queue


async def _publish_both_versions(channel: aio_pika.abc.AbstractChannel, exchange: str) -> None:
    events = await channel.get_exchange(exchange)
    for version in ("v1", "v2"):
        key = f"todos.task.completed.{version}"
        await events.publish(aio_pika.Message(b"{}", type=key), routing_key=key, mandatory=True)


async def _types(queue: AbstractQueue) -> list[str]:
    got = []
    while (message := await queue.get(fail=False, no_ack=True)) is not None:
        got.append(message.type or "")
    return got


async def _check_v2_is_parked_and_v1_arrives(
    connection: aio_pika.abc.AbstractConnection, topology: Topology, parking: AbstractQueue
) -> None:
    channel = await connection.channel(publisher_confirms=True)
    await _publish_both_versions(channel, topology.events_exchange)
    queue = await channel.declare_queue(topology.queue, passive=True)
    dlq = await channel.declare_queue(topology.dead_letter_queue, passive=True)
    await asyncio.sleep(0.3)
    assert await _types(queue) == ["todos.task.completed.v1"]
    assert await _types(dlq) == []
    assert await _types(parking) == ["todos.task.completed.v2"]


async def test_a_v2_type_beside_v1_is_parked_not_dead_lettered() -> None:
    suffix = uuid4().hex[:10]
    topology = Topology(f"test.budget.v2.{suffix}", f"test.budget.v2.{suffix}", 2)
    connection = await aio_pika.connect(TEST_AMQP_URL, timeout=10)
    async with connection:
        channel = await connection.channel()
        try:
            parking = await _parking(channel, topology.events_exchange)
            await topology.declare(connection, channel)
            await _check_v2_is_parked_and_v1_arrives(connection, topology, parking)
        finally:
            await _clean(connection, topology)


async def test_declaring_over_an_older_release_removes_its_version_wildcards() -> None:
    suffix = uuid4().hex[:10]
    topology = Topology(f"test.budget.up.{suffix}", f"test.budget.up.{suffix}", 2)
    connection = await aio_pika.connect(TEST_AMQP_URL, timeout=10)
    async with connection:
        channel = await connection.channel()
        try:
            parking = await _parking(channel, topology.events_exchange)
            await topology.declare(connection, channel)
            queue = await channel.declare_queue(topology.queue, passive=True)
            for key in LEGACY_BINDING_KEYS:  # as the previous release bound it
                await queue.bind(topology.events_exchange, routing_key=key)

            await topology.declare(connection, channel)  # the upgrade
            await _check_v2_is_parked_and_v1_arrives(connection, topology, parking)
        finally:
            await _clean(connection, topology)


async def _clean(connection: aio_pika.abc.AbstractConnection, topology: Topology) -> None:
    channel = await connection.channel()
    await topology.delete(channel)
    await channel.queue_delete(unrouted_name(topology.events_exchange))
    await channel.exchange_delete(unrouted_name(topology.events_exchange))
    await channel.exchange_delete(topology.events_exchange)


async def test_a_queue_an_earlier_release_made_with_other_arguments_is_used_as_it_is() -> None:
    """RabbitMQ refuses to redeclare a queue with other arguments: the declare must not fail."""
    suffix = uuid4().hex[:10]
    topology = Topology(f"test.budget.args.{suffix}", f"test.budget.args.{suffix}", 100)
    earlier = Topology(topology.events_exchange, topology.queue, 5)
    connection = await aio_pika.connect(TEST_AMQP_URL, timeout=10)
    async with connection:
        try:
            await earlier.declare(connection, await connection.channel())
            channel = await connection.channel(publisher_confirms=True)
            queue = await topology.declare(connection, channel)  # refused arguments: as it is

            events = await channel.get_exchange(topology.events_exchange)
            key = "todos.task.completed.v1"
            await events.publish(aio_pika.Message(b"{}"), routing_key=key, mandatory=True)
            message = await queue.get(timeout=5, fail=True)
            assert message is not None
            await message.ack()
            assert not channel.is_closed
        finally:
            await _clean(connection, topology)
