"""`make bench`: the whole stack against an inline peer, the same load, one run (~3-4 min).

1. Starts the stack with the launcher `make run` uses (deploy/local/stack.py) on its own ports,
   databases, exchange and queue, rate limits raised; prepares a token type, owners, credits
   and tasks with costs through the gateway.
2. Completes tasks through the gateway: a warm-up, a closed loop (BENCH_CONCURRENCY in flight
   for BENCH_SECONDS), an open loop (BENCH_RATE/s for BENCH_OPEN_SECONDS); waits for every
   debit; then a backlog (the consumer SIGSTOPped while BENCH_BACKLOG completions queue up)
   to time the consumer's drain. Checks every balance exactly; stops the stack.
3. Drives the inline peer (e2e.bench.peer: one FastAPI process, its hook server and its own
   database and queue) with the same load, once with an httpx hook client and once with
   aiohttp.
4. Prints one table; exits 1 when a balance is not exact (speed is shown, never asserted).

Ports: BENCH_PORT_BASE (default 30000 + E2E_PORT_OFFSET) + 1, 2, 80, 101, 102, 201, 202, 404.
Databases: todos_bench, budget_bench, peer_bench (+ E2E_DB_SUFFIX). Broker: AMQP_URL.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import uvloop

from e2e import broker, pgauth
from e2e.bench import peer_db, peer_process, procs, system
from e2e.bench.check import problems
from e2e.bench.load import Job, Outcome, closed_loop, open_loop
from e2e.bench.report import Side, percentile, table
from e2e.identity import TokenMaker
from e2e.stack import RunningStack, StackConfig

WARM_UP = 128
PEER_VARIANTS = ("aiohttp", "httpx")


def _env(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@dataclass(frozen=True)
class Settings:
    """Every knob, from the environment."""

    seconds: float = _env("BENCH_SECONDS", 15)
    open_seconds: float = _env("BENCH_OPEN_SECONDS", 10)
    rate: float = _env("BENCH_RATE", 100)
    concurrency: int = int(_env("BENCH_CONCURRENCY", 32))
    tasks: int = int(_env("BENCH_TASKS", 12000))  # at most this many for the closed loop
    backlog: int = int(_env("BENCH_BACKLOG", 500))
    owners: int = int(_env("BENCH_OWNERS", 64))
    peer_tasks: int = int(_env("BENCH_PEER_TASKS", 20000))  # the peer's closed-loop pool
    drain_within: float = _env("BENCH_DRAIN_SECONDS", 60)
    port_base: int = int(_env("BENCH_PORT_BASE", 30000 + _env("E2E_PORT_OFFSET", 0)))
    db_suffix: str = os.environ.get("E2E_DB_SUFFIX", "")
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def open_tasks(self) -> int:
        """How many completions the open loop asks for."""
        return math.ceil(self.rate * self.open_seconds)

    def stack(self) -> StackConfig:
        """The stack's ports and names; none collide with `make run` or the e2e suite."""
        b = self.port_base
        return StackConfig(
            name="bench",
            gateway_port=b + 80,
            admin_port=b + 404,
            todos_port=b + 1,
            budget_port=b + 2,
            metrics_port=b + 101,
            todos_db=f"todos_bench{self.db_suffix}",
            budget_db=f"budget_bench{self.db_suffix}",
            exchange=f"bench.{self.run}.events",
            queue=f"bench.{self.run}.budget",
            rate_limit_owner=1_000_000,
        )


def say(line: str) -> None:
    """Progress, on stderr (the table goes to stdout)."""
    print(f"bench | {line}", file=sys.stderr, flush=True)


def _lag(
    tasks: Sequence[str],
    completed: dict[str, datetime],
    debits: dict[str, list[tuple[int, datetime]]],
) -> tuple[float, float] | None:
    lags = [
        (debits[t][0][1] - completed[t]).total_seconds() * 1000
        for t in tasks
        if t in completed and t in debits
    ]
    return (percentile(lags, 50), percentile(lags, 99)) if lags else None


