"""The fault cases: each sets up its own owners, runs the workload while injecting its fault,
drains, and returns the checker's verdict (plus the expectations exact for that case)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aio_pika
import asyncpg  # type: ignore[import-untyped]

from contracts.envelope import CloudEvent, to_amqp
from e2e.faults.checker import Verdict, check, dead_letters, drain, expect_no_5xx
from e2e.faults.driver import Task, World, at_rate, complete, delete, setup
from e2e.faults.hooks import HookServer
from e2e.faults.infra import PrivatePostgres, PrivateRabbit
from e2e.identity import TokenMaker
from e2e.stack import RunningStack


@dataclass(frozen=True)
class Params:
    """How long and how hard; `short` is the seeded subset `make test` runs."""

    rate: float = 10.0  # completions per second (a 2-core box shared with other work)
    seconds: float = 20.0  # length of a plain run
    kills: int = 10
    kill_every: float = 2.0  # s a restarted worker works before the next kill
    outage: float = 20.0
    outages: int = 2
    capacity: float = 20.0  # completions/s the box sustains; the burst is 3x that
    burst_seconds: float = 5.0
    drain_timeout: float = 90.0
    owners: int = 5
    backlog: int = 500  # events the consumer holds through its restarts (consumer-restarts)
    restarts: int = 8  # > the old delivery limit of 5: each restart counted as a delivery

    @staticmethod
    def short() -> Params:
        """The seeded subset for `make test`: the same cases, smaller."""
        return Params(
            rate=5.0, seconds=8.0, kills=3, kill_every=1.5, outage=8.0,
            capacity=15.0, burst_seconds=3.0, drain_timeout=60.0, owners=3, backlog=150,
        )  # fmt: skip


@dataclass
class Target:
    """One running stack the cases talk to, and what its cases may do to it."""

    stack: RunningStack
    tokens: TokenMaker
    amqp_url: str
    pg_env: dict[str, str]
    rabbit: PrivateRabbit | None = None
    postgres: PrivatePostgres | None = None
    hooks: dict[str, HookServer] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        """The gateway URL."""
        return self.stack.config.gateway_url


Fault = Callable[[World], Awaitable[None]]
Case = Callable[[Target, Params, random.Random], Awaitable[Verdict]]


async def workload(
    name: str,
    t: Target,
    p: Params,
    rng: random.Random,
    *,
    rate: float | None = None,
    seconds: float | None = None,
    fault: Fault | None = None,
    action: Callable[[World, Task], Awaitable[object]] = complete,
    after_run: Fault | None = None,
) -> tuple[World, Verdict]:
    """Set up, run `action` on every task at `rate` while `fault` runs, then `after_run`,
    drain, check."""
    rate = rate or p.rate
    seconds = seconds or p.seconds
    started = time.monotonic()
    world = await setup(t.gateway, t.tokens, rng, owners=p.owners, tasks=round(rate * seconds))
    try:
        run = at_rate(world, world.tasks, rate, action)
        await asyncio.gather(run, fault(world) if fault else asyncio.sleep(0))
        if after_run:
            await after_run(world)
        state, _ = await drain(world, p.drain_timeout)
        dlq = await dead_letters(t.amqp_url, t.stack.config.dead_letter_queue, world)
        verdict = check(name, world, state, dlq)
    finally:
        await world.aclose()
    verdict.seconds = time.monotonic() - started
    return world, verdict


def _lag_target(v: Verdict, limit: float) -> None:
    worst = sorted(v.lags)[int(0.99 * (len(v.lags) - 1))] if v.lags else 0.0
    v.notes.append(f"lag_p99 target <= {limit:.0f}s: {'met' if worst <= limit else 'MISSED'}")


async def baseline(t: Target, p: Params, rng: random.Random) -> Verdict:
    """No fault: the reference numbers."""
    _, v = await workload("baseline", t, p, rng)
    expect_no_5xx(v)
    return v


# The log line each worker writes once it works: a kill lands on a working process, so the
# case measures recovery, not a process killed again while it is still starting.
READY_LINE = {"budget-consumer": "consuming", "todos-relay": "relay_started"}
START_TIMEOUT = 60.0


def _ready_count(t: Target, program: str) -> int:
    text = t.stack.log_file.read_text(errors="replace")
    return sum(
        1 for line in text.splitlines() if line.startswith(program) and READY_LINE[program] in line
    )


def _killer(t: Target, program: str, p: Params, starts: list[float]) -> Fault:
    async def kill(_: World) -> None:
        killed_at = -math.inf
        for _i in range(p.kills):
            # Working for `kill_every` s, and alive longer than the launcher's MIN_UPTIME (3 s):
            # a kill must not look like a crash at start-up.
            await asyncio.sleep(max(p.kill_every, killed_at + 3.5 - time.monotonic()))
            pid = t.stack.child_pid(program)
            if pid is None:
                continue
            seen = _ready_count(t, program)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed_at = time.monotonic()
            while _ready_count(t, program) == seen:  # wait for its successor to work
                if time.monotonic() - killed_at > START_TIMEOUT:
                    return
                await asyncio.sleep(0.1)
            starts.append(time.monotonic() - killed_at)

    return kill


async def _kill_case(name: str, program: str, t: Target, p: Params, rng: random.Random) -> Verdict:
    starts: list[float] = []
    # Completions go on through every kill (a restart takes some 3-10 s on a busy 2-core box).
    seconds = max(p.seconds, p.kills * (p.kill_every + 6))
    fault = _killer(t, program, p, starts)
    _, v = await workload(name, t, p, rng, seconds=seconds, fault=fault)
    mean = sum(starts) / len(starts) if starts else math.nan
    v.notes.append(
        f"{len(starts)} SIGKILLs of {program}; kill->working again mean {mean:.1f}s "
        f"max {max(starts, default=math.nan):.1f}s"
    )
    if len(starts) < p.kills:
        v.failures.append(f"{program} did not work again within {START_TIMEOUT:.0f}s of a kill")
    # The APIs need neither worker: nothing the caller sees may change.
    expect_no_5xx(v)
    return v


async def consumer_kill(t: Target, p: Params, rng: random.Random) -> Verdict:
    """budget-consumer SIGKILLed every few seconds during the run."""
    v = await _kill_case("consumer-kill", "budget-consumer", t, p, rng)
    _lag_target(v, 15)
    return v


async def relay_kill(t: Target, p: Params, rng: random.Random) -> Verdict:
    """todos-relay SIGKILLed every few seconds during the run."""
    return await _kill_case("relay-kill", "todos-relay", t, p, rng)


async def rabbitmq_outage(t: Target, p: Params, rng: random.Random) -> Verdict:
    """The (private) broker stopped for `outage` s, twice, during the run."""
    rabbit = t.rabbit
    assert rabbit is not None, "runs only against the suite's private RabbitMQ"

    async def outages(_: World) -> None:
        for _i in range(p.outages):
            await asyncio.sleep(3)
            await asyncio.to_thread(rabbit.stop_app)
            try:
                await asyncio.sleep(p.outage)
            finally:
                await asyncio.to_thread(rabbit.start_app)

    seconds = max(p.seconds, p.outages * (p.outage + 3) + 3)
    _, v = await workload("rabbitmq-outage", t, p, rng, seconds=seconds, fault=outages)
    expect_no_5xx(v)  # completions need the database and budget, not the broker
    _lag_target(v, p.outage + 10)
    return v


async def postgres_restart(t: Target, p: Params, rng: random.Random) -> Verdict:
    """The (private) PostgreSQL stopped (fast) and started again, twice, during the run."""
    pg = t.postgres
    assert pg is not None, "runs only against the suite's private PostgreSQL"

    async def restarts(_: World) -> None:
        for _i in range(2):
            await asyncio.sleep(3)
            await asyncio.to_thread(pg.down)
            try:
                await asyncio.sleep(3)
            finally:
                await asyncio.to_thread(pg.up)

    seconds = max(p.seconds, 15)
    _, v = await workload("postgres-restart", t, p, rng, seconds=seconds, fault=restarts)
    expect_no_5xx(v, allowed=(503,))  # a database outage is 503 `unavailable`, nothing else
    return v


def _psql(t: Target, database: str, sql: str) -> str:
    """One statement through psql on the stack's server; its unaligned output."""
    return subprocess.run(
        ["psql", "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql],
        env={**os.environ, **t.pg_env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def _outbox_envelopes(t: Target, owners: set[str]) -> list[dict[str, object]]:
    sql = "SELECT envelope::text FROM outbox WHERE published_at IS NULL ORDER BY id"
    out = _psql(t, t.stack.config.todos_db, sql)
    envelopes = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [e for e in envelopes if str(e.get("data", {}).get("owner_id")) in owners]


async def _publish(t: Target, envelopes: list[dict[str, object]]) -> None:
    connection = await aio_pika.connect(t.amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(t.stack.config.exchange, ensure=True)
        for envelope in envelopes:
            amqp = to_amqp(CloudEvent.model_validate(envelope))
            await exchange.publish(
                aio_pika.Message(
                    amqp.body,
                    message_id=amqp.message_id,
                    type=amqp.type,
                    content_type=amqp.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=amqp.routing_key,
            )


async def reorder(t: Target, p: Params, rng: random.Random) -> Verdict:
    """The relay paused; the outbox's real envelopes (completed, deleted, aborted) delivered
    shuffled and duplicated; then the relay resumes and sends them all again in order."""
    hook = t.hooks["slow"]
    relay = t.stack.child_pid("todos-relay")
    assert relay is not None, "todos-relay is not running"
    counts: dict[str, int] = {}

    async def act(world: World, task: Task) -> None:
        status = await complete(world, task)
        for _ in range(5):  # the slow hook's first answer timed out: abort, then retry as a
            if status not in (503, 0):  # client would (its breaker may refuse for a second)
                break
            await asyncio.sleep(1 + rng.uniform(0, 1))
            status = await complete(world, task)
        if status in (200, 409) and rng.random() < 0.3:
            await delete(world, task)

    async def deliver(world: World) -> None:
        owners = {str(o.id) for o in world.owners}
        envelopes = await asyncio.to_thread(_outbox_envelopes, t, owners)
        shuffled = [e for e in envelopes for _ in range(rng.randint(1, 3))]
        rng.shuffle(shuffled)
        for e in envelopes:
            kind = str(e["type"]).split(".")[2]
            counts[kind] = counts.get(kind, 0) + 1
        await _publish(t, shuffled)
        os.kill(relay, signal.SIGCONT)

    hook.mode, hook.delay = "first-slow", 6.0  # beyond its 5 s timeout: 503 + abort event
    os.kill(relay, signal.SIGSTOP)
    try:
        world, v = await workload("reorder", t, p, rng, action=act, after_run=deliver)
    finally:
        os.kill(relay, signal.SIGCONT)
        hook.mode = "allow"
    v.notes.append("delivered shuffled x1-3: " + json.dumps(counts, sort_keys=True))
    expect_no_5xx(v, allowed=(503,))  # the slow hook's first answers are meant to fail
    stuck = sum(1 for task in world.tasks if task.answers[-1:] != [200])
    if stuck:  # the retry after a timed-out attempt must go through
        v.failures.append(f"{stuck} tasks not completed after their retry")
    return v


async def double_spend(t: Target, p: Params, rng: random.Random) -> Verdict:
    """20 concurrent completions of one task; then budget 10 and 100 concurrent tasks of 1."""
    started = time.monotonic()
    single = await setup(t.gateway, t.tokens, rng, owners=1, tasks=1, credit=10, max_cost=1)
    storm = await setup(t.gateway, t.tokens, rng, owners=1, tasks=100, credit=10, max_cost=1)
    try:
        # The single task first: the storm may open todos' breaker towards budget.
        one = single.tasks[0]
        await asyncio.gather(*(complete(single, one) for _ in range(20)))
        await asyncio.gather(*(complete(storm, task) for task in storm.tasks))
        verdicts = []
        for world in (single, storm):
            state, _ = await drain(world, p.drain_timeout)
            dlq = await dead_letters(t.amqp_url, t.stack.config.dead_letter_queue, world)
            verdicts.append((check("double-spend", world, state, dlq), state))
        events = await asyncio.to_thread(_completed_events, t, one.id)
    finally:
        await storm.aclose()
        await single.aclose()
    (w, single_state), (v, storm_state) = verdicts
    v.ok = (v.ok * v.attempts + w.ok * w.attempts) / (v.attempts + w.attempts)
    for name in ("lost", "dup", "phantom", "mismatch", "leaked", "overdrawn", "dlq", "attempts"):
        setattr(v, name, getattr(v, name) + getattr(w, name))
    v.server_errors += w.server_errors
    v.lags += w.lags
    allowed = sum(1 for task in storm.tasks if task.answers == [200])
    if allowed != 10 or len(storm_state.completed) != 10:
        v.failures.append(f"{allowed} of 100 allowed, {len(storm_state.completed)} completed")
    debits = len(single_state.debits.get(one.id, []))
    if 200 in one.answers and (events != 1 or debits != 1):
        v.failures.append(f"one task: {events} completed events, {debits} debits")
    if 200 not in one.answers:
        v.failures.append("one task: none of its 20 completions went through")
    answers = ",".join(f"{k}:{n}" for k, n in sorted(Counter(one.answers).items()))
    storm_answers = Counter(a for task in storm.tasks for a in task.answers)
    v.notes.append(
        f"storm allowed {allowed}/100 {dict(sorted(storm_answers.items()))}; "
        f"one task: {answers}, {events} event(s), {debits} debit(s)"
    )
    # Lock waits beyond the hook's 1 s timeout are `hook_unavailable`: honest, not a failure.
    expect_no_5xx(v, allowed=(503,))
    v.seconds = time.monotonic() - started
    return v


def _completed_events(t: Target, task_id: str) -> int:
    uuid.UUID(task_id)  # only a UUID goes into the query text
    where = f"envelope->'data'->>'task_id' = '{task_id}'"
    sql = f"SELECT count(*) FROM outbox WHERE event_type LIKE 'todos.task.completed.%' AND {where}"  # noqa: S608
    return int(_psql(t, t.stack.config.todos_db, sql).strip())


async def slow_hook(t: Target, p: Params, rng: random.Random) -> Verdict:
    """An extra subscriber that answers `allow` after 3 s (timeout 5 s, policy fail)."""
    hook = t.hooks["slow"]
    hook.mode, hook.delay = "slow", 3.0
    try:
        _, v = await workload("slow-hook", t, p, rng, rate=p.rate / 2)
    finally:
        hook.mode = "allow"
    expect_no_5xx(v)  # slow but within its timeout: every completion goes through
    if v.ok < 1:
        v.failures.append(f"ok {v.ok:.1%}, expected 100%")
    return v


async def garbage_hook(t: Target, p: Params, rng: random.Random) -> Verdict:
    """An extra subscriber (policy ignore) that answers a broken HTTP response."""
    hook = t.hooks["garbage"]
    hook.mode = "garbage"
    try:
        _, v = await workload("garbage-hook", t, p, rng)
    finally:
        hook.mode = "allow"
    expect_no_5xx(v)  # a failure of an `ignore` hook is an allow
    if v.ok < 1:
        v.failures.append(f"ok {v.ok:.1%}, expected 100%")
    return v


async def overload(t: Target, p: Params, rng: random.Random) -> Verdict:
    """A burst at 3x capacity, then the drain: no hold outlives its failed completion."""
    rate = 3 * p.capacity
    _, v = await workload("overload", t, p, rng, rate=rate, seconds=p.burst_seconds)
    expect_no_5xx(v, allowed=(503,))  # `hook_unavailable` is the honest answer to overload
    v.notes.append(f"burst {rate:.0f}/s for {p.burst_seconds:.0f}s")
    return v


def _in_list(ids: list[str]) -> str:
    """`'a','b'` for an SQL IN list, of UUIDs only (nothing else goes into the query text)."""
    return ",".join(f"'{uuid.UUID(i)}'" for i in ids)


def _hold_back_completions(t: Target, owners: list[str]) -> list[str]:
    """The owners' unsent `completed` rows wait on their backoff column (as after failed
    publishes): the relay skips them until they are due. Returns their event ids."""
    sql = (
        "UPDATE outbox SET next_attempt_at = now() + interval '1 hour' "  # noqa: S608
        "WHERE published_at IS NULL AND event_type LIKE 'todos.task.completed.%' "
        f"AND envelope->'data'->>'owner_id' IN ({_in_list(owners)}) RETURNING event_id"
    )
    lines = _psql(t, t.stack.config.todos_db, sql).splitlines()
    return [line for line in lines if line and not line.startswith("UPDATE")]  # + "UPDATE n"


def _event_ids(t: Target, kind: str, owners: list[str]) -> list[str]:
    """Event ids of the owners' `kind` rows in todos' outbox."""
    sql = (
        f"SELECT event_id FROM outbox WHERE event_type LIKE 'todos.task.{kind}.%' "  # noqa: S608
        f"AND envelope->'data'->>'owner_id' IN ({_in_list(owners)})"
    )
    return _psql(t, t.stack.config.todos_db, sql).split()


def _processed(t: Target, event_ids: list[str]) -> int:
    """How many of these events budget has applied (its record of processed event ids)."""
    if not event_ids:
        return 0
    sql = f"SELECT count(*) FROM processed_events WHERE event_id IN ({_in_list(event_ids)})"  # noqa: S608
    return int(_psql(t, t.stack.config.budget_db, sql).strip())


def _release_completions(t: Target, event_ids: list[str]) -> None:
    sql = f"UPDATE outbox SET next_attempt_at = NULL WHERE event_id IN ({_in_list(event_ids)})"  # noqa: S608
    _psql(t, t.stack.config.todos_db, sql)


async def delete_overtakes_completion(t: Target, p: Params, rng: random.Random) -> Verdict:
    """Completions, then deletions, and the relay publishes the deletions first."""
    # Per owner: credit 10, tasks T1 and T2 of 6. T1's completion holds 6 and T2 is vetoed;
    # T1 is deleted; its `completed` row waits on the outbox's backoff while its `deleted` row
    # is published and applied; then T2 is tried again, and the completions are released. A
    # deletion that freed T1's hold would let T2 spend the same 6: both debited, balance -2.
    started = time.monotonic()
    relay = t.stack.child_pid("todos-relay")
    assert relay is not None, "todos-relay is not running"
    n = p.owners
    world = await setup(t.gateway, t.tokens, rng, owners=n, tasks=2 * n, credit=10, cost=6)
    first_answers: list[tuple[int, int, int]] = []
    retries: list[int] = []
    try:
        owners = [str(o.id) for o in world.owners]
        pairs = list(zip(world.tasks[:n], world.tasks[n:], strict=True))

        async def complete_then_delete(t1: Task, t2: Task) -> None:
            one = await complete(world, t1)
            two = await complete(world, t2)
            gone = await delete(world, t1)
            first_answers.append((one, two, gone))

        os.kill(relay, signal.SIGSTOP)  # nothing is published before the completions wait
        try:
            await asyncio.gather(*(complete_then_delete(t1, t2) for t1, t2 in pairs))
            held_back = await asyncio.to_thread(_hold_back_completions, t, owners)
        finally:
            os.kill(relay, signal.SIGCONT)
        deleted = await asyncio.to_thread(_event_ids, t, "deleted", owners)
        deadline = time.monotonic() + p.drain_timeout
        while await asyncio.to_thread(_processed, t, deleted) < len(deleted):
            if time.monotonic() > deadline:
                raise TimeoutError("budget did not apply the deletions")
            await asyncio.sleep(0.5)
        retries = list(await asyncio.gather(*(complete(world, t2) for _, t2 in pairs)))
        await asyncio.to_thread(_release_completions, t, held_back)
        state, _ = await drain(world, p.drain_timeout)
        dlq = await dead_letters(t.amqp_url, t.stack.config.dead_letter_queue, world)
        v = check("delete-overtakes-completion", world, state, dlq)
    finally:
        await world.aclose()
    v.seconds = time.monotonic() - started
    if any(answers != (200, 409, 204) for answers in first_answers):
        v.failures.append(f"set-up answers (T1, T2, delete T1) {sorted(set(first_answers))}")
    v.notes.append(
        f"{len(deleted)} deletions applied before {len(held_back)} held-back completions; "
        f"T2 retried: {dict(sorted(Counter(retries).items()))}"
    )
    expect_no_5xx(v)
    return v


class _AccountLock:
    """A transaction holding the owners' account rows in budget's database: the consumer's
    saves wait behind it, so what it took stays unacked until the lock goes."""

    def __init__(self, t: Target, owners: list[str]) -> None:
        self._t, self._owners = t, owners
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> _AccountLock:
        env = self._t.pg_env
        self._conn = await asyncpg.connect(
            host=env["PGHOST"],
            port=int(env["PGPORT"]),
            user=env["PGUSER"],
            password=env.get("PGPASSWORD") or None,  # stock authentication: no trust
            database=self._t.stack.config.budget_db,
        )
        await self._conn.execute("BEGIN")
        await self._conn.execute(
            "SELECT 1 FROM accounts WHERE owner_id = ANY($1::uuid[]) FOR UPDATE",
            [uuid.UUID(o) for o in self._owners],
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._conn is not None:
            await self._conn.close()  # the transaction ends with its session


async def _ready(t: Target) -> int:
    """Messages ready in budget's queue (not those a consumer holds unacked)."""
    connection = await aio_pika.connect(t.amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(t.stack.config.queue, passive=True)
        return int(queue.declaration_result.message_count or 0)


async def consumer_restarts(t: Target, p: Params, rng: random.Random) -> Verdict:
    """A backlog; budget-consumer SIGKILLed `restarts` times while it holds it unacked."""
    started = time.monotonic()
    program = "budget-consumer"
    world = await setup(t.gateway, t.tokens, rng, owners=p.owners, tasks=p.backlog)
    held: list[int] = []
    try:
        owners = [str(o.id) for o in world.owners]
        pid = t.stack.child_pid(program)
        assert pid is not None, f"{program} is not running"
        os.kill(pid, signal.SIGSTOP)  # the backlog builds up, the first `prefetch` of it taken
        try:
            await at_rate(world, world.tasks, p.capacity)
            # Nothing of the backlog is applied while the lock is held: every event of these
            # owners the relay published is in the queue, ready or held by a consumer.
            pending = await _published(t, owners, p.drain_timeout)
            async with _AccountLock(t, owners):
                seen = _ready_count(t, program)
                os.kill(pid, signal.SIGKILL)  # the first kill: a stopped process holding it
                for _ in range(p.restarts - 1):
                    pid, taken = await _restarted_holding(t, program, seen, pending)
                    held.append(taken)
                    seen = _ready_count(t, program)
                    os.kill(pid, signal.SIGKILL)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        state, _ = await drain(world, p.drain_timeout)
        dlq = await dead_letters(t.amqp_url, t.stack.config.dead_letter_queue, world)
        v = check("consumer-restarts", world, state, dlq)
    finally:
        await world.aclose()
    v.seconds = time.monotonic() - started
    v.notes.append(
        f"backlog {p.backlog}; {p.restarts} SIGKILLs of {program} holding it unacked "
        f"(then taken per restart: {held})"
    )
    if min(held, default=0) <= 0:
        v.failures.append("a restart took nothing before its kill: the case did not hold")
    expect_no_5xx(v)
    return v


async def _published(t: Target, owners: list[str], within: float) -> int:
    """How many events for budget's queue (completed, completion-aborted, deleted) of the
    owners todos published, once its outbox has none left for them."""
    where = (
        "event_type SIMILAR TO 'todos.task.(completed|completion-aborted|deleted).v1' "
        f"AND envelope->'data'->>'owner_id' IN ({_in_list(owners)})"
    )
    sql = f"SELECT count(*) FILTER (WHERE published_at IS NULL), count(*) FROM outbox WHERE {where}"  # noqa: S608
    deadline = time.monotonic() + within
    while True:
        unsent, total = map(
            int, (await asyncio.to_thread(_psql, t, t.stack.config.todos_db, sql)).split("|")
        )
        if not unsent or time.monotonic() > deadline:
            return total - unsent
        await asyncio.sleep(0.5)


async def _restarted_holding(t: Target, program: str, seen: int, pending: int) -> tuple[int, int]:
    """After a kill: the successor's pid once it works, holds some of the `pending` messages
    unacked (they wait on the lock) and has been up longer than the launcher's MIN_UPTIME (a
    kill must not look like a crash at start-up); and how many it holds."""
    deadline = time.monotonic() + START_TIMEOUT
    working_since, pid = math.inf, None
    while time.monotonic() < deadline:
        ready = await _ready(t)
        if pid is None and _ready_count(t, program) > seen:
            pid, working_since = t.stack.child_pid(program), time.monotonic()
        if pid is not None and ready < pending and time.monotonic() - working_since >= 3.5:
            return pid, pending - ready
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{program} did not work and take messages within {START_TIMEOUT:.0f}s")


# name -> (case, stack it needs): "local" = the machine's servers, else a private one.
# They run in this order; the ones that may wedge todos (garbage hook: defect 6) come last.
CASES: dict[str, tuple[Case, str]] = {
    "baseline": (baseline, "local"),
    "consumer-kill": (consumer_kill, "local"),
    "relay-kill": (relay_kill, "local"),
    "reorder": (reorder, "local"),
    "slow-hook": (slow_hook, "local"),
    "double-spend": (double_spend, "local"),
    "delete-overtakes-completion": (delete_overtakes_completion, "local"),
    "consumer-restarts": (consumer_restarts, "local"),
    "overload": (overload, "local"),
    "garbage-hook": (garbage_hook, "local"),
    "rabbitmq-outage": (rabbitmq_outage, "rabbitmq"),
    "postgres-restart": (postgres_restart, "postgres"),
}
