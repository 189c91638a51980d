"""Micro-benchmark of budget's own hot paths, loopback only, about 30 s in all.

    uv run --frozen python services/budget/bench/bench_hot_paths.py

Prints: hook decisions/s with p50/p99 and server CPU per decision (signed POSTs, 16 in
flight, against the real app served by uvicorn in its own process; tasks whose cost the owner
can afford, so allow + hold, and some without a cost), and consumer events/s on a backlog
(`todos.task.completed.v1` messages of 100 owners queued first, then timed from the start of
`budget-consumer`, in its own process, until it has written every debit), with its CPU per
event. The machine is shared: CPU per call is the steadier figure.
Uses BUDGET_BENCH_DATABASE_URL (default: the budget_bench database, created by
scripts/infra.sh and migrated to head) and a private exchange and queues it deletes afterwards.
Both servers log at WARNING, so the figures are our code's, not the log writer's.
"""

import asyncio
import json
import os
import socket
import statistics
import sys
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import aio_pika
import aiohttp
from alembic import command
from alembic.config import Config
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from budget.adapters.db import make_engine
from budget.adapters.tables import accounts, holds, ledger_entries, task_costs, token_types
from budget.adapters.topology import Topology
from budget.config import Settings
from contracts.envelope import AmqpMessage, build_envelope, to_amqp
from contracts.events import TaskCompleted
from contracts.hooks import HOOK_PATH, BeforeCompleteTask
from contracts.ids import DeliveryId, InvocationId, OwnerId, TaskId
from contracts.signing import SIGNATURE_HEADER, sign

