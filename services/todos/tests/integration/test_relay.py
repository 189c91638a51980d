"""The outbox relay against the real PostgreSQL and RabbitMQ."""

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import aio_pika
import pytest
from aio_pika.abc import AbstractQueue
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from contracts.envelope import CONTENT_TYPE, CloudEvent, parse_event, unrouted_name
from contracts.events import TaskCompleted
from contracts.ids import OwnerId, TaskId
from tests.conftest import TEST_AMQP_URL
from tests.integration.conftest import TcpProxy, collect, eventually
from todos.adapters.broker import BrokerConnection
from todos.adapters.outbox import outbox_row
from todos.adapters.publisher import AmqpPublisher
from todos.adapters.relay import BrokerUnavailableError, OutboxRelay
from todos.adapters.tables import completion_attempts, outbox
from todos.adapters.unit_of_work import SqlUnitOfWork
from todos.bootstrap import utc_now
from todos.metrics import EVENTS_PARKED, OUTBOX_OLDEST_AGE, OUTBOX_UNSENT
from todos.service_layer import tasks


async def _add_rows(engine: AsyncEngine, n: int) -> set[str]:
    """`n` completed events in the outbox; their event ids."""
    rows = [
        outbox_row(
            TaskCompleted(
                task_id=TaskId(uuid4()),
                owner_id=OwnerId(uuid4()),
                title=f"t{i}",
                completed_at=utc_now(),
            ),
            correlation_id="corr-relay",
        )
        for i in range(n)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(outbox), rows)
    return {str(r["event_id"]) for r in rows}


async def _unsent(engine: AsyncEngine, ids: set[str]) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).where(
            outbox.c.event_id.in_([UUID(i) for i in ids]), outbox.c.published_at.is_(None)
        )
        return (await conn.execute(query)).scalar_one()


@contextlib.asynccontextmanager
async def _running(relay: OutboxRelay) -> AsyncIterator[None]:
    task = asyncio.create_task(relay.run())
    try:
        yield
    finally:
        relay.stop()
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def broker() -> AsyncIterator[BrokerConnection]:
    connection = BrokerConnection(TEST_AMQP_URL)
    connection.start()
    yield connection
    await connection.close()


async def test_the_relay_delivers_parseable_cloudevents(
    engine: AsyncEngine, broker: BrokerConnection, exchange_name: str, bound_queue: AbstractQueue
) -> None:
    ids = await _add_rows(engine, 3)
    relay = OutboxRelay(engine, AmqpPublisher(broker, exchange_name, timeout=5).publish)
    result = await relay.drain_once()
    assert result.published == 3
    assert await _unsent(engine, ids) == 0

    messages = await collect(bound_queue, lambda got: len(got) >= 3)
    assert {m.message_id for m in messages} == ids
    for message in messages:
        parsed = parse_event(message.body)
        assert isinstance(parsed.event, TaskCompleted)
        assert message.type == parsed.envelope.type == "todos.task.completed.v1"
        assert message.routing_key == "todos.task.completed.v1"
        assert message.content_type == CONTENT_TYPE
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.correlation_id == parsed.envelope.correlationid == "corr-relay"
        assert message.message_id == str(parsed.envelope.id)


async def test_an_unroutable_publish_is_not_marked_sent(
    engine: AsyncEngine, broker: BrokerConnection, exchange_name: str
) -> None:
    ids = await _add_rows(engine, 2)  # no queue bound and no parking queue: nothing can route
    publisher = AmqpPublisher(broker, exchange_name, timeout=5, park_unrouted=False)
    relay = OutboxRelay(engine, publisher.publish)
    result = await relay.drain_once()
    assert (result.published, result.failed) == (0, 2)
    assert await _unsent(engine, ids) == 2
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(outbox.c.attempts, outbox.c.last_error).where(
                    outbox.c.event_id.in_([UUID(i) for i in ids])
                )
            )
        ).all()
    assert all(r.attempts == 1 and r.last_error for r in rows)


