"""The consumer across real PostgreSQL restarts: no valid event dead-lettered, each debited once.

A private cluster (never the shared one) is restarted while events flow, then stopped and
started again held in recovery, so every connection gets 57P03 "not accepting connections"
(what clients see while a restarted server is starting up) until it is promoted.
"""

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from uuid import UUID, uuid4

import asyncpg
import pytest
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from budget.adapters.repository import SqlRepositories
from budget.config import Settings
from budget.domain.model import TokenType
from tests.conftest import alembic_config
from tests.integration.conftest import Broker, Budget, RunningConsumer, eventually
from tests.integration.private_postgres import PrivatePostgres
from tests.integration.test_consumer import completed

TASKS_PER_BATCH = 15


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres(_free_port())  # a private cluster: the shared PostgreSQL is never touched
    try:
        pg.init()
        pg.start()
        command.upgrade(alembic_config(pg.url), "head")
        yield pg
    finally:
        pg.destroy()


@pytest.fixture
async def private_budget(private_pg: PrivatePostgres) -> AsyncIterator[Budget]:
    engine = create_async_engine(private_pg.url, pool_size=2, pool_pre_ping=True)
    yield Budget(SqlRepositories(engine))
    await engine.dispose()


async def _costed_tasks(budget: Budget, tt: TokenType, n: int) -> list[tuple[UUID, UUID]]:
    tasks = []
    for _ in range(n):
        owner, task = uuid4(), uuid4()
        await budget.credit(owner, tt, 10)
        await budget.cost(owner, task, tt, 3)
        tasks.append((owner, task))
    return tasks


async def _refused_with_57p03(pg: PrivatePostgres) -> bool:
    try:
        conn = await asyncpg.connect(host="127.0.0.1", port=pg.port, user="postgres", timeout=2)
    except asyncpg.CannotConnectNowError:
        return True
    except OSError:
        return False  # not listening yet
    await conn.close()
    return False


async def test_restarts_and_recovery_dead_letter_nothing_and_debit_each_task_once(
    private_pg: PrivatePostgres,
    private_budget: Budget,
    broker: Broker,
    start_consumer: Callable[[Settings], Awaitable[RunningConsumer]],
    consumer_settings: Settings,
) -> None:
    budget = private_budget
    tt = await budget.token_type()
    batches = [await _costed_tasks(budget, tt, TASKS_PER_BATCH) for _ in range(3)]
    await start_consumer(consumer_settings.model_copy(update={"database_url": private_pg.url}))

    async def publish(batch: list[tuple[UUID, UUID]]) -> None:
        for owner, task in batch:
            await broker.publish_event(completed(owner, task))

    # 1. A fast restart while the first batch is being consumed.
    publishing = asyncio.create_task(publish(batches[0]))
    await asyncio.to_thread(private_pg.restart, "fast")
    await publishing

    # 2. Down, then up but still recovering: every connection gets 57P03 for a while.
    await asyncio.to_thread(private_pg.stop, "fast")
    await publish(batches[1])
    private_pg.hold_in_recovery_on_next_start()
    await asyncio.to_thread(private_pg.start, wait=False, options="-c hot_standby=off")
    await eventually(lambda: _refused_with_57p03(private_pg))
    await publish(batches[2])
    await asyncio.sleep(2)  # the consumer meets 57P03 on every message meanwhile
    assert await _refused_with_57p03(private_pg)
    assert await broker.dead_letter_count() == 0
    await asyncio.to_thread(private_pg.promote)

    everything = [t for batch in batches for t in batch]

    async def all_debited() -> bool:
        for owner, _ in everything:
            if await budget.balance(owner, tt) != (7, 0):
                return False
        return True

    await eventually(all_debited, seconds=30)
    for owner, _ in everything:
        assert await budget.debits(owner) == 1
    assert await broker.dead_letter_count() == 0
