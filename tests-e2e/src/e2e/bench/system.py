"""The system under test: prepared through its public API, checked in its databases."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]

from e2e import pgauth
from e2e.bench import procs
from e2e.bench.check import Balance
from e2e.bench.load import Job
from e2e.identity import TokenMaker

CONCURRENCY = 32


def server_dsn(database: str) -> str:
    """`database` on the PostgreSQL the launcher uses, logged in as it does."""
    return pgauth.dsn(database)


@dataclass
class Plan:
    """What was prepared: owners and their tokens and credits, tasks and their costs."""

    admin: str
    token_type: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    credits: dict[str, int] = field(default_factory=dict)
    costs: dict[str, tuple[str, int]] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(10))


async def _post(
    http: aiohttp.ClientSession, url: str, token: str, body: Any, *, retry_ok: int = 201
) -> Any:
    """POST and return the 201 body. A 5xx or a keep-alive connection the gateway closed under
    us is retried (a busy shared PostgreSQL may refuse a connection for a moment); on a retry,
    `retry_ok` is the status that means "the first try got through after all"."""
    attempts = 5
    for attempt in range(attempts):
        try:
            async with http.post(url, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
                if r.status == 201 or (attempt and r.status == retry_ok):
                    return await r.json(content_type=None)
                if r.status < 500 or attempt == attempts - 1:
                    raise RuntimeError(f"POST {url}: {r.status} {await r.text()}")
        except aiohttp.ServerDisconnectedError:
            if attempt == attempts - 1:
                raise
        await asyncio.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


async def prepare(gateway: str, maker: TokenMaker, *, owners: int) -> Plan:
    """A fresh token type and `owners` owners with their tokens (admin calls, via the gateway)."""
    plan = Plan(admin=maker.token(uuid.uuid4(), admin=True, expires_in=3600))
    ids = [str(uuid.uuid4()) for _ in range(owners)]
    plan.tokens = {o: maker.token(o, expires_in=3600) for o in ids}
    async with aiohttp.ClientSession() as http:
        code = f"bench-{uuid.uuid4().hex[:10]}"
        body = {"code": code, "name": code}
        made = await _post(http, f"{gateway}/api/budget/token-types", plan.admin, body)
    plan.token_type = str(made["id"])
    return plan


async def add_tasks(gateway: str, plan: Plan, count: int) -> list[Job]:
    """`count` new tasks with costs 1-9, owners in turn, and credits to cover them (plus a
    margin the first time): all through the gateway. Their completions, in order."""
    owners = list(plan.tokens)
    made: list[str] = [""] * count
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as http:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(i: int) -> None:
            owner, cost = owners[(len(plan.costs) + i) % len(owners)], plan.rng.randint(1, 9)
            token = plan.tokens[owner]
            async with gate:
                task = await _post(http, f"{gateway}/api/todos/tasks", token, {"title": "bench"})
                body = {"task_id": task["id"], "token_type_id": plan.token_type, "amount": cost}
                await _post(http, f"{gateway}/api/budget/task-costs", token, body, retry_ok=409)
            made[i] = str(task["id"])
            plan.costs[made[i]] = (owner, cost)

        await asyncio.gather(*(one(i) for i in range(count)))
        for owner in owners:
            amount = sum(plan.costs[t][1] for t in made if plan.costs[t][0] == owner)
            amount += 0 if owner in plan.credits else 1000
            body = {"owner_id": owner, "token_type_id": plan.token_type, "amount": amount}
            await _post(http, f"{gateway}/api/budget/credits", plan.admin, body)
            plan.credits[owner] = plan.credits.get(owner, 0) + amount
    return [Job(t, plan.tokens[plan.costs[t][0]]) for t in made]


async def balances(gateway: str, plan: Plan) -> dict[str, Balance]:
    """Each owner's balance and held amount as `GET /api/budget/balances` answers them."""
    found: dict[str, Balance] = {}
    async with aiohttp.ClientSession() as http:
        for owner, token in plan.tokens.items():
            url = f"{gateway}/api/budget/balances"
            async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as r:
                rows = [b for b in await r.json() if b["token_type_id"] == plan.token_type]
            if rows:
                found[owner] = Balance(int(rows[0]["balance"]), int(rows[0]["held"]))
    return found


