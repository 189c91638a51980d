"""Micro-benchmark of todos' own hot paths, loopback only, about 20-30 s in all.

    uv run --frozen python services/todos/bench/bench_hot_paths.py

Prints: hook client calls/s and p99 against a local allow-server (in its own process, so it
does not share our event loop), completion transactions/s (conditional UPDATE + outbox INSERT
+ NOTIFY), and relay publishes/s with confirms. Uses TODOS_BENCH_DATABASE_URL (default: the
todos_test database, migrated to head) and a private exchange and queue it deletes afterwards.
"""

import asyncio
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path
from uuid import uuid4

import aio_pika
from alembic import command
from alembic.config import Config
from sqlalchemy import insert

from contracts.envelope import exchange_arguments
from contracts.events import TaskCompleted
from contracts.ids import OwnerId, TaskId
from todos.adapters.broker import BrokerConnection
from todos.adapters.completions import SqlCompletionStore
from todos.adapters.db import DriverPool, make_engine
from todos.adapters.hook_client import HttpHookGate
from todos.adapters.outbox import outbox_row
from todos.adapters.publisher import AmqpPublisher
from todos.adapters.relay import OutboxRelay
from todos.adapters.repository import task_columns
from todos.adapters.tables import outbox, tasks
from todos.bootstrap import Container, bootstrap, make_hook_client, utc_now
from todos.config import HookSubscription, Settings
from todos.domain.model import Task
from todos.service_layer.errors import HookUnavailableError
from todos.service_layer.tasks import complete_task

DB = os.environ.get(
    "TODOS_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/todos_test"
)
AMQP = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
CONCURRENCY = 16
SECONDS = 5.0
SERVICE_DIR = Path(__file__).resolve().parents[1]

