"""The workload: one token type, owners with credits, tasks with costs, completions at a fixed
rate through the gateway; every answer is recorded for the checker."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import httpx

from e2e.api import Caller
from e2e.identity import TokenMaker

SETUP_CONCURRENCY = 12
SETTLE_TIMEOUT = 60.0
T = TypeVar("T")


async def retrying(make: Callable[[], Awaitable[T]], attempts: int = 4) -> T:
    """`make()` again after a dropped connection or a refused answer (set-up and reads only)."""
    for attempt in range(attempts):
        try:
            return await make()
        except (httpx.TransportError, httpx.HTTPStatusError, AssertionError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


async def settle(caller: Caller) -> float:
    """Seconds until a completion without a cost goes through again (the previous case may
    have left todos' breaker open); the case starts from a working stack either way."""
    started = time.monotonic()
    while time.monotonic() - started < SETTLE_TIMEOUT:
        try:
            task = await caller.create_task("settle")
            if (await caller.complete(task)).status_code == 200:
                break
        except (httpx.HTTPError, AssertionError):
            pass
        await asyncio.sleep(2.0)
    return time.monotonic() - started


@dataclass
class Task:
    """A task of the run and what the driver saw of it."""

    id: str
    owner: Caller
    cost: int
    answers: list[int] = field(default_factory=list)  # 0: no answer (timeout, reset)
    completed_at: datetime | None = None  # from a 200 answer
    deleted: bool = False


@dataclass
class World:
    """Everything one case created, and every answer it got."""

    admin: Caller
    token_type: str
    owners: list[Caller]
    credits: dict[uuid.UUID, int]
    tasks: list[Task]
    settled: float = 0.0  # seconds the stack needed to accept completions again
    statuses: Counter[int] = field(default_factory=Counter)  # every answer of the run phase
    latencies: list[float] = field(default_factory=list)  # completions, seconds
    no_answers: Counter[str] = field(default_factory=Counter)  # why a call got none, and when

    async def aclose(self) -> None:
        """Close every connection pool."""
        for c in [self.admin, *self.owners]:
            await c.aclose()


async def _bounded(jobs: list[Awaitable[Any]], limit: int = SETUP_CONCURRENCY) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Awaitable[Any]) -> Any:
        async with gate:
            return await job

    return list(await asyncio.gather(*(one(j) for j in jobs)))


async def setup(
    gateway: str,
    tokens: TokenMaker,
    rng: random.Random,
    *,
    owners: int,
    tasks: int,
    credit: int | None = None,
    max_cost: int = 3,
    cost: int | None = None,
) -> World:
    """A token type, `owners` credited owners and `tasks` tasks with costs 1..`max_cost` (or
    each `cost`); task i belongs to owner i mod `owners`.

    `credit` None: enough for every task of the owner (no veto), else that amount each.
    """
    admin = Caller(gateway, tokens, admin=True)
    # An open-loop workload: many requests in flight at once.
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=100)
    callers = [Caller(gateway, tokens, limits=limits) for _ in range(owners)]
    settled = await settle(admin)
    token_type = await retrying(admin.create_token_type)
    plan = [(callers[i % owners], cost or rng.randint(1, max_cost)) for i in range(tasks)]

    async def make(owner: Caller, amount: int) -> Task:
        task_id = await retrying(lambda: owner.create_task("fault suite"))
        await retrying(lambda: owner.set_cost(task_id, token_type, amount))
        return Task(task_id, owner, amount)

    made = await _bounded([make(o, c) for o, c in plan])
    credits: dict[uuid.UUID, int] = {}
    for owner in callers:
        need = sum(t.cost for t in made if t.owner is owner)
        amount = credits[owner.id] = need if credit is None else credit
        if amount:
            await retrying(partial(admin.credit, owner.id, token_type, amount))
    return World(admin, token_type, callers, credits, made, settled)


def _no_answer(call: str, exc: httpx.HTTPError, started: float) -> str:
    """`complete: ReadTimeout after 15 s`: what the checker prints for a call with no answer."""
    return f"{call}: {type(exc).__name__} after {time.monotonic() - started:.0f} s"


async def complete(world: World, task: Task) -> int:
    """POST .../complete once; records and returns the status (0 when there was no answer)."""
    started = time.monotonic()
    try:
        r = await task.owner.http.post(f"/api/todos/tasks/{task.id}/complete")
        status = r.status_code
        if status == 200:
            task.completed_at = datetime.fromisoformat(r.json()["completed_at"])
    except httpx.HTTPError as exc:
        status = 0
        world.no_answers[_no_answer("complete", exc, started)] += 1
    world.latencies.append(time.monotonic() - started)
    world.statuses[status] += 1
    task.answers.append(status)
    return status


async def delete(world: World, task: Task) -> int:
    """DELETE the task; recorded like a completion."""
    started = time.monotonic()
    try:
        status = (await task.owner.http.delete(f"/api/todos/tasks/{task.id}")).status_code
    except httpx.HTTPError as exc:
        status = 0
        world.no_answers[_no_answer("delete", exc, started)] += 1
    world.statuses[status] += 1
    task.deleted = task.deleted or status == 204
    return status


Action = Callable[[World, Task], Awaitable[Any]]


async def at_rate(world: World, tasks: list[Task], rate: float, action: Action = complete) -> None:
    """Start `action` for each task at `rate` per second (open loop), wait for all."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    running = []
    for i, task in enumerate(tasks):
        delay = t0 + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        running.append(asyncio.ensure_future(action(world, task)))
    await asyncio.gather(*running)
