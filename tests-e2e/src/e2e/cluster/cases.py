"""The nemesis: each case runs completions at a steady rate through the gateway while one
fault hits the cluster, then drains and checks (e2e.faults.checker: the fault suite's own)."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from e2e.api import Caller
from e2e.cluster.procs import Proc
from e2e.cluster.system import BUDGET_PORT, SERVICES, TODOS_PORT, Cluster
from e2e.faults.checker import Verdict, check, dead_letters, drain, expect_no_5xx
from e2e.faults.driver import Task, World, at_rate, complete, setup
from e2e.identity import TokenMaker
from e2e.stories import veto_credit_complete_debit

# What a caller may see while a database primary is replaced: a clean "unavailable" answer
# (the API's 503 problem, or the gateway's 503/504 when no replica answered in time).
FAILOVER_STATUSES = (503, 504)


@dataclass(frozen=True)
class Params:
    """How long and how hard (the 2-core box runs three brokers, two databases and more)."""

    rate: float = 8.0  # completions per second
    seconds: float = 45.0  # length of the load in a fault case
    fault_at: float = 8.0  # s into the load
    partition: float = 20.0  # how long a broker partition lasts
    isolation: float = 35.0  # how long the database primary is cut off (> Patroni's ttl 20 s)
    down: float = 15.0  # how long a killed broker node stays down
    drain_timeout: float = 120.0
    owners: int = 6

    @staticmethod
    def smoke() -> Params:
        """One short case for CI."""
        return Params(rate=5.0, seconds=30.0, fault_at=6.0, down=10.0, drain_timeout=90.0)


@dataclass
class Timeline:
    """When each completion was answered, and how: for the recovery time."""

    answers: list[tuple[float, int]] = field(default_factory=list)
    fault_started: float | None = None
    fault_ended: float | None = None
    events: list[str] = field(default_factory=list)

    def recovery(self) -> float:
        """From the fault's start to the last failed completion after it (0: none failed)."""
        if self.fault_started is None:
            return 0.0
        failed = [t for t, s in self.answers if s != 200 and t >= self.fault_started]
        return max(failed) - self.fault_started if failed else 0.0


@dataclass
class ClusterVerdict:
    """The checker's verdict (its `overdrawn` column included), plus the recovery time."""

    verdict: Verdict
    recovery: float = 0.0

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    def line(self) -> str:
        """The checker's line with `recovery=` before `dlq=`."""
        return self.verdict.line().replace(" dlq=", f" recovery={self.recovery:.1f}s dlq=", 1)


Fault = Callable[[Cluster, Timeline], Awaitable[None]]


async def workload(
    name: str, c: Cluster, p: Params, rng: random.Random, fault: Fault | None = None,
    *, seconds: float | None = None, allowed: tuple[int, ...] = (),
) -> ClusterVerdict:  # fmt: skip
    """Set up owners and tasks, complete them at `p.rate` while `fault` runs, drain, check."""
    started = time.monotonic()
    assert c.dev is not None
    tokens = TokenMaker(c.root / "dev")
    seconds = seconds or p.seconds
    world = await setup(c.gateway_url, tokens, rng, owners=p.owners, tasks=round(p.rate * seconds))
    timeline = Timeline()

    async def timed(w: World, task: Task) -> int:
        status = await complete(w, task)
        timeline.answers.append((time.monotonic(), status))
        return status

    try:
        await asyncio.gather(
            at_rate(world, world.tasks, p.rate, timed),
            fault(c, timeline) if fault else asyncio.sleep(0),
        )
        state, _ = await drain(world, p.drain_timeout)
        dlq = await dead_letters(c.amqp_url, c.dead_letter_queue, world)
        verdict = check(name, world, state, dlq)
        result = ClusterVerdict(verdict, timeline.recovery())
    finally:
        await world.aclose()
    verdict.seconds = time.monotonic() - started
    verdict.notes.extend(timeline.events)
    expect_no_5xx(verdict, allowed)
    return result


async def _at(p: Params, tl: Timeline) -> None:
    await asyncio.sleep(p.fault_at)
    tl.fault_started = time.monotonic()


def _since(tl: Timeline) -> float:
    assert tl.fault_started is not None
    return time.monotonic() - tl.fault_started


# --- the cases


