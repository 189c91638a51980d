"""Real PostgreSQL and RabbitMQ: a private exchange and queue per test, deleted afterwards."""

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import uuid4

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import exchange_arguments
from tests.conftest import TEST_AMQP_URL
from todos.adapters.db import DriverPool, make_engine
from todos.adapters.tables import outbox


@pytest.fixture
async def engine(migrated_database: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(migrated_database, pool_size=5)
    # Rows other tests left unsent would be relayed into this test's exchange: settle them.
    async with eng.begin() as conn:
        await conn.execute(
            update(outbox)
            .where(outbox.c.published_at.is_(None))
            .values(published_at=outbox.c.created_at)
        )
    yield eng
    await eng.dispose()


@pytest.fixture
async def pool(engine: AsyncEngine, migrated_database: str) -> AsyncIterator[DriverPool]:
    """The completion path's asyncpg pool on the test database (after `engine` settled it)."""
    driver_pool = DriverPool(migrated_database, size=5)
    yield driver_pool
    await driver_pool.close()


@pytest.fixture
async def amqp() -> AsyncIterator[AbstractRobustConnection]:
    connection = await aio_pika.connect_robust(TEST_AMQP_URL)
    yield connection
    await connection.close()


@pytest.fixture
async def exchange_name(amqp: AbstractRobustConnection) -> AsyncIterator[str]:
    name = f"test.todos.events.{uuid4().hex[:12]}"
    yield name
    channel = await amqp.channel()
    await channel.exchange_delete(name)
    await channel.close()


@pytest.fixture
async def bound_queue(
    amqp: AbstractRobustConnection, exchange_name: str
) -> AsyncIterator[AbstractQueue]:
    """A private queue bound to every routing key of the test's exchange."""
    channel = await amqp.channel()
    exchange = await channel.declare_exchange(
        exchange_name,
        aio_pika.ExchangeType.TOPIC,
        durable=True,
        arguments=exchange_arguments(exchange_name),
    )
    queue = await channel.declare_queue(f"{exchange_name}.q", exclusive=True, auto_delete=True)
    await queue.bind(exchange, "#")
    yield queue
    await queue.delete(if_unused=False, if_empty=False)
    await channel.close()


async def collect(
    queue: AbstractQueue, want: Callable[[list[AbstractIncomingMessage]], bool], seconds: float = 15
) -> list[AbstractIncomingMessage]:
    """Messages from `queue` until `want(messages)` holds or the deadline passes."""
    got: list[AbstractIncomingMessage] = []
    deadline = asyncio.get_running_loop().time() + seconds
    while not want(got) and asyncio.get_running_loop().time() < deadline:
        message = await queue.get(fail=False, no_ack=True)
        if message is None:
            await asyncio.sleep(0.05)
        else:
            got.append(message)
    return got


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 15) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.05)
    return await check()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class TcpProxy:
    """A loopback TCP forwarder we can take down and bring back: a broker outage on demand."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self._target = target_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        self._writers -= {writer, up_writer}

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