@dataclass
class Databases:
    """Read-only looks into the stack's two databases (fresh for this run)."""

    todos: asyncpg.Connection
    budget: asyncpg.Connection

    @classmethod
    async def open(cls, todos_db: str, budget_db: str) -> Databases:
        """Connect to both."""
        return cls(
            await asyncpg.connect(server_dsn(todos_db)),
            await asyncpg.connect(server_dsn(budget_db)),
        )

    async def close(self) -> None:
        """Disconnect."""
        await self.todos.close()
        await self.budget.close()

    async def completed(self) -> dict[str, datetime]:
        """Completed tasks and when todos completed them."""
        rows = await self.todos.fetch(
            "SELECT id::text, completed_at FROM tasks WHERE status = 'completed'"
        )
        return {r["id"]: r["completed_at"] for r in rows}

    async def debits(self) -> dict[str, list[tuple[int, datetime]]]:
        """Debit entries by task: (amount, created_at)."""
        rows = await self.budget.fetch(
            "SELECT reference_id, amount, created_at FROM ledger_entries WHERE kind = 'debit'"
        )
        found: dict[str, list[tuple[int, datetime]]] = {}
        for r in rows:
            found.setdefault(r["reference_id"], []).append((int(r["amount"]), r["created_at"]))
        return found

    async def unpublished(self) -> int:
        """Outbox rows the relay has not published yet."""
        return int(
            await self.todos.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        )

    async def own_pids(self) -> set[int]:
        """The backends serving these two connections (the bench's, not the stack's)."""
        return {
            int(await self.todos.fetchval("SELECT pg_backend_pid()")),
            int(await self.budget.fetchval("SELECT pg_backend_pid()")),
        }

    async def wait_drained(self, within: float) -> bool:
        """Poll until there are as many debited tasks as completed ones (every task has a
        cost); False when `within` s pass first. Counts only: the poll runs while metered."""
        deadline = time.monotonic() + within
        while True:
            completed = await self.todos.fetchval(
                "SELECT count(*) FROM tasks WHERE status = 'completed'"
            )
            debited = await self.budget.fetchval(
                "SELECT count(DISTINCT reference_id) FROM ledger_entries WHERE kind = 'debit'"
            )
            if debited >= completed:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.25)


def label(pid: int) -> str:
    """A short name for one of the stack's processes: the service, `(uv)` for its wrapper."""
    argv = procs.cmdline(pid)
    joined = " ".join(argv)
    for name in ("todos-api", "todos-relay", "budget-api", "budget-consumer"):
        if name in joined:
            return f"{name} (uv run)" if argv and argv[0].endswith("uv") else name
    if argv and argv[0].startswith("postgres:"):
        return "postgres backends"
    if argv and "haproxy" in argv[0]:
        return "haproxy"
    return os.path.basename(argv[0]) if argv else f"pid {pid}"


def processes(launcher: int) -> dict[int, str]:
    """The launcher's descendants: pid -> label."""
    return {pid: label(pid) for pid in procs.descendants(launcher)}


def pid_source(
    launcher: int, monitor: asyncpg.Connection, databases: Sequence[str], exclude: set[int]
) -> Callable[[], Awaitable[list[int]]]:
    """Processes whose CPU is the stack's: the launcher's descendants and the PostgreSQL
    backends connected to its databases, but for `exclude` (the bench's own)."""

    async def pids() -> list[int]:
        backends = await monitor.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[])", list(databases)
        )
        found = [int(r["pid"]) for r in backends if int(r["pid"]) not in exclude]
        return procs.descendants(launcher) + found

    return pids


def consumer_group(launcher: int) -> int:
    """Process group of the budget consumer (the launcher starts each child in its own)."""
    for pid in procs.descendants(launcher):
        if procs.parent(pid) == launcher and "budget-consumer" in " ".join(procs.cmdline(pid)):
            return os.getpgid(pid)
    raise RuntimeError("no budget-consumer under the launcher")


def pause(group: int, paused: bool) -> None:
    """SIGSTOP / SIGCONT a whole process group (loopback bench only)."""
    os.killpg(group, signal.SIGSTOP if paused else signal.SIGCONT)