async def test_the_relay_wakes_on_notify(
    engine: AsyncEngine, broker: BrokerConnection, exchange_name: str, bound_queue: AbstractQueue
) -> None:
    publisher = AmqpPublisher(broker, exchange_name, timeout=5)
    relay = OutboxRelay(engine, publisher.publish, poll_interval=30)  # polling would be too late
    async with _running(relay):
        await asyncio.sleep(0.5)  # let it LISTEN
        task = await tasks.create_task(
            lambda: SqlUnitOfWork(engine, lambda: None), utc_now, OwnerId(uuid4()), "n", None
        )
        messages = await collect(bound_queue, lambda got: len(got) >= 1, seconds=5)
    assert [parse_event(m.body).event.task_id for m in messages] == [task.id]  # type: ignore[attr-defined]


async def test_rows_wait_out_a_broker_outage_and_are_all_delivered(
    engine: AsyncEngine, exchange_name: str, bound_queue: AbstractQueue
) -> None:
    proxy = TcpProxy(URL(TEST_AMQP_URL).port or 5672)
    url = str(URL(TEST_AMQP_URL).with_port(proxy.port))
    broker = BrokerConnection(url, reconnect_interval=0.2)
    broker.start()
    relay = OutboxRelay(
        engine, AmqpPublisher(broker, exchange_name, timeout=0.5).publish, poll_interval=0.1
    )
    try:
        async with _running(relay):
            # 1. The broker is unreachable from the start: rows stay unsent.
            first = await _add_rows(engine, 5)
            await asyncio.sleep(1.0)
            assert await _unsent(engine, first) == 5
            # 2. It comes up: everything goes out.
            await proxy.start()
            assert await eventually(lambda: _all_sent(engine, first))
            # 3. It goes away again mid-run, then returns.
            await proxy.stop()
            second = await _add_rows(engine, 5)
            await asyncio.sleep(1.0)
            assert await _unsent(engine, second) == 5
            await proxy.start()
            assert await eventually(lambda: _all_sent(engine, second), seconds=20)
    finally:
        await broker.close()
        await proxy.stop()
    messages = await collect(bound_queue, lambda got: {m.message_id for m in got} >= first | second)
    assert {m.message_id for m in messages} >= first | second


async def _all_sent(engine: AsyncEngine, ids: set[str]) -> bool:
    return await _unsent(engine, ids) == 0


async def test_two_relays_at_once_lose_no_row(
    engine: AsyncEngine, broker: BrokerConnection, exchange_name: str, bound_queue: AbstractQueue
) -> None:
    ids = await _add_rows(engine, 200)
    publisher = AmqpPublisher(broker, exchange_name, timeout=5)
    relays = [
        OutboxRelay(engine, publisher.publish, batch_size=20, poll_interval=0.1) for _ in range(2)
    ]
    async with _running(relays[0]), _running(relays[1]):
        assert await eventually(lambda: _all_sent(engine, ids))
    messages = await collect(bound_queue, lambda got: {m.message_id for m in got} >= ids)
    assert {m.message_id for m in messages} == ids


async def test_an_event_no_queue_is_bound_for_is_parked_and_marked_sent(
    engine: AsyncEngine,
    broker: BrokerConnection,
    exchange_name: str,
    amqp: aio_pika.abc.AbstractRobustConnection,
) -> None:
    ids = await _add_rows(engine, 3)  # nothing is bound to the exchange itself
    relay = OutboxRelay(engine, AmqpPublisher(broker, exchange_name, timeout=5).publish)
    try:
        result = await relay.drain_once()
        assert (result.published, result.failed) == (3, 0)
        assert await _unsent(engine, ids) == 0
        channel = await amqp.channel()
        parked = await channel.declare_queue(unrouted_name(exchange_name), passive=True)
        messages = await collect(parked, lambda got: len(got) >= 3, seconds=5)
        assert {parse_event(m.body).envelope.id for m in messages} == {UUID(i) for i in ids}
    finally:
        channel = await amqp.channel()
        await channel.queue_delete(unrouted_name(exchange_name))
        await channel.exchange_delete(unrouted_name(exchange_name))


