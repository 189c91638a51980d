"""RabbitMQ away: todos-api stays ready and completes tasks; the events follow when it returns.

The outage is private: the relay reaches the test vhost through a TcpProxy that the test takes
down (the shared broker keeps running). The relay is the real `todos-relay` loop (`serve`), so
its heartbeat, the relay's own probe, is checked on the way.
"""

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from aio_pika.abc import AbstractQueue
from asgi_lifespan import LifespanManager
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from tests.conftest import TEST_AMQP_URL, KeyPair
from tests.integration.conftest import TcpProxy, collect, eventually
from todos import heartbeat
from todos.adapters.tables import outbox
from todos.config import Settings
from todos.entrypoints import relay as relay_process
from todos.entrypoints.app import create_app


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    tcp = TcpProxy(URL(TEST_AMQP_URL).port or 5672)
    await tcp.start()
    yield tcp
    await tcp.stop()


@pytest.fixture
def outage_settings(
    settings: Settings, proxy: TcpProxy, exchange_name: str, tmp_path: Path
) -> Settings:
    return settings.model_copy(
        update={
            "amqp_url": str(URL(TEST_AMQP_URL).with_port(proxy.port)),
            "events_exchange": exchange_name,
            "heartbeat_file": str(tmp_path / "relay.heartbeat"),
            "relay_poll_interval": 0.1,
            "relay_publish_timeout": 0.5,
            "relay_retention": 0.0,
        }
    )


@contextlib.asynccontextmanager
async def running_relay(settings: Settings) -> AsyncIterator[None]:
    task = asyncio.create_task(relay_process.serve(settings))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def _probe(settings: Settings, broker: str) -> bool:
    assert settings.heartbeat_file is not None
    return (
        heartbeat.main([settings.heartbeat_file, "--max-age", "10", f"--require=broker={broker}"])
        == 0
    )


async def _event_ids(engine: AsyncEngine, task_ids: list[str]) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.event_id, outbox.c.envelope))
    return {str(row.event_id) for row in rows if row.envelope["data"]["task_id"] in task_ids}


async def _unsent(engine: AsyncEngine, ids: set[str]) -> int:
    async with engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.event_id).where(outbox.c.published_at.is_(None)))
    return len({str(r.event_id) for r in rows} & ids)


async def test_todos_api_completes_tasks_while_rabbitmq_is_away_and_the_events_follow(
    outage_settings: Settings,
    proxy: TcpProxy,
    engine: AsyncEngine,
    bound_queue: AbstractQueue,
    keys: KeyPair,
) -> None:
    app = create_app(outage_settings)
    headers = {"Authorization": f"Bearer {keys.token(uuid4())}"}
    transport = httpx.ASGITransport(app=app)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url="http://todos.test") as client,
        running_relay(outage_settings),
    ):
        assert await eventually(lambda: _async(_probe(outage_settings, "ok")))
        await proxy.stop()  # RabbitMQ is gone for everything in this test
        assert await eventually(lambda: _async(_probe(outage_settings, "down")))

        assert (await client.get("/readyz")).status_code == 200
        task_ids = []
        for i in range(3):
            created = await client.post(
                "/api/todos/tasks", json={"title": f"t{i}"}, headers=headers
            )
            assert created.status_code == 201, created.text
            task_ids.append(created.json()["id"])
            done = await client.post(f"/api/todos/tasks/{task_ids[-1]}/complete", headers=headers)
            assert done.status_code == 200, done.text
            assert done.json()["completed_at"] is not None
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "schema": "ok"}

        events = await _event_ids(engine, task_ids)
        assert len(events) == 6  # created + completed per task
        await asyncio.sleep(1.0)
        assert await _unsent(engine, events) == 6  # waiting in the outbox, none lost

        await proxy.start()  # the broker is back
        assert await eventually(lambda: _async(_probe(outage_settings, "ok")))
        assert await eventually(lambda: _all_sent(engine, events), seconds=20)
    messages = await collect(bound_queue, lambda got: {m.message_id for m in got} >= events)
    assert {m.message_id for m in messages} >= events


async def _all_sent(engine: AsyncEngine, ids: set[str]) -> bool:
    return await _unsent(engine, ids) == 0


async def _async(value: bool) -> bool:
    return value
