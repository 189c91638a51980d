"""Events parked because no queue was bound for them: seen in the metric, listed, replayed."""

from uuid import UUID

import aio_pika
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import unrouted_name
from tests.conftest import TEST_AMQP_URL
from tests.integration.conftest import collect
from tests.integration.test_relay import _add_rows, _unsent
from todos.adapters.broker import BrokerConnection
from todos.adapters.publisher import AmqpPublisher
from todos.adapters.relay import OutboxRelay
from todos.config import Settings
from todos.entrypoints import parked
from todos.metrics import EVENTS_PARKED


async def test_an_event_parked_before_its_queue_existed_is_counted_and_replayed(
    engine: AsyncEngine,
    exchange_name: str,
    amqp: aio_pika.abc.AbstractRobustConnection,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broker = BrokerConnection(TEST_AMQP_URL)
    broker.start()
    publisher = AmqpPublisher(broker, exchange_name, timeout=5)
    relay = OutboxRelay(engine, publisher.publish, parked_depth=publisher.parked_depth)
    settings = Settings(amqp_url=TEST_AMQP_URL, events_exchange=exchange_name)
    channel = await amqp.channel()
    try:
        # 1. budget's queue does not exist yet: the completed event is parked (and marked sent).
        ids = await _add_rows(engine, 2)
        assert (await relay.drain_once()).published == 2
        assert await _unsent(engine, ids) == 0
        await relay.update_gauges()
        assert EVENTS_PARKED._value.get() == 2
        assert await parked.run(settings, "list") == 2
        listed = capsys.readouterr().out
        assert all(i in listed for i in ids)

        # 2. The queue appears; replay delivers the parked events to it, with their ids.
        queue = await channel.declare_queue(f"{exchange_name}.budget", auto_delete=True)
        await queue.bind(exchange_name, routing_key="todos.task.completed.v1")
        assert await parked.run(settings, "replay") == 2
        messages = await collect(queue, lambda got: len(got) >= 2, seconds=5)
        assert {m.message_id for m in messages} == ids
        assert {m.routing_key for m in messages} == {"todos.task.completed.v1"}
        await relay.update_gauges()
        assert EVENTS_PARKED._value.get() == 0
    finally:
        await broker.close()
        await channel.queue_delete(unrouted_name(exchange_name))
        await channel.exchange_delete(unrouted_name(exchange_name))


async def test_replay_by_id_leaves_the_others_parked_and_an_unbound_type_parks_again(
    engine: AsyncEngine, exchange_name: str, amqp: aio_pika.abc.AbstractRobustConnection
) -> None:
    broker = BrokerConnection(TEST_AMQP_URL)
    broker.start()
    publisher = AmqpPublisher(broker, exchange_name, timeout=5)
    relay = OutboxRelay(engine, publisher.publish)
    settings = Settings(amqp_url=TEST_AMQP_URL, events_exchange=exchange_name)
    channel = await amqp.channel()
    try:
        ids = sorted(await _add_rows(engine, 3))
        assert (await relay.drain_once()).published == 3
        # Still no queue for the type: the replayed event is parked again, nothing is lost.
        assert await parked.run(settings, "replay", ids=[ids[0]]) == 1
        assert sorted(await _parked_ids(channel, exchange_name)) == ids
    finally:
        await broker.close()
        await channel.queue_delete(unrouted_name(exchange_name))
        await channel.exchange_delete(unrouted_name(exchange_name))


async def _parked_ids(channel: aio_pika.abc.AbstractChannel, exchange: str) -> list[str]:
    queue = await channel.declare_queue(unrouted_name(exchange), passive=True)
    got = []
    while (message := await queue.get(fail=False, no_ack=True)) is not None:
        got.append(str(UUID(message.message_id or "")))
    return got