async def story(c: Cluster, p: Params, rng: random.Random) -> ClusterVerdict:
    """The product's story through the cluster's gateway: veto, credit, complete, one debit."""
    tokens = TokenMaker(c.root / "dev")
    admin, owner = Caller(c.gateway_url, tokens, admin=True), Caller(c.gateway_url, tokens)
    started = time.monotonic()
    v = Verdict("story")
    try:
        await veto_credit_complete_debit(admin, owner)
    except (AssertionError, httpx.HTTPError) as exc:
        v.failures.append(f"story broke: {type(exc).__name__}: {exc}")
    finally:
        await admin.aclose()
        await owner.aclose()
    v.seconds = time.monotonic() - started
    return ClusterVerdict(v)


async def baseline(c: Cluster, p: Params, rng: random.Random) -> ClusterVerdict:
    """No fault: two replicas of everything, the reference numbers."""
    return await workload("baseline", c, p, rng, seconds=20.0)


def _down_for(procs: list[Proc], seconds: float) -> Callable[[], Awaitable[None]]:
    """SIGKILL `procs` (not restarted for `seconds`), then let the keeper bring them back."""

    async def run() -> None:
        for proc in procs:
            proc.keep = False
            proc.signal(signal.SIGKILL)
        await asyncio.sleep(seconds)
        for proc in procs:
            proc.keep = True

    return run


async def rabbit_leader_kill(c: Cluster, p: Params, rng: random.Random) -> ClusterVerdict:
    """SIGKILL the RabbitMQ node leading budget's queue; back after `down` s."""

    async def fault(c: Cluster, tl: Timeline) -> None:
        await asyncio.sleep(p.fault_at)
        leader = await asyncio.to_thread(c.queue_leader)
        node = next(n for n in c.rabbits if n.node == leader)
        tl.fault_started = time.monotonic()
        procs = [pr for pr in c.keeper.procs if pr.host is node.host]
        await _down_for(procs, p.down)()
        new = await _wait(lambda: _other_leader(c, leader), 60)
        tl.events.append(f"killed {leader} (queue leader); new leader {new} ({p.down:.0f}s down)")
        await asyncio.to_thread(node.await_startup)
        tl.events.append(f"{leader} back after {_since(tl):.1f}s")

    return await workload("rabbit-leader-kill", c, p, rng, fault)


def _other_leader(c: Cluster, old: str) -> str | None:
    try:
        leader = c.queue_leader()
    except RuntimeError:
        return None
    return leader if leader and leader != old else None


async def rabbit_partition(c: Cluster, p: Params, rng: random.Random) -> ClusterVerdict:
    """Cut the node leading budget's queue off the other two for `partition` s, then heal."""

    async def fault(c: Cluster, tl: Timeline) -> None:
        await asyncio.sleep(p.fault_at)
        leader = await asyncio.to_thread(c.queue_leader)
        node = next(n for n in c.rabbits if n.node == leader)
        others = [n.host.name for n in c.rabbits if n is not node]
        tl.fault_started = time.monotonic()
        c.net.partition([node.host.name], others)
        try:
            await asyncio.sleep(p.partition)
        finally:
            c.net.heal()
        tl.fault_ended = time.monotonic()
        new = await asyncio.to_thread(c.queue_leader)
        tl.events.append(f"{leader} cut off {p.partition:.0f}s; leader after: {new}")
        await _wait(lambda: c.rabbits_running() == 3 or None, 120)
        tl.events.append(f"3 nodes running again {_since(tl):.1f}s after the cut")

    return await workload("rabbit-partition", c, p, rng, fault)


async def pg_primary_kill(c: Cluster, p: Params, rng: random.Random) -> ClusterVerdict:
    """SIGKILL the PostgreSQL primary's host (Patroni and the server): the standby takes over."""

    async def fault(c: Cluster, tl: Timeline) -> None:
        await asyncio.sleep(p.fault_at)
        old = await asyncio.to_thread(c.primary)
        assert old is not None
        procs = [pr for pr in c.keeper.procs if pr.host is old.host]
        tl.fault_started = time.monotonic()
        for proc in procs:
            proc.keep = False
        old.host.kill_all()  # Patroni and every postgres process
        new = await _wait(lambda: _new_primary(c, old.host.name), 90)
        tl.events.append(f"{old.host.name} killed; {new} primary after {_since(tl):.1f}s")
        for proc in procs:
            proc.keep = True
        await _wait(lambda: c.sync_ok() or None, 180)
        tl.events.append(f"{old.host.name} back as synchronous standby after {_since(tl):.1f}s")

    return await workload("pg-primary-kill", c, p, rng, fault, allowed=FAILOVER_STATUSES)