async def test_a_failed_row_waits_alone_while_later_rows_go_on(
    engine: AsyncEngine, broker: BrokerConnection, exchange_name: str
) -> None:
    failed = await _add_rows(engine, 1)
    publisher = AmqpPublisher(broker, exchange_name, timeout=5, park_unrouted=False)
    relay = OutboxRelay(engine, publisher.publish)
    assert (await relay.drain_once()).failed == 1  # unroutable: it backs off on its own

    # The failed row is not claimed again at once: the next drain sees no work, not the same row.
    assert (await relay.drain_once()).claimed == 0
    later = await _add_rows(engine, 2)
    again = await relay.drain_once()
    assert again.claimed == 2  # only the new rows; they fail too (nothing routes) ...
    assert await _unsent(engine, failed | later) == 3  # ... and nothing was marked sent


async def test_an_events_exchange_made_before_its_arguments_is_used_as_it_is(
    engine: AsyncEngine,
    broker: BrokerConnection,
    exchange_name: str,
    amqp: aio_pika.abc.AbstractRobustConnection,
) -> None:
    channel = await amqp.channel()
    old = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(f"{exchange_name}.old", exclusive=True, auto_delete=True)
    await queue.bind(old, "#")
    ids = await _add_rows(engine, 2)

    relay = OutboxRelay(engine, AmqpPublisher(broker, exchange_name, timeout=5).publish)
    try:
        result = await relay.drain_once()
        messages = await collect(queue, lambda got: len(got) >= 2, seconds=5)
    finally:
        await channel.queue_delete(unrouted_name(exchange_name))
        await channel.exchange_delete(unrouted_name(exchange_name))
    assert (result.published, result.failed) == (2, 0)
    assert {parse_event(m.body).envelope.id for m in messages} == {UUID(i) for i in ids}


async def test_a_row_that_always_fails_neither_stalls_the_relay_nor_undoes_other_marks(
    engine: AsyncEngine, broker: BrokerConnection, exchange_name: str, bound_queue: AbstractQueue
) -> None:
    poison = await _add_rows(engine, 1)
    async with engine.begin() as conn:  # it has failed for ages: 2**1000 half-seconds of backoff
        await conn.execute(
            update(outbox)
            .where(outbox.c.event_id.in_([UUID(i) for i in poison]))
            .values(attempts=1000)
        )
    later = await _add_rows(engine, 5)
    real = AmqpPublisher(broker, exchange_name, timeout=5).publish
    sent: Counter[str] = Counter()

    async def publish(envelope: CloudEvent) -> None:
        sent[str(envelope.id)] += 1
        if str(envelope.id) in poison:
            raise RuntimeError("this row is refused")
        await real(envelope)

    relay = OutboxRelay(engine, publish, poll_interval=0.05)
    async with _running(relay):
        assert await eventually(lambda: _all_sent(engine, later), seconds=5)
        await asyncio.sleep(0.5)  # a stalled relay would republish the same rows meanwhile
    assert {i: sent[i] for i in later} == dict.fromkeys(later, 1)
    assert sent[next(iter(poison))] == 1  # it waits on its own, at most a minute
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(outbox.c.attempts, outbox.c.next_attempt_at, outbox.c.published_at).where(
                    outbox.c.event_id.in_([UUID(i) for i in poison])
                )
            )
        ).one()
    assert row.attempts == 1001
    assert row.published_at is None
    assert row.next_attempt_at <= datetime.now(UTC) + timedelta(seconds=61)
    messages = await collect(bound_queue, lambda got: len(got) >= 5, seconds=5)
    assert {m.message_id for m in messages} == later


async def _attempts(engine: AsyncEngine, ids: set[str]) -> list[int]:
    async with engine.connect() as conn:
        query = select(outbox.c.attempts).where(outbox.c.event_id.in_([UUID(i) for i in ids]))
        return list((await conn.execute(query)).scalars())