DB = os.environ.get(
    "BUDGET_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/budget_bench"
)
AMQP = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
CONCURRENCY = 16
POOL = int(os.environ.get("BUDGET_DB_POOL_SIZE", "10"))  # the servers' pool (budget's Settings)
HOOK_SECONDS = 5.0
NO_COST_EVERY = 4  # one hook call in four is for a task without a cost
EVENTS = 3000
SECRET = "bench-hook-secret"  # noqa: S105 - a throwaway secret shared with our own server
ROOT = Path(__file__).resolve().parents[3]
SERVICE_DIR = ROOT / "services" / "budget"
APP = "budget.entrypoints.app:create_app"
UVICORN = ["-m", "uvicorn", APP, "--factory", "--host", "127.0.0.1", "--log-level", "warning"]
CONSUMER = "from budget.entrypoints.consumer import main; main()"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ms(latencies: Sequence[float], percentile: int) -> float:
    """The `percentile` of `latencies` (seconds), in milliseconds."""
    return statistics.quantiles(latencies, n=100)[percentile - 1] * 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def spawn(code: Sequence[str], **env: str) -> asyncio.subprocess.Process:
    """A Python child with `env` on top of ours (its warnings and errors go to our stderr)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, *code, env={**os.environ, "BUDGET_ENVIRONMENT": "test", **env}, cwd=ROOT
    )


async def stop(process: asyncio.subprocess.Process) -> None:
    """Stop a child we spawned, gracefully if it lets us within 10 s."""
    if process.returncode is None:
        process.terminate()  # SIGTERM: both servers shut down gracefully on it
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def seed_costs(
    engine: AsyncEngine, owners: int, per_owner: int
) -> tuple[UUID, list[tuple[UUID, UUID]]]:
    """A fresh token type, `owners` accounts credited plenty, `per_owner` task costs each."""
    token_type = uuid4()
    people = [uuid4() for _ in range(owners)]
    costs: list[dict[str, Any]] = [
        {"id": uuid4(), "owner_id": o, "task_id": uuid4(), "token_type_id": token_type, "amount": 1}
        for _ in range(per_owner)
        for o in people  # round-robin, so calls in flight seldom wait on one account's lock
    ]
    async with engine.begin() as conn:
        await conn.execute(
            insert(token_types), {"id": token_type, "code": f"bench-{token_type.hex}", "name": "b"}
        )
        await conn.execute(
            insert(accounts),
            [{"owner_id": o, "token_type_id": token_type, "balance": 10**9} for o in people],
        )
        await conn.execute(
            insert(ledger_entries),
            [
                {
                    "id": uuid4(),
                    "owner_id": o,
                    "token_type_id": token_type,
                    "amount": 10**9,
                    "kind": "credit",
                    "reason": "bench",
                }
                for o in people
            ],
        )
        await conn.execute(insert(task_costs), costs)
    return token_type, [(c["owner_id"], c["task_id"]) for c in costs]


async def debits(engine: AsyncEngine, token_type: UUID) -> int:
    """How many debits the ledger holds for `token_type`."""
    async with engine.connect() as conn:
        count = await conn.scalar(
            select(func.count())
            .select_from(ledger_entries)
            .where(ledger_entries.c.token_type_id == token_type, ledger_entries.c.kind == "debit")
        )
    return int(count or 0)


async def consumers(channel: aio_pika.abc.AbstractChannel, queue: str) -> int:
    """How many consumers `queue` has (the queue must exist)."""
    declared = await channel.declare_queue(queue, passive=True)
    return int(declared.declaration_result.consumer_count or 0)


def _signed_call(owner: UUID, task: UUID) -> tuple[bytes, dict[str, str]]:
    now = datetime.now(UTC)
    call = BeforeCompleteTask(
        subscriber="budget",
        delivery_id=DeliveryId(uuid4()),
        invocation_id=InvocationId(uuid4()),
        task_id=TaskId(task),
        owner_id=OwnerId(owner),
        occurred_at=now,
        deadline=now + timedelta(minutes=5),  # signed ahead of the timed run
    )
    body = call.model_dump_json().encode()
    headers = {
        SIGNATURE_HEADER: sign(body, SECRET, int(time.time())),
        "Content-Type": "application/json",
    }
    return body, headers


async def _wait_healthy(
    session: aiohttp.ClientSession, port: int, server: asyncio.subprocess.Process
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.returncode is None:
        try:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass  # not listening yet
        await asyncio.sleep(0.1)
    raise RuntimeError("budget-api did not come up within 30 s")


async def bench_hook(engine: AsyncEngine) -> str:
    """Signed hook calls at CONCURRENCY in flight for HOOK_SECONDS: decisions/s, p50/p99."""
    token_type, costed = await seed_costs(engine, owners=300, per_owner=40)
    work: deque[tuple[str, UUID, UUID]] = deque()
    for i, (owner, task) in enumerate(costed):
        work.append(("hold", owner, task))
        if i % (NO_COST_EVERY - 1) == NO_COST_EVERY - 2:
            work.append(("no cost", uuid4(), uuid4()))
    port = free_port()
    server = await spawn(
        [*UVICORN, "--no-access-log", "--port", str(port)],
        BUDGET_DATABASE_URL=DB,
        BUDGET_AMQP_URL=AMQP,
        BUDGET_HOOK_SECRETS=json.dumps([SECRET]),
        BUDGET_LOG_LEVEL="WARNING",
    )
    latencies: dict[str, list[float]] = {"hold": [], "no cost": []}
    # The load generator stays light, as wrk would: one aiohttp session, and every call signed
    # before the clock starts (the signature's timestamp is valid for minutes), so the client's
    # CPU does not crowd the server on two shared cores.
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    url = f"http://127.0.0.1:{port}{HOOK_PATH}"
    async with aiohttp.ClientSession(connector=connector) as session:
        try:
            await _wait_healthy(session, port, server)

            async def decide(body: bytes, headers: dict[str, str]) -> None:
                async with session.post(url, data=body, headers=headers) as response:
                    answer = await response.read()
                if response.status != 200 or json.loads(answer) != {"decision": "allow"}:
                    raise RuntimeError(f"hook answered {response.status}: {answer!r}")

            # Warm-up (pool connections, first queries), untimed, on tasks without a cost.
            await asyncio.gather(
                *(decide(*_signed_call(uuid4(), uuid4())) for _ in range(4 * CONCURRENCY))
            )
            calls = deque((path, *_signed_call(owner, task)) for path, owner, task in work)
            deadline = time.perf_counter() + HOOK_SECONDS

            async def worker() -> None:
                while calls and time.perf_counter() < deadline:
                    path, body, headers = calls.popleft()
                    started = time.perf_counter()
                    await decide(body, headers)
                    latencies[path].append(time.perf_counter() - started)

            started, cpu = time.perf_counter(), cpu_seconds(server.pid)
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            elapsed, cpu = time.perf_counter() - started, cpu_seconds(server.pid) - cpu
        finally:
            await stop(server)
    async with engine.connect() as conn:
        held = await conn.scalar(
            select(func.count())
            .select_from(holds)
            .where(holds.c.token_type_id == token_type, holds.c.status == "active")
        )
    every = latencies["hold"] + latencies["no cost"]
    if held != len(latencies["hold"]):
        raise RuntimeError(f"{len(latencies['hold'])} allow+hold calls made {held} holds")
    parts = [
        f"hook decisions (signed POST -> uvicorn, 1 worker, DB pool {POOL}, no overflow; "
        f"1 load + at most 1 save, no transaction): "
        f"{len(every) / elapsed:,.0f} decisions/s, p50 {ms(every, 50):.1f} ms, "
        f"p99 {ms(every, 99):.1f} ms over {len(every):,} calls; "
        f"server CPU {cpu / len(every) * 1000:.2f} ms per decision"
    ]
    for path, seen in latencies.items():
        parts.append(
            f"    {path:>7}: {len(seen):,} calls, p50 {ms(seen, 50):.1f} ms, "
            f"p99 {ms(seen, 99):.1f} ms"
        )
    parts.append(f"    holds created: {held:,} (one per allow+hold call)")
    return "\n".join(parts)


def _message(amqp: AmqpMessage) -> aio_pika.Message:
    """The message todos' relay would send (properties mirror the envelope)."""
    return aio_pika.Message(
        amqp.body,
        content_type=amqp.content_type,
        message_id=amqp.message_id,
        type=amqp.type,
        correlation_id=amqp.correlation_id,
        timestamp=amqp.timestamp,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


async def bench_consumer(engine: AsyncEngine, events: int = EVENTS) -> str:
    """Publish `events` completions, time until budget-consumer has debited every one."""
    token_type, costed = await seed_costs(engine, owners=100, per_owner=events // 100)
    suffix = uuid4().hex[:8]
    # The queue as the consumer declares it by default (its delivery limit included).
    limit = Settings.model_fields["queue_delivery_limit"].default
    topology = Topology(f"bench.budget.events.{suffix}", f"bench.budget.{suffix}", limit)
    messages = [
        to_amqp(
            build_envelope(
                TaskCompleted(
                    task_id=TaskId(task),
                    owner_id=OwnerId(owner),
                    title="bench",
                    completed_at=datetime.now(UTC),
                ),
                correlation_id="bench",
            )
        )
        for owner, task in costed
    ]
    connection = await aio_pika.connect(AMQP)
    channel = await connection.channel()  # with publisher confirms
    # Declared here too (idempotent, same arguments), so publishing needs no race with start-up.
    await topology.declare(connection, channel)
    exchange = await channel.get_exchange(topology.events_exchange)
    # A backlog: every event is queued before the consumer starts, so its drain is timed alone.
    started = time.perf_counter()
    for i in range(0, len(messages), 200):  # 200 confirms in flight at a time
        batch = messages[i : i + 200]
        await asyncio.gather(*(exchange.publish(_message(m), m.routing_key) for m in batch))
    published = time.perf_counter() - started
    consumer = await spawn(
        ["-c", CONSUMER],
        BUDGET_DATABASE_URL=DB,
        BUDGET_AMQP_URL=AMQP,
        BUDGET_EVENTS_EXCHANGE=topology.events_exchange,
        BUDGET_QUEUE=topology.queue,
        BUDGET_CONSUMER_METRICS_PORT="0",
        BUDGET_LOG_LEVEL="WARNING",
    )
    try:
        deadline = time.monotonic() + 30
        while await consumers(channel, topology.queue) < 1:
            if time.monotonic() > deadline or consumer.returncode is not None:
                raise RuntimeError("budget-consumer did not start consuming within 30 s")
            await asyncio.sleep(0.01)
        started, cpu = time.perf_counter(), cpu_seconds(consumer.pid)
        deadline = time.monotonic() + 60
        while (done := await debits(engine, token_type)) < len(messages):
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {done} of {len(messages)} debits after 60 s")
            await asyncio.sleep(0.02)
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(consumer.pid) - cpu
    finally:
        await stop(consumer)
        await topology.delete(channel)
        await channel.exchange_delete(topology.events_exchange)
        await connection.close()
    if done != len(messages):
        raise RuntimeError(f"{done} debits for {len(messages)} events: something applied twice")
    defaults = Settings(environment="test")
    return (
        f"consumer (budget-consumer, prefetch {defaults.consumer_prefetch}, quorum queue, "
        f"DB pool {POOL}; batches of up to {defaults.consumer_batch}, "
        f"{defaults.consumer_batches} at once, 1 load + 1 save per batch): "
        f"{len(messages) / elapsed:,.0f} events/s on a backlog ({len(messages):,} debits in "
        f"{elapsed:.2f} s, after {published:.2f} s publishing them with confirms); "
        f"consumer CPU {cpu / len(messages) * 1000:.2f} ms per event"
    )


async def main() -> None:
    database = make_url(DB).database or "budget_bench"
    infra = await asyncio.create_subprocess_exec(str(ROOT / "scripts" / "infra.sh"), database)
    if await infra.wait() != 0:
        raise SystemExit("scripts/infra.sh failed: PostgreSQL or RabbitMQ is not available")
    config = Config(str(SERVICE_DIR / "alembic.ini"))
    config.attributes["database_url"] = DB
    await asyncio.to_thread(command.upgrade, config, "head")
    engine = make_engine(DB, pool_size=4)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())  # others' work skews the figures
    print(
        f"concurrency {CONCURRENCY}, loopback, {os.cpu_count()} CPUs (load {load}), db {database}"
    )
    try:
        for bench in (bench_hook, bench_consumer):
            print(await bench(engine), flush=True)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
