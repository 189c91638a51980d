"""The pieces of `make bench` work: the money checker, /proc readings, the inline peer."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from e2e import broker, pgauth
from e2e.bench import peer_db, peer_process, procs
from e2e.bench.check import Balance, problems
from e2e.bench.load import Job, closed_loop, open_loop
from e2e.bench.system import server_dsn
from e2e.identity import TokenMaker

PORT_BASE = int(
    os.environ.get("BENCH_PORT_BASE", 30000 + int(os.environ.get("E2E_PORT_OFFSET", "0")))
)
DB = f"peer_test{os.environ.get('E2E_DB_SUFFIX', '')}"

CREDITS = {"a": 100, "b": 50}
COSTS = {"t1": ("a", 10), "t2": ("a", 5), "t3": ("b", 7)}


def test_the_checker_accepts_exact_balances() -> None:
    balances = {"a": Balance(85, 0), "b": Balance(50, 0)}
    assert problems(CREDITS, COSTS, {"t1", "t2"}, balances, {"t1": [-10], "t2": [-5]}) == []


@pytest.mark.parametrize(
    ("balances", "debits", "expected"),
    [
        ({"a": Balance(86, 0)}, {"t1": [-10], "t2": [-5]}, "owner a: balance 86, expected 85"),
        ({"a": Balance(85, 7)}, {"t1": [-10], "t2": [-5]}, "owner a: held 7 after the drain"),
        ({"a": Balance(75, 0)}, {"t1": [-10, -10], "t2": [-5]}, "task t1: completed with cost"),
        ({"a": Balance(85, 0)}, {"t2": [-5]}, "task t1: completed with cost 10, debits []"),
        ({"a": Balance(85, 0)}, {"t1": [-10], "t2": [-5], "t3": [-7]}, "task t3: still open"),
    ],
)
def test_the_checker_names_what_is_wrong(
    balances: dict[str, Balance], debits: dict[str, list[int]], expected: str
) -> None:
    found = problems(CREDITS, COSTS, {"t1", "t2"}, {"b": Balance(50, 0), **balances}, debits)
    assert any(expected in line for line in found), found


def test_proc_readings_see_a_child_and_its_cpu() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "sum(range(3_000_000)); input()"], stdin=subprocess.PIPE
    )
    try:
        assert child.pid in procs.descendants(os.getpid())
        memory = procs.memory(child.pid)
        assert memory is not None
        assert memory.peak_mib >= memory.rss_mib > 1
    finally:
        child.communicate(b"\n", timeout=10)
    assert (procs.cpu_seconds(os.getpid()) or 0) > 0
    assert procs.cpu_seconds(child.pid) is None  # reaped


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A development key pair as the launcher makes it."""
    folder = tmp_path_factory.mktemp("dev")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (folder / "jwt-private.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (folder / "jwt-public.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return folder


Peer = tuple[peer_process.PeerProcesses, str, list[Job]]


@pytest.fixture
def peer(keys: Path, tmp_path: Path) -> Iterator[Peer]:
    """The inline peer (aiohttp hook client) on its own test database and queue; four tasks
    an owner can afford, then one another owner cannot."""
    rich, poor = uuid.uuid4(), uuid.uuid4()
    tasks = [(uuid.uuid4(), rich, 5) for _ in range(4)] + [(uuid.uuid4(), poor, 9)]
    pgauth.ensure_databases(DB)
    asyncio.run(peer_db.seed(server_dsn(DB), tasks, {rich: 20, poor: 3}))
    tokens = TokenMaker(keys)
    queue = f"bench-test.{uuid.uuid4().hex[:8]}.peer"
    running = peer_process.start(
        port=PORT_BASE + 301,
        hook_port=PORT_BASE + 302,
        dsn=server_dsn(DB),
        variant="aiohttp",
        queue=queue,
        amqp_url=broker.AMQP_URL,
        public_key_file=keys / "jwt-public.pem",
        log=tmp_path / "peer.log",
    )
    try:
        yield running, queue, [Job(str(t), tokens.token(o)) for t, o, _ in tasks]
    finally:
        running.stop()
        asyncio.run(broker.delete([], [queue]))


async def _queued(queue: str) -> int:
    connection = await aio_pika.connect(broker.AMQP_URL)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)


async def test_the_peer_completes_holds_and_publishes_what_it_can_afford(peer: Peer) -> None:
    running, queue, jobs = peer

    closed = await closed_loop(running.url, iter(jobs[:3]), concurrency=2, seconds=10, name="c")
    opened = await open_loop(running.url, iter(jobs[3:]), rate=10, seconds=0.2, name="o")
    again = await closed_loop(running.url, iter(jobs[:1]), concurrency=1, seconds=10, name="a")

    assert closed.statuses[200] == 3
    assert closed.exhausted
    assert opened.statuses[200] == 1
    assert opened.reasons == {"409 Insufficient budget": 1}
    assert again.reasons == {"404 no such open task": 1}
    assert await peer_db.counts(server_dsn(DB)) == {"completed": 4, "outbox": 4, "holds": 4}
    assert await _queued(queue) == 4


async def test_the_open_loop_counts_what_stays_unanswered_with_its_wait() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.match_info["task"]))
        return web.json_response({"code": "late"}, status=503)

    app = web.Application()
    app.router.add_post("/api/todos/tasks/{task}/complete", slow)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", PORT_BASE + 303).start()
    try:
        jobs = iter([Job("0", "t"), Job("0", "t"), Job("5", "t")])
        url = f"http://127.0.0.1:{PORT_BASE + 303}"
        out = await open_loop(url, jobs, rate=10, seconds=0.3, name="o", tail=1.0)
    finally:
        await runner.cleanup()

    assert out.reasons == {"503 late": 2, "err unanswered": 1}
    assert len(out.latencies) == 3
    assert max(out.latencies) >= 1.0  # the given-up request counts with its whole wait