def _new_primary(c: Cluster, old: str) -> str | None:
    primary = c.primary()
    return primary.host.name if primary and primary.host.name != old else None


async def pg_isolate_primary(c: Cluster, p: Params, rng: random.Random) -> ClusterVerdict:
    """Cut the primary off every other host (standby, services, etcd, balancer) for
    `isolation` s, then heal."""

    async def fault(c: Cluster, tl: Timeline) -> None:
        await asyncio.sleep(p.fault_at)
        old = await asyncio.to_thread(c.primary)
        assert old is not None
        others = [h for h in c.net.hosts if h != old.host.name and not h.startswith("mq")]
        tl.fault_started = time.monotonic()
        c.net.partition([old.host.name], others)
        try:
            new = await _wait(lambda: _new_primary(c, old.host.name), p.isolation + 30)
            tl.events.append(f"{old.host.name} cut off; {new} primary after {_since(tl):.1f}s")
            await asyncio.sleep(max(0.0, p.isolation - _since(tl)))
        finally:
            c.net.heal()
        await _wait(lambda: c.sync_ok() or None, 180)
        tl.events.append(f"{old.host.name} rejoined as synchronous standby {_since(tl):.1f}s in")

    return await workload("pg-isolate-primary", c, p, rng, fault, allowed=FAILOVER_STATUSES)


async def replica_kill(c: Cluster, p: Params, rng: random.Random) -> ClusterVerdict:
    """SIGKILL one replica of each process (APIs on one host, workers on the other)."""

    async def fault(c: Cluster, tl: Timeline) -> None:
        await asyncio.sleep(p.fault_at)
        a, b = c.replicas
        victims = [a.procs["todos-api"], b.procs["budget-api"], a.procs["todos-relay"],
                   b.procs["budget-consumer"]]  # fmt: skip
        tl.fault_started = time.monotonic()
        for proc in victims:
            proc.signal(signal.SIGKILL)
        await asyncio.to_thread(c.wait_ready, c.api_urls(), 90)
        tl.events.append(f"4 replicas SIGKILLed; all APIs ready again after {_since(tl):.1f}s")

    # A completion in flight on the killed todos-api has no answer (the gateway closes the
    # caller's connection as the replica did, or answers 502): its outcome is unknown to the
    # caller, and the checker shows what became of it. Only those: at most a second's worth.
    v = await workload("replica-kill", c, p, rng, fault, allowed=(0, 502))
    unanswered = sum(v.verdict.server_errors.values())
    if unanswered > max(2.0, p.rate):
        v.verdict.failures.append(f"{unanswered} unanswered: more than the requests in flight")
    return v


async def rolling_restart(c: Cluster, p: Params, rng: random.Random) -> ClusterVerdict:
    """Restart every service process one after the other (SIGTERM, back, ready) under load."""

    async def fault(c: Cluster, tl: Timeline) -> None:
        await asyncio.sleep(p.fault_at)
        tl.fault_started = time.monotonic()
        for name in SERVICES:
            for replica in c.replicas:
                proc = replica.procs[name]
                proc.stop(grace=20)
                proc.keep = True
                proc.start()
                port = {"todos-api": TODOS_PORT, "budget-api": BUDGET_PORT}.get(name)
                if port:
                    url = f"http://{replica.host.addr}:{port}/readyz"
                    await asyncio.to_thread(c.wait_ready, [url], 90)
                    await asyncio.sleep(2.5)  # the gateway's check (every 2 s) sees it back
                else:
                    await asyncio.sleep(3.0)
        tl.events.append(f"8 processes restarted one by one in {_since(tl):.1f}s")

    return await workload("rolling-restart", c, p, rng, fault, seconds=p.seconds + 30)


async def _wait(probe: Callable[[], Any], within: float) -> Any:
    """`probe()` (in a thread) until it returns something truthy, at most `within` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = await asyncio.to_thread(probe)
        if found:
            return found
        await asyncio.sleep(0.5)
    raise TimeoutError(f"not within {within:.0f}s")


Case = Callable[[Cluster, Params, random.Random], Awaitable[ClusterVerdict]]
CASES: dict[str, Case] = {
    "story": story,
    "baseline": baseline,
    "rabbit-leader-kill": rabbit_leader_kill,
    "rabbit-partition": rabbit_partition,
    "pg-primary-kill": pg_primary_kill,
    "pg-isolate-primary": pg_isolate_primary,
    "replica-kill": replica_kill,
    "rolling-restart": rolling_restart,
}