async def measure_system(s: Settings, stack: RunningStack) -> tuple[Side, list[str]]:
    """Prepare, load, drain, backlog, check; the stack is running and stays running."""
    side = Side("system")
    cfg = stack.config
    gateway, launcher = cfg.gateway_url, stack.process.pid
    started = time.monotonic()
    plan = await system.prepare(gateway, TokenMaker(stack.dev_dir), owners=s.owners)
    warm = await system.add_tasks(gateway, plan, WARM_UP)
    opened = await system.add_tasks(gateway, plan, s.open_tasks)
    backlog = await system.add_tasks(gateway, plan, s.backlog)
    took = time.monotonic() - started
    say(f"prepared {len(plan.costs)} tasks with costs for {s.owners} owners in {took:.0f} s")
    w = await closed_loop(gateway, iter(warm), concurrency=s.concurrency, seconds=60, name="warm")
    say(f"warm-up: {w.ok_per_second:.0f}/s  {w.statuses_text()}")
    # Tasks for the closed loop: what the warm-up pace needs, with a margin (preparing costs
    # about as much as completing, so not the cap's worth when the system is slow). Every
    # answer, a refusal too, uses a task up.
    pool = min(s.tasks, max(200, math.ceil(w.answers_per_second * s.seconds * 1.5)))
    started = time.monotonic()
    closed = await system.add_tasks(gateway, plan, pool)
    say(f"prepared {pool} more for the closed loop in {time.monotonic() - started:.0f} s")

    dbs = await system.Databases.open(cfg.todos_db, cfg.budget_db)
    monitor = await asyncpg.connect(system.server_dsn("postgres"))
    try:
        meter = procs.CpuMeter(
            system.pid_source(
                launcher, monitor, [cfg.todos_db, cfg.budget_db], await dbs.own_pids()
            ),
            label=system.label,
        )
        await meter.start()
        side.closed, side.open = await _load(gateway, s, closed, opened)
        if not await dbs.wait_drained(s.drain_within):
            side.notes.append(f"system: not every debit arrived within {s.drain_within:.0f} s")
        side.cpu_seconds = await meter.stop()
        side.cpu_by_process = meter.by_label()
        side.completions = side.closed.statuses[200] + side.open.statuses[200]
        completed, debits = await dbs.completed(), await dbs.debits()
        side.lag_closed = _lag(side.closed.completed, completed, debits)
        side.lag_open = _lag(side.open.completed, completed, debits)

        say(f"backlog: consumer paused, {s.backlog} completions")
        group = system.consumer_group(launcher)
        system.pause(group, True)
        try:
            # Half the concurrency: the queue is the point here, not the hook's timeouts.
            queued = await closed_loop(
                gateway, iter(backlog), concurrency=s.concurrency // 2, seconds=60, name="backlog"
            )
            say(f"  {queued.ok_per_second:.0f}/s  {queued.statuses_text()}")
            for _ in range(150):  # the relay publishes what is queued: at most 30 s
                if not await dbs.unpublished():
                    break
                await asyncio.sleep(0.2)
        finally:
            system.pause(group, False)
        if not await dbs.wait_drained(s.drain_within):
            side.notes.append(f"backlog: not every debit arrived within {s.drain_within:.0f} s")
        debits = await dbs.debits()
        times = sorted(debits[t][0][1] for t in queued.completed if t in debits)
        side.backlog = len(times)
        if len(times) > 1 and times[-1] > times[0]:
            side.drain_per_second = (len(times) - 1) / (times[-1] - times[0]).total_seconds()

        side.memory = {
            name: m
            for pid, name in system.processes(launcher).items()
            if (m := procs.memory(pid)) is not None
        }
        completed, debits = await dbs.completed(), await dbs.debits()
        found = problems(
            plan.credits,
            plan.costs,
            set(completed),
            await system.balances(gateway, plan),
            {t: [a for a, _ in d] for t, d in debits.items()},
        )
        written = sum(map(len, debits.values()))
        side.notes.append(f"system: {len(completed)} tasks completed in all, {written} debits")
        return side, found
    finally:
        await monitor.close()
        await dbs.close()


async def _load(
    base_url: str, s: Settings, closed: list[Job], opened: list[Job]
) -> tuple[Outcome, Outcome]:
    say(f"closed loop: c={s.concurrency} for {s.seconds:.0f} s")
    c = await closed_loop(
        base_url, iter(closed), concurrency=s.concurrency, seconds=s.seconds, name="closed"
    )
    say(
        f"  {c.ok_per_second:.0f}/s  {c.statuses_text()}"
        + ("  (tasks ran out)" if c.exhausted else "")
    )
    say(f"open loop: {s.rate:.0f}/s for {s.open_seconds:.0f} s")
    o = await open_loop(base_url, iter(opened), rate=s.rate, seconds=s.open_seconds, name="open")
    say(f"  p99 {o.percentile(99):.0f} ms  {o.statuses_text()}")
    return c, o


