"""Fixtures for the consumer tests: a running consumer on per-test names, a database proxy."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from budget.adapters.repository import SqlRepositories
from budget.adapters.topology import Topology
from budget.bootstrap import topology_of
from budget.config import Settings
from budget.domain.model import TaskCost, TokenType
from budget.entrypoints.consumer import serve
from budget.service_layer import costs, hook, ledger
from contracts.envelope import build_envelope, to_amqp
from contracts.events import IntegrationEvent
from contracts.identity import ADMIN_ROLE, Caller
from contracts.ids import EventId, OwnerId
from tests.conftest import TEST_AMQP_URL, TEST_DATABASE_URL


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Poll `check` until it holds, failing after `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {seconds} s")
        await asyncio.sleep(0.05)


def _now_late() -> datetime:
    return datetime.now(UTC)


@dataclass
class Budget:
    """Sets up owners, costs and holds through the real use cases, and reads balances."""

    repos: SqlRepositories

    async def token_type(self) -> TokenType:
        admin = Caller(owner_id=OwnerId(uuid4()), roles=frozenset({ADMIN_ROLE}))
        return await ledger.create_token_type(self.repos, admin, f"t-{uuid4().hex[:12]}", "T")

    async def credit(self, owner: UUID, token_type: TokenType, amount: int) -> None:
        admin = Caller(owner_id=OwnerId(uuid4()), roles=frozenset({ADMIN_ROLE}))
        request = ledger.CreditRequest(owner, token_type.id, amount, None)
        await ledger.credit(self.repos, _now, admin, request)

    async def cost(self, owner: UUID, task: UUID, token_type: TokenType, amount: int) -> None:
        await costs.add_cost(self.repos, _caller(owner), task, token_type.id, amount)

    async def hold(self, owner: UUID, task: UUID) -> bool:
        decision = await hook.before_complete_task(
            self.repos, _now, Settings().hold_ttl, owner, task
        )
        return decision.allowed

    async def balance(self, owner: UUID, token_type: TokenType) -> tuple[int, int]:
        for row in await ledger.balances(self.repos, _now, _caller(owner)):
            if row.token_type_id == token_type.id:
                return row.balance, row.held
        return 0, 0

    async def debits(self, owner: UUID) -> int:
        entries, _ = await ledger.ledger_page(self.repos, _caller(owner), None, None, 100)
        return sum(1 for e in entries if e.kind == "debit")

    async def costs_of(self, owner: UUID) -> int:
        return len(await costs.list_costs(self.repos, _caller(owner), None))

    async def costs_list(self, owner: UUID) -> list[TaskCost]:
        return list(await costs.list_costs(self.repos, _caller(owner), None))

    async def delete_cost(
        self, owner: UUID, cost_id: UUID, clock: Callable[[], datetime] = _now_late
    ) -> None:
        await costs.delete_cost(self.repos, _caller(owner), cost_id, clock=clock)


def _now() -> datetime:
    return datetime.now(UTC)


def _caller(owner: UUID) -> Caller:
    return Caller(owner_id=OwnerId(owner), roles=frozenset())


@pytest.fixture
async def engine(migrated_database: str) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(TEST_DATABASE_URL, pool_size=4)
    yield eng
    await eng.dispose()


@pytest.fixture
def budget(engine: AsyncEngine) -> Budget:
    return Budget(SqlRepositories(engine))


@pytest.fixture
def consumer_settings(settings: Settings) -> Settings:
    suffix = uuid4().hex[:10]
    return settings.model_copy(
        update={
            "events_exchange": f"test.budget.events.{suffix}",
            "queue": f"test.budget.{suffix}",
            "queue_delivery_limit": 2,
            "consumer_prefetch": 8,
        }
    )


@dataclass
class Broker:
    connection: AbstractConnection
    channel: AbstractChannel
    topology: Topology

    async def publish_event(
        self, event: IntegrationEvent, event_id: EventId | None = None
    ) -> EventId:
        envelope = build_envelope(event, event_id=event_id, correlation_id="test")
        message = to_amqp(envelope)
        await self.publish_raw(message.body, message.routing_key, message.message_id, message.type)
        return envelope.id

    async def publish_raw(
        self, body: bytes, routing_key: str, message_id: str | None = None, type_: str = ""
    ) -> None:
        exchange = await self.channel.get_exchange(self.topology.events_exchange)
        message = aio_pika.Message(
            body,
            message_id=message_id or str(uuid4()),
            type=type_ or routing_key,
            content_type="application/cloudevents+json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await exchange.publish(message, routing_key=routing_key, mandatory=True)

    async def dead_letter_count(self) -> int:
        queue = await self.channel.declare_queue(self.topology.dead_letter_queue, passive=True)
        return int(queue.declaration_result.message_count or 0)

    async def queue_count(self) -> int:
        queue = await self.channel.declare_queue(self.topology.queue, passive=True)
        return int(queue.declaration_result.message_count or 0)


@pytest.fixture
async def broker(consumer_settings: Settings) -> AsyncIterator[Broker]:
    """A publisher on the per-test topology; deletes the topology and exchange afterwards."""
    connection = await aio_pika.connect(TEST_AMQP_URL, timeout=10)
    channel = await connection.channel(publisher_confirms=True)
    topology = topology_of(consumer_settings)
    await topology.declare(connection, channel)
    yield Broker(connection, channel, topology)
    with contextlib.suppress(Exception):
        await topology.delete(channel)
        await channel.exchange_delete(topology.events_exchange)
    await connection.close()


@dataclass
class RunningConsumer:
    stop: asyncio.Event
    task: asyncio.Task[None]


@pytest.fixture
async def start_consumer(
    broker: Broker,
) -> AsyncIterator[Callable[[Settings], Awaitable[RunningConsumer]]]:
    running: list[RunningConsumer] = []

    async def start(settings: Settings) -> RunningConsumer:
        stop = asyncio.Event()
        task = asyncio.create_task(serve(settings, stop, max_backoff=0.5))
        consumer = RunningConsumer(stop, task)
        running.append(consumer)
        return consumer

    yield start
    for consumer in running:
        consumer.stop.set()
        async with asyncio.timeout(20):
            await consumer.task


@pytest.fixture
async def consumer(
    start_consumer: Callable[[Settings], Awaitable[RunningConsumer]], consumer_settings: Settings
) -> RunningConsumer:
    return await start_consumer(consumer_settings)


class DatabaseProxy:
    """A TCP proxy to PostgreSQL that a test can cut (a database outage for one process)."""

    def __init__(self, target_port: int = 5432) -> None:
        self._target_port = target_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._clients: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def announce_shutdown(self) -> None:
        """What a server's fast shutdown sends every session before it closes the socket: an
        unsolicited FATAL 57P01; the sockets stay open until `cut`."""
        fields = b"SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0"
        message = b"E" + (len(fields) + 4).to_bytes(4, "big") + fields
        for writer in self._clients:
            if not writer.is_closing():
                writer.write(message)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        self._clients.add(writer)
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            writer.close()


@pytest.fixture
async def db_proxy() -> AsyncIterator[DatabaseProxy]:
    proxy = DatabaseProxy()
    await proxy.start()
    yield proxy
    await proxy.cut()
