"""The Jepsen-style checker: read the final state through the public APIs (and the broker's
DLQ), compare it with what the system promises, print one line per case.

- lost     completed task with a cost and no debit
- dup      debits beyond the first for one task
- phantom  debit for a task that never completed
- mismatch owners whose balance != credits - debits or != the sum of their ledger,
           plus debits whose amount is not the task's cost
- leaked   tokens still held after the drain (every task is then completed or never will be)
- overdrawn owners whose balance went below 0 at any point: the running sum of their ledger in
           the order the entries were written (holds do not expire during a case, so no
           completion may spend tokens another already holds)
- dlq      valid events of this case's owners in the dead-letter queue
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate
from typing import Any

import aio_pika

from contracts.envelope import InvalidEventError, parse_event
from e2e.faults.driver import World, retrying


@dataclass
class State:
    """What the APIs say at one moment."""

    completed: dict[str, datetime]  # task id -> completed_at (live tasks + ones we deleted)
    debits: dict[str, list[dict[str, Any]]]  # task id -> its debit entries
    ledger_sum: dict[str, int]  # owner -> sum of its ledger amounts
    balances: dict[str, dict[str, int]]  # owner -> {"balance", "held", "available"}
    # owner -> its ledger amounts, oldest first (the ledger's own order: the sequence in which
    # they changed the balance under the account's lock)
    amounts: dict[str, list[int]] = field(default_factory=dict)


async def _completed_tasks(world: World) -> dict[str, datetime]:
    done: dict[str, datetime] = {}
    for owner in world.owners:
        params: dict[str, Any] = {"status": "completed", "limit": 100}
        while True:
            r = await owner.http.get("/api/todos/tasks", params=params)
            r.raise_for_status()  # `retrying` reads again
            page = r.json()
            for t in page["items"]:
                done[t["id"]] = datetime.fromisoformat(t["completed_at"])
            if not page["next_cursor"]:
                break
            params["cursor"] = page["next_cursor"]
    # Deleted after a 200: gone from the API, but it did complete.
    for task in world.tasks:
        if task.deleted and task.completed_at is not None:
            done.setdefault(task.id, task.completed_at)
    return done


async def observe(world: World) -> State:
    """Tasks, ledgers and balances of every owner of the case."""
    completed = await _completed_tasks(world)
    debits: dict[str, list[dict[str, Any]]] = {}
    ledger_sum: dict[str, int] = {}
    balances: dict[str, dict[str, int]] = {}
    amounts: dict[str, list[int]] = {}
    for owner in world.owners:
        entries = [e for e in await owner.ledger() if e["token_type_id"] == world.token_type]
        # The API lists newest first (by the ledger's sequence); the running sum needs oldest first.
        amounts[str(owner.id)] = [int(e["amount"]) for e in reversed(entries)]
        ledger_sum[str(owner.id)] = sum(amounts[str(owner.id)])
        for e in entries:
            if e["kind"] == "debit":
                debits.setdefault(str(e["reference_id"]), []).append(e)
        balances[str(owner.id)] = await owner.balance(world.token_type)
    return State(completed, debits, ledger_sum, balances, amounts)


def missing(world: World, state: State) -> int:
    """Completed tasks with a cost that have no debit yet."""
    costs = {t.id for t in world.tasks}
    return sum(1 for t in state.completed if t in costs and t not in state.debits)


async def drain(world: World, within: float) -> tuple[State, float]:
    """Poll until every completed task has its debit (or `within` s); then settle and read."""
    started = time.monotonic()
    while True:
        state = await retrying(lambda: observe(world))
        if not missing(world, state) or time.monotonic() - started > within:
            break
        await asyncio.sleep(1.0)
    await asyncio.sleep(2.0)  # late duplicates have a chance to show
    return await retrying(lambda: observe(world)), time.monotonic() - started


async def dead_letters(amqp_url: str, queue: str, world: World) -> int:
    """Valid events of this world's owners sitting in `queue` (looked at, then put back)."""
    owners = {str(o.id) for o in world.owners}
    found = 0
    connection = await aio_pika.connect(amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        try:
            dlq = await channel.declare_queue(queue, passive=True)
        except aio_pika.exceptions.ChannelClosed:
            return 0
        seen = []
        while (message := await dlq.get(fail=False, no_ack=False)) is not None:
            seen.append(message)
            try:
                parsed = parse_event(message.body)
            except InvalidEventError:
                continue
            if str(getattr(parsed.event, "owner_id", "")) in owners:
                found += 1
        for message in seen:
            await message.nack(requeue=True)
    return found


def _pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Verdict:
    """One case's numbers and the promises it broke."""

    case: str
    lost: int = 0
    dup: int = 0
    phantom: int = 0
    mismatch: int = 0
    leaked: int = 0
    overdrawn: int = 0
    dlq: int = 0
    server_errors: Counter[int] = field(default_factory=Counter)
    ok: float = math.nan
    attempts: int = 0
    lags: list[float] = field(default_factory=list)
    latency_p99: float = math.nan
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No broken promise."""
        core = (
            self.lost, self.dup, self.phantom, self.mismatch, self.leaked, self.overdrawn, self.dlq,
        )  # fmt: skip
        return not any(core) and not self.failures

    def line(self) -> str:
        """`case=... lost=0 dup=0 ...` as the suite prints it."""
        five = sum(self.server_errors.values())
        by_status = ",".join(f"{k}:{v}" for k, v in sorted(self.server_errors.items()))
        parts = [
            f"case={self.case}",
            f"lost={self.lost}",
            f"dup={self.dup}",
            f"phantom={self.phantom}",
            f"mismatch={self.mismatch}",
            f"leaked={self.leaked}",
            f"overdrawn={self.overdrawn}",
            f"5xx={five}" + (f"({by_status})" if five else ""),
            f"ok={self.ok:.1%}({self.attempts})",
            f"lag_p50={_pct(self.lags, 0.5):.2f}s",
            f"lag_p99={_pct(self.lags, 0.99):.2f}s",
            f"lag_max={max(self.lags, default=math.nan):.2f}s",
            f"api_p99={self.latency_p99:.2f}s",
            f"dlq={self.dlq}",
            f"({self.seconds:.0f}s)",
            "PASS" if self.passed else "FAIL",
        ]
        tail = [f"{'; '.join(self.failures)}"] if self.failures else []
        tail += [f"[{'; '.join(self.notes)}]"] if self.notes else []
        return " ".join(parts + tail)


def check(case: str, world: World, state: State, dlq: int) -> Verdict:
    """Compare the final state with the promises (see the module docstring)."""
    v = Verdict(case, dlq=dlq)
    cost = {t.id: t.cost for t in world.tasks}
    for task_id, entries in state.debits.items():
        v.dup += max(0, len(entries) - 1)
        if task_id not in state.completed:
            v.phantom += len(entries)
        v.mismatch += sum(1 for e in entries if -int(e["amount"]) != cost.get(task_id))
        done = state.completed.get(task_id)
        if done is not None:
            v.lags.append((datetime.fromisoformat(entries[0]["created_at"]) - done).total_seconds())
    v.lost = missing(world, state)
    debited: Counter[str] = Counter()
    for entries in state.debits.values():
        for e in entries:
            debited[str(e["owner_id"])] += -int(e["amount"])
    for owner in world.owners:
        key = str(owner.id)
        balance = state.balances[key]
        expected = world.credits[owner.id] - debited[key]
        if balance["balance"] != expected or balance["balance"] != state.ledger_sum[key]:
            v.mismatch += 1
        v.leaked += int(balance["held"])
        v.overdrawn += lowest(state.amounts.get(key, []), balance["balance"]) < 0
    answers = [a for t in world.tasks for a in t.answers]
    v.attempts = len(answers)
    v.ok = sum(1 for a in answers if a == 200) / len(answers) if answers else math.nan
    v.server_errors = Counter({s: n for s, n in world.statuses.items() if s >= 500 or s == 0})
    v.latency_p99 = _pct(world.latencies, 0.99)
    if world.no_answers:
        v.notes.append(f"no answer: {dict(sorted(world.no_answers.items()))}")
    if world.settled > 5:
        v.notes.append(f"the stack took {world.settled:.0f}s to accept completions before the run")
    return v


def lowest(amounts: list[int], final: int) -> int:
    """The lowest balance an owner had: its ledger's running sum, and where it ended."""
    return min([final, *accumulate(amounts)])


def expect_no_5xx(v: Verdict, allowed: tuple[int, ...] = ()) -> None:
    """Fail the case on any 5xx (or unanswered request) not in `allowed`."""
    bad = {s: n for s, n in v.server_errors.items() if s not in allowed}
    if bad:
        v.failures.append(f"unexpected 5xx/no answer {json.dumps(bad)}")