async def measure_peer(s: Settings, variant: str, dev_dir: Path, logs: Path) -> Side:
    """Seed the peer's database, start it and its hook server, drive the same load."""
    side = Side(f"peer ({variant})")
    database = f"peer_bench{s.db_suffix}"
    dsn = system.server_dsn(database)
    await asyncio.to_thread(pgauth.ensure_databases, database)
    rng = random.Random(10)
    owners = [uuid.uuid4() for _ in range(s.owners)]
    tasks = [
        (uuid.uuid4(), owners[i % len(owners)], rng.randint(1, 9))
        for i in range(WARM_UP + s.peer_tasks + s.open_tasks)
    ]
    credits = dict.fromkeys(owners, 1000)
    for _, owner, cost in tasks:
        credits[owner] += cost
    await peer_db.seed(dsn, tasks, credits)
    maker = TokenMaker(dev_dir)
    tokens = {o: maker.token(o, expires_in=3600) for o in owners}
    jobs = [Job(str(t), tokens[o]) for t, o, _ in tasks]

    queue = f"bench.{s.run}.peer"
    peer = peer_process.start(
        port=s.port_base + 201,
        hook_port=s.port_base + 202,
        dsn=dsn,
        variant=variant,
        queue=queue,
        amqp_url=broker.AMQP_URL,
        public_key_file=dev_dir / "jwt-public.pem",
        log=logs / f"peer-{variant}.log",
    )
    try:
        app, hook = peer.app, peer.hook
        names = {app.pid: "peer (FastAPI, uvicorn)", hook.pid: "peer hook (aiohttp)"}
        base_url = peer.url
        await closed_loop(
            base_url, iter(jobs[:WARM_UP]), concurrency=s.concurrency, seconds=30, name="warm-up"
        )
        monitor = await asyncpg.connect(system.server_dsn("postgres"))
        try:

            async def pids() -> list[int]:
                return [app.pid, hook.pid] + await peer_db.backend_pids(monitor, [database])

            meter = procs.CpuMeter(pids, label=lambda pid: names.get(pid) or system.label(pid))
            await meter.start()
            side.closed, side.open = await _load(
                base_url,
                s,
                jobs[WARM_UP : WARM_UP + s.peer_tasks],
                jobs[WARM_UP + s.peer_tasks :],
            )
            side.cpu_seconds = await meter.stop()
            side.cpu_by_process = meter.by_label()
        finally:
            await monitor.close()
        side.completions = side.closed.statuses[200] + side.open.statuses[200]
        side.memory = {n: m for pid, n in names.items() if (m := procs.memory(pid)) is not None}
        done = await peer_db.counts(dsn)
        side.notes.append(f"peer ({variant}): {done} in its database")
        return side
    finally:
        peer.stop()
        await broker.delete([], [queue])


def _peer_or_note(s: Settings, variant: str, tmp: Path) -> Side:
    try:
        return uvloop.run(measure_peer(s, variant, tmp / "dev", tmp))
    except Exception as exc:  # one variant failing must not hide the other's figures
        failed = Side(f"peer ({variant})")
        failed.notes.append(f"peer ({variant}) failed: {exc!r}; see {tmp}")
        return failed


def main() -> int:
    """Run everything, print the table; 1 when the balances are not exact."""
    s = Settings()
    os.environ.setdefault("RATE_LIMIT_IP", "1000000")  # all the load comes from 127.0.0.1
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    load_before = os.getloadavg()
    averages = " ".join(f"{a:.2f}" for a in load_before)
    say(f"load average {averages}; logs in {tmp}")
    cfg = s.stack()
    stack = RunningStack(cfg, tmp / "dev", tmp / "stack.log")
    found: list[str] = []
    began = time.monotonic()
    try:
        started = time.monotonic()
        stack.wait_ready(timeout=180)
        say(f"stack ready in {time.monotonic() - started:.0f} s (gateway {cfg.gateway_url})")
        system_side, found = uvloop.run(measure_system(s, stack))
    except Exception as exc:
        say(f"failed: {exc!r}; the stack's log ({stack.log_file}) ends:\n{stack.tail(15)}")
        raise
    finally:
        stack.stop()
        asyncio.run(
            broker.delete(
                [cfg.exchange, f"{cfg.queue}.dlx", f"{cfg.exchange}.unrouted"],
                [cfg.queue, cfg.dead_letter_queue, f"{cfg.exchange}.unrouted"],
            )
        )
    peers = [_peer_or_note(s, v, tmp) for v in PEER_VARIANTS]
    best = max(peers, key=lambda p: p.closed.ok_per_second if p.closed else 0.0)
    load_after = os.getloadavg()
    say(f"done in {time.monotonic() - began:.0f} s")
    print(table(system_side, peers, best, s.rate))
    for note in [n for side in (system_side, *peers) for n in side.notes]:
        print(f"- {note}")
    print(
        f"- the peer for the ratio: {best.name} (the faster variant); CPU counts the launcher's"
        " children (the services, the UI server if on, haproxy) and the PostgreSQL backends on"
        " the run's databases, not RabbitMQ (shared) nor the load generator"
    )
    print(f"- load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (2 cores)")
    print(f"balances exact: {'no' if found else 'yes'}")
    for line in found[:10]:
        print(f"  {line}")
    if not found and not os.environ.get("BENCH_KEEP_LOGS"):
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