async def test_after_a_broker_outage_the_backlog_drains_within_seconds(
    engine: AsyncEngine, exchange_name: str, bound_queue: AbstractQueue
) -> None:
    proxy = TcpProxy(URL(TEST_AMQP_URL).port or 5672)
    await proxy.start()
    broker = BrokerConnection(str(URL(TEST_AMQP_URL).with_port(proxy.port)), reconnect_interval=0.2)
    broker.start()
    relay = OutboxRelay(
        engine, AmqpPublisher(broker, exchange_name, timeout=0.5).publish, poll_interval=0.1
    )
    try:
        async with _running(relay):
            warm = await _add_rows(engine, 1)
            assert await eventually(lambda: _all_sent(engine, warm), seconds=5)
            await proxy.stop()
            # A row that backed off on its own before (say, the broker nacked it once) ...
            earlier = await _add_rows(engine, 1)
            async with engine.begin() as conn:
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.event_id.in_([UUID(i) for i in earlier]))
                    .values(attempts=6, next_attempt_at=func.now() + timedelta(seconds=60))
                )
            during = await _add_rows(engine, 5)
            await asyncio.sleep(10)  # ... and rows written while the broker is away
            assert await _unsent(engine, during | earlier) == 6
            await proxy.start()
            back = asyncio.get_running_loop().time()
            assert await eventually(lambda: _all_sent(engine, during | earlier), seconds=15)
            lag = asyncio.get_running_loop().time() - back
    finally:
        await broker.close()
        await proxy.stop()
    assert lag < 4.0, f"backlog drained {lag:.1f} s after the broker returned"
    assert await _attempts(engine, during) == [1] * 5  # the outage was not counted per row


async def test_the_backlog_is_counted_on_a_timer_not_after_every_batch(
    engine: AsyncEngine, broker: BrokerConnection, exchange_name: str, bound_queue: AbstractQueue
) -> None:
    ids = await _add_rows(engine, 300)
    counts: list[str] = []

    def spy(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "count(" in statement.lower() and "event_id" not in statement:  # not ours below
            counts.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", spy)
    publisher = AmqpPublisher(broker, exchange_name, timeout=5)
    relay = OutboxRelay(engine, publisher.publish, batch_size=10, poll_interval=0.1)
    try:
        async with _running(relay):
            assert await eventually(lambda: _all_sent(engine, ids))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", spy)
    assert len(counts) <= 2, f"{len(counts)} backlog counts for 30 batches"


async def test_the_backlog_gauges_read_only_unsent_rows(engine: AsyncEngine) -> None:
    await _add_rows(engine, 7)

    async def unused(_: CloudEvent) -> None:
        raise AssertionError("not publishing here")

    async def parked() -> int:
        return 4

    relay = OutboxRelay(engine, unused, parked_depth=parked)
    await relay.update_gauges()
    assert OUTBOX_UNSENT._value.get() == 7
    assert 0 <= OUTBOX_OLDEST_AGE._value.get() < 60
    assert EVENTS_PARKED._value.get() == 4


async def test_published_rows_are_purged_after_the_retention(engine: AsyncEngine) -> None:
    old = await _add_rows(engine, 5)
    recent = await _add_rows(engine, 2)
    unsent = await _add_rows(engine, 2)
    old_attempt, recent_attempt = uuid4(), uuid4()
    async with engine.begin() as conn:
        for ids, ago in ((old, timedelta(days=2)), (recent, timedelta(hours=1))):
            await conn.execute(
                update(outbox)
                .where(outbox.c.event_id.in_([UUID(i) for i in ids]))
                .values(published_at=func.now() - ago)
            )
        for attempt, ago in ((old_attempt, timedelta(days=2)), (recent_attempt, timedelta(0))):
            await conn.execute(
                insert(completion_attempts).values(
                    invocation_id=attempt,
                    task_id=uuid4(),
                    outcome="completed",
                    decided_at=func.now() - ago,
                )
            )

    async def broker_down(_: CloudEvent) -> None:
        raise BrokerUnavailableError("down")

    relay = OutboxRelay(
        engine, broker_down, retention=timedelta(days=1), purge_batch=2, metrics_interval=0.05
    )
    async with _running(relay):
        assert await eventually(lambda: _count(engine, old | recent | unsent, 4), seconds=5)
    async with engine.connect() as conn:
        left = (await conn.execute(select(outbox.c.event_id))).scalars().all()
    assert {str(i) for i in left} >= recent | unsent
    assert not {str(i) for i in left} & old
    async with engine.connect() as conn:
        attempts = set((await conn.execute(select(completion_attempts.c.invocation_id))).scalars())
    assert recent_attempt in attempts
    assert old_attempt not in attempts


async def _count(engine: AsyncEngine, ids: set[str], want: int) -> bool:
    async with engine.connect() as conn:
        query = select(func.count()).where(outbox.c.event_id.in_([UUID(i) for i in ids]))
        return (await conn.execute(query)).scalar_one() == want
