"""Restarts of the real consumer process never dead-letter a valid event.

A backlog of 500 completed events; the `budget-consumer` process is SIGKILLed 8 times, each
time while it holds the prefetched messages unacked (the owners' account rows are locked by
another transaction, so nothing it took can commit), then the lock goes and it drains. Every
kill returns its unacked messages to the queue, which the broker counts as a delivery: only
failures in our own code may count towards poison.
"""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg  # type: ignore[import-untyped]
import pytest

from budget.config import Settings
from budget.domain.model import TokenType
from tests.integration.conftest import Broker, Budget, eventually
from tests.integration.test_consumer import completed

OWNERS = 25
TASKS_PER_OWNER = 20  # 500 events
KILLS = 8
CONSUMER = Path(sys.executable).parent / "budget-consumer"


@pytest.fixture
def consumer_settings(settings: Settings) -> Settings:
    """Per-test names, and the production defaults for everything else (prefetch, limits)."""
    suffix = uuid4().hex[:10]
    return settings.model_copy(
        update={"events_exchange": f"test.budget.events.{suffix}", "queue": f"test.budget.{suffix}"}
    )


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "BUDGET_ENVIRONMENT": "test",
        "BUDGET_DATABASE_URL": settings.database_url,
        "BUDGET_AMQP_URL": settings.amqp_url,
        "BUDGET_EVENTS_EXCHANGE": settings.events_exchange,
        "BUDGET_QUEUE": settings.queue,
        "BUDGET_CONSUMER_METRICS_PORT": "0",
        "BUDGET_LOG_LEVEL": "INFO",
    }


@pytest.fixture
async def start_process(
    consumer_settings: Settings, tmp_path: Path
) -> AsyncIterator[Callable[[], subprocess.Popen[bytes]]]:
    """Starts `budget-consumer` processes; whatever still runs at the end gets SIGKILL."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = (tmp_path / f"consumer-{len(started)}.log").open("wb")
        process = subprocess.Popen(
            [str(CONSUMER)], env=_env(consumer_settings), stdout=log, stderr=subprocess.STDOUT
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


async def _locked(database_url: str, owners: list[UUID]) -> Any:
    """A transaction holding the owners' account rows: the consumer's saves wait behind it."""
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    tx = conn.transaction()
    await tx.start()
    await conn.execute("SELECT 1 FROM accounts WHERE owner_id = ANY($1::uuid[]) FOR UPDATE", owners)
    return conn, tx


async def _backlog(budget: Budget, broker: Broker) -> tuple[TokenType, dict[UUID, list[UUID]]]:
    token_type = await budget.token_type()
    tasks: dict[UUID, list[UUID]] = {}
    for _ in range(OWNERS):
        owner = uuid4()
        await budget.credit(owner, token_type, TASKS_PER_OWNER)
        tasks[owner] = [uuid4() for _ in range(TASKS_PER_OWNER)]
        for task in tasks[owner]:
            await budget.cost(owner, task, token_type, 1)
    for i in range(TASKS_PER_OWNER):  # interleaved, as a backlog of many owners would be
        for owner, owned in tasks.items():
            await broker.publish_event(completed(owner, owned[i]))
    return token_type, tasks


async def test_eight_kills_holding_a_backlog_dead_letter_nothing_and_debit_once(
    budget: Budget,
    broker: Broker,
    consumer_settings: Settings,
    start_process: Callable[[], subprocess.Popen[bytes]],
) -> None:
    token_type, tasks = await _backlog(budget, broker)
    total = OWNERS * TASKS_PER_OWNER
    assert await broker.queue_count() == total
    prefetch = consumer_settings.consumer_prefetch
    conn, tx = await _locked(consumer_settings.database_url, list(tasks))
    try:
        for kill in range(KILLS):
            ready = await broker.queue_count()
            process = start_process()

            async def holding(ready: int = ready) -> bool:
                return await broker.queue_count() <= max(0, ready - prefetch)

            await eventually(holding, seconds=30)
            await asyncio.sleep(0.5)  # its batches reach the locked rows
            assert process.poll() is None, f"the consumer exited before kill {kill + 1}"
            process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(process.wait)

            async def returned() -> bool:  # every message is back (or dead-lettered)
                return await broker.queue_count() + await broker.dead_letter_count() == total

            await eventually(returned, seconds=30)
    finally:
        await tx.rollback()
        await conn.close()

    process = start_process()
    try:
        numbers = await _drain(budget, broker, list(tasks), total)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 30)
    assert numbers["dead-lettered"] == 0, numbers
    for owner in tasks:
        assert await budget.debits(owner) == TASKS_PER_OWNER
        assert await budget.balance(owner, token_type) == (0, 0)


async def _drain(budget: Budget, broker: Broker, owners: list[UUID], total: int) -> dict[str, int]:
    """Wait (at most 90 s) until every event is debited or dead-lettered and the queue is empty."""
    deadline = asyncio.get_running_loop().time() + 90
    while True:
        numbers = {
            "debited": sum([await budget.debits(owner) for owner in owners]),
            "dead-lettered": await broker.dead_letter_count(),
            "ready": await broker.queue_count(),
        }
        settled = numbers["debited"] + numbers["dead-lettered"] >= total and not numbers["ready"]
        if settled or asyncio.get_running_loop().time() > deadline:
            await asyncio.sleep(1.0)  # a late duplicate would show now
            return numbers
        await asyncio.sleep(0.2)