ALLOW_SERVER = """
import sys
from aiohttp import web
async def hook(request):
    await request.read()
    return web.json_response({"decision": "allow"})
app = web.Application()
app.router.add_post("/hook", hook)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


async def _for_a_while(call: object, seconds: float = SECONDS) -> tuple[float, float, float]:
    """Run `call` from CONCURRENCY workers for `seconds`: (calls/s, p99 ms, CPU ms per call).

    The CPU is this process's (user + system) only: the client side of the path measured.
    """
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call()  # type: ignore[operator]
            latencies.append(time.perf_counter() - started)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000 if len(latencies) > 1 else 0.0
    return len(latencies) / elapsed, p99, cpu * 1000 / max(len(latencies), 1)


async def _complete(container: Container, owner: OwnerId, task_id: TaskId) -> None:
    await complete_task(
        container.completions,
        container.clock,
        container.hooks,
        owner,
        task_id,
        capacity=container.capacity,
    )


async def bench_hook_client() -> str:
    port = 18000 + os.getpid() % 1000
    server = await asyncio.create_subprocess_exec(sys.executable, "-c", ALLOW_SERVER, str(port))
    client = make_hook_client()
    try:
        hook = HookSubscription.model_validate(
            {"name": "bench", "url": f"http://127.0.0.1:{port}/hook", "secret": "s", "timeout": 2}
        )
        gate = HttpHookGate(client, [hook])
        for _ in range(100):  # wait for the server, warm the pool
            if (await gate.before_complete(TaskId(uuid4()), OwnerId(uuid4())))[0].kind == "allow":
                break
            await asyncio.sleep(0.05)
        rate, p99, cpu = await _for_a_while(
            lambda: gate.before_complete(TaskId(uuid4()), OwnerId(uuid4()))
        )
    finally:
        await client.aclose()
        server.terminate()
        await asyncio.wait_for(server.wait(), 5)
    return f"hook client: {rate:,.0f} calls/s, p99 {p99:.1f} ms, {cpu:.2f} ms CPU/call"


async def bench_completion() -> str:
    engine = make_engine(DB, pool_size=CONCURRENCY)
    owner = OwnerId(uuid4())
    seeded = [Task.create(owner, f"bench {i}", None, utc_now()) for i in range(20_000)]
    async with engine.begin() as conn:
        await conn.execute(insert(tasks), [task_columns(t) for t in seeded])
    pending = iter(seeded)

    pool = DriverPool(DB, size=CONCURRENCY)
    store = SqlCompletionStore(pool, lambda: "bench")

    async def complete_one() -> None:
        task = next(pending)
        task.complete(utc_now())
        event = task.pull_events()[-1]
        assert isinstance(event, TaskCompleted)
        assert await store.complete(task, event)

    rate, p99, cpu = await _for_a_while(complete_one, seconds=4)
    await pool.close()
    await engine.dispose()
    return (
        f"completion store (UPDATE + outbox INSERT + NOTIFY): {rate:,.0f} /s, p99 {p99:.1f} ms,"
        f" {cpu:.2f} ms CPU each"
    )


async def bench_use_case() -> str:
    """The whole `complete_task` use case: owner-scoped read, a real hook call, the store."""
    port = 18000 + (os.getpid() + 500) % 1000
    server = await asyncio.create_subprocess_exec(sys.executable, "-c", ALLOW_SERVER, str(port))
    hook = HookSubscription.model_validate(
        {"name": "bench", "url": f"http://127.0.0.1:{port}/hook", "secret": "s", "timeout": 2}
    )
    settings = Settings(environment="test", database_url=DB, hooks=[hook], db_pool_size=CONCURRENCY)
    container = bootstrap(settings)
    owner = OwnerId(uuid4())
    seeded = [Task.create(owner, f"bench {i}", None, utc_now()) for i in range(20_000)]
    async with container.engine.begin() as conn:
        await conn.execute(insert(tasks), [task_columns(t) for t in seeded])
    pending = iter(seeded)
    try:
        for _ in range(100):  # wait for the hook server
            with contextlib.suppress(HookUnavailableError):
                await _complete(container, owner, next(pending).id)
                break
            await asyncio.sleep(0.05)
        rate, p99, cpu = await _for_a_while(
            lambda: _complete(container, owner, next(pending).id), seconds=4
        )
    finally:
        await container.aclose()
        server.terminate()
        await asyncio.wait_for(server.wait(), 5)
    return f"complete_task use case: {rate:,.0f} /s, p99 {p99:.1f} ms, {cpu:.2f} ms CPU each"


async def bench_relay(rows: int = 5000) -> str:
    engine = make_engine(DB, pool_size=4)
    exchange_name = f"bench.todos.events.{uuid4().hex[:8]}"
    admin = await aio_pika.connect(AMQP)
    channel = await admin.channel()
    exchange = await channel.declare_exchange(
        exchange_name,
        aio_pika.ExchangeType.TOPIC,
        durable=True,
        arguments=exchange_arguments(exchange_name),
    )
    queue = await channel.declare_queue(
        f"{exchange_name}.q", durable=True, arguments={"x-queue-type": "quorum"}
    )
    await queue.bind(exchange, "#")
    broker = BrokerConnection(AMQP)
    try:
        async with engine.begin() as conn:  # earlier unsent rows would skew the count
            await conn.exec_driver_sql(
                "UPDATE outbox SET published_at = now() WHERE published_at IS NULL"
            )
            event = TaskCompleted(
                task_id=TaskId(uuid4()),
                owner_id=OwnerId(uuid4()),
                title="b",
                completed_at=utc_now(),
            )
            await conn.execute(
                insert(outbox), [outbox_row(event, correlation_id=None) for _ in range(rows)]
            )
        relay = OutboxRelay(
            engine, AmqpPublisher(broker, exchange_name, timeout=10).publish, batch_size=100
        )
        await relay.drain_once()  # connect + declare outside the timing
        started, sent = time.perf_counter(), 100
        while sent < rows:
            result = await relay.drain_once()
            if not result.claimed:
                break
            sent += result.published
        elapsed = time.perf_counter() - started
    finally:
        await queue.delete(if_unused=False, if_empty=False)
        await channel.exchange_delete(exchange_name)
        await admin.close()
        await broker.close()
        await engine.dispose()
    rate = (sent - 100) / elapsed
    return f"relay (batch 100, confirms in flight, quorum queue): {rate:,.0f} publishes/s"


async def main() -> None:
    config = Config(str(SERVICE_DIR / "alembic.ini"))
    config.attributes["database_url"] = DB
    await asyncio.to_thread(command.upgrade, config, "head")
    print(f"concurrency {CONCURRENCY}, loopback, {os.cpu_count()} CPUs")
    for bench in (bench_hook_client, bench_completion, bench_use_case, bench_relay):
        print(await bench(), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
