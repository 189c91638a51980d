"""One replica of each process versus two, on the cluster, under the same load: throughput, CPU
per completion (the whole cluster's and the services' own), and what coordination costs (the
consumers' version conflicts, duplicates the relays would have published).

The box has two cores: the point is the price of a second replica, not a speed-up.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import re
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from e2e.cluster.net import Host
from e2e.cluster.system import CONSUMER_METRICS, Cluster
from e2e.faults.checker import check, drain
from e2e.faults.driver import at_rate, setup
from e2e.identity import TokenMaker

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(hosts: list[Host]) -> dict[int, int]:
    """utime + stime of every process of `hosts`, by pid."""
    ticks = {}
    for host in hosts:
        for pid in host.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def cpu_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU used between two snapshots (a process born in between counts whole)."""
    return sum(t - before.get(pid, 0) for pid, t in after.items()) / TICKS


def consumer_saves(c: Cluster) -> dict[str, float]:
    """budget_account_saves_total by result, summed over the running consumers, and their
    `duplicate` events (an event applied before: a relay's double publish would show here)."""
    totals: dict[str, float] = {}
    for r in c.replicas:
        if not r.procs["budget-consumer"].alive:
            continue
        url = f"http://{r.host.addr}:{CONSUMER_METRICS}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:
                text = resp.read().decode()
        except OSError:
            continue
        for m in re.finditer(r'^budget_account_saves_total\{result="(\w+)"\} (\S+)$', text, re.M):
            totals[m[1]] = totals.get(m[1], 0.0) + float(m[2])
        for m in re.finditer(
            r'^budget_events_consumed_total\{[^}]*outcome="duplicate"[^}]*\} (\S+)$', text, re.M
        ):
            totals["event_duplicate"] = totals.get("event_duplicate", 0.0) + float(m[1])
    return totals


@dataclass
class Run:
    """One measured run."""

    replicas: int
    completions: int
    ok: int
    seconds: float  # from the first completion sent to the last debit applied
    cpu_all: float
    cpu_services: float
    conflicts: float
    saves: float
    duplicates: float
    api_p99: float
    passed: bool

    def line(self) -> str:
        per = self.ok or 1
        rate = self.conflicts / self.saves if self.saves else 0.0
        return (
            f"replicas={self.replicas} completions={self.ok}/{self.completions} "
            f"throughput={self.ok / self.seconds:.1f}/s (sent to debited, {self.seconds:.0f}s) "
            f"cpu/completion={1000 * self.cpu_all / per:.0f}ms cluster, "
            f"{1000 * self.cpu_services / per:.0f}ms services "
            f"api_p99={self.api_p99:.2f}s consumer_conflicts={self.conflicts:.0f}/"
            f"{self.saves:.0f} saves ({rate:.1%}) duplicate_events={self.duplicates:.0f} "
            f"{'exact' if self.passed else 'NOT EXACT'}"
        )


async def measure(c: Cluster, replicas: int, rate: float, seconds: float, owners: int) -> Run:
    """Load at `rate`/s for `seconds` with `replicas` replicas of each process running."""
    spare = c.replicas[1]
    if replicas == 1:
        for proc in spare.procs.values():
            proc.stop(grace=20)
        await asyncio.sleep(6)  # the gateway's and the balancer's checks see them gone
    tokens = TokenMaker(c.root / "dev")
    world = await setup(c.gateway_url, tokens, random.Random(f"scale{replicas}"), owners=owners,
                        tasks=round(rate * seconds))  # fmt: skip
    app_hosts = [r.host for r in c.replicas]
    everything = list(c.net.hosts.values())
    try:
        saves_before = consumer_saves(c)
        cpu_before = cpu_ticks(everything), cpu_ticks(app_hosts)
        started = time.monotonic()
        await at_rate(world, world.tasks, rate)
        state, _ = await drain(world, 180)
        elapsed = time.monotonic() - started - 2.0  # drain's settle pause
        cpu_all = cpu_seconds(cpu_before[0], cpu_ticks(everything))
        cpu_services = cpu_seconds(cpu_before[1], cpu_ticks(app_hosts))
        saves_after = consumer_saves(c)
        verdict = check(f"scale-{replicas}", world, state, 0)
    finally:
        await world.aclose()
    delta = {k: saves_after.get(k, 0.0) - saves_before.get(k, 0.0) for k in saves_after}
    run = Run(
        replicas=replicas,
        completions=len(world.tasks),
        ok=sum(1 for t in world.tasks if 200 in t.answers),
        seconds=elapsed,
        cpu_all=cpu_all,
        cpu_services=cpu_services,
        conflicts=delta.get("conflict", 0.0),
        saves=sum(v for k, v in delta.items() if k != "event_duplicate"),
        duplicates=delta.get("event_duplicate", 0.0),
        api_p99=verdict.latency_p99,
        passed=verdict.passed,
    )
    if replicas == 1:
        for proc in spare.procs.values():
            proc.keep = True
            proc.start()
        await asyncio.to_thread(c.wait_ready, c.api_urls(), 120)
        await asyncio.sleep(4)
    return run


async def backlog(c: Cluster, rate: float, seconds: float, owners: int, n: int) -> tuple[str, bool]:
    """The consumers' worst case: stopped while the load runs, then `n` of them started
    together on the backlog (every owner's events in each): version conflicts, drain time."""
    every = [r.procs["budget-consumer"] for r in c.replicas]
    for proc in every:
        proc.stop(grace=20)
    consumers = every[:n]
    tokens = TokenMaker(c.root / "dev")
    world = await setup(c.gateway_url, tokens, random.Random("backlog"), owners=owners,
                        tasks=round(rate * seconds))  # fmt: skip
    try:
        await at_rate(world, world.tasks, rate)
        before = consumer_saves(c)  # nothing: both stopped (counters restart with them)
        started = time.monotonic()
        for proc in consumers:
            proc.keep = True
            proc.start()
        state, _ = await drain(world, 180)
        elapsed = time.monotonic() - started - 2.0
        after = consumer_saves(c)
        verdict = check("backlog", world, state, 0)
        # The apply itself, without the consumers' start-up: first to last debit written.
        stamps = sorted(
            datetime.fromisoformat(e["created_at"]) for es in state.debits.values() for e in es
        )
        applying = (stamps[-1] - stamps[0]).total_seconds() if stamps else math.nan
    finally:
        await world.aclose()
        for proc in every:
            if not proc.alive:
                proc.keep = True
                proc.start()
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    saves = sum(v for k, v in delta.items() if k != "event_duplicate")
    conflicts = delta.get("conflict", 0.0)
    line = (
        f"backlog of {len(world.tasks)} events, {n} consumer(s) started together: applied in "
        f"{applying:.1f}s (first to last debit; {elapsed:.0f}s with start-up), "
        f"consumer_conflicts={conflicts:.0f}/{saves:.0f} "
        f"saves ({conflicts / saves if saves else 0.0:.1%}) "
        f"{'exact' if verdict.passed else 'NOT EXACT'}"
    )
    return line, verdict.passed


async def compare(c: Cluster, rate: float, seconds: float, owners: int) -> list[Run]:
    """Two replicas, then one, under the same load; then two consumers on a backlog."""
    runs = []
    for n in (2, 1):
        run = await measure(c, n, rate, seconds, owners)
        print(f"scale {run.line()}", flush=True)
        runs.append(run)
    for n in (1, 2):
        line, exact = await backlog(c, rate, seconds, owners, n)
        print(f"scale {line}", flush=True)
        if not exact:
            runs[-1].passed = False
    return runs
