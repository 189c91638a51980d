"""Load: a closed loop (N requests always in flight) and an open loop (a fixed arrival rate)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import aiohttp

ERROR = 0  # status recorded when no HTTP answer came back (reset, timeout)


@dataclass(frozen=True)
class Job:
    """One completion to ask for: the task and its owner's bearer token."""

    task_id: str
    token: str


@dataclass
class Outcome:
    """What one phase saw: answers by status, latencies, and which tasks answered 200."""

    name: str
    statuses: Counter[int] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)  # "503 hook_unavailable" ...
    latencies: list[float] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    exhausted: bool = False  # the prepared tasks ran out before the time did

    @property
    def ok_per_second(self) -> float:
        """200 answers per second of the phase."""
        return self.statuses[200] / self.elapsed if self.elapsed else 0.0

    @property
    def answers_per_second(self) -> float:
        """Answers of any kind (each used up a task) per second of the phase."""
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        """Latency percentile `p` (0-100) in milliseconds, nearest rank; 0 without data."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))
        return ordered[rank] * 1000

    def statuses_text(self) -> str:
        """`200: 1234, 503 hook_unavailable: 5` (`err`: no answer)."""
        ok = [f"200: {self.statuses[200]}"] if self.statuses[200] else []
        return ", ".join(ok + [f"{why}: {n}" for why, n in sorted(self.reasons.items())])


async def _one(
    session: aiohttp.ClientSession, base_url: str, job: Job, since: float, out: Outcome
) -> None:
    url = f"{base_url}/api/todos/tasks/{job.task_id}/complete"
    headers = {"Authorization": f"Bearer {job.token}"}
    try:
        async with session.post(url, headers=headers) as answer:
            body = await answer.read()
            status = answer.status
        if status != 200:
            out.reasons[f"{status} {_code(body)}"] += 1
    except (aiohttp.ClientError, TimeoutError) as exc:
        status = ERROR
        out.reasons[f"err {type(exc).__name__}"] += 1
    except asyncio.CancelledError:  # given up on: it counts, with the time it had waited
        out.latencies.append(time.perf_counter() - since)
        out.statuses[ERROR] += 1
        out.reasons["err unanswered"] += 1
        raise
    out.latencies.append(time.perf_counter() - since)
    out.statuses[status] += 1
    if status == 200:
        out.completed.append(job.task_id)


def _code(body: bytes) -> str:
    """The problem document's `code`, else `?`."""
    try:
        problem = json.loads(body)
    except ValueError:
        return "?"
    if not isinstance(problem, dict):
        return "?"
    return str(problem.get("code") or problem.get("detail") or "?")


def session(limit: int = 0, timeout: float = 30.0) -> aiohttp.ClientSession:
    """A client session with `limit` connections (0: unbounded) and a total timeout."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit),
        timeout=aiohttp.ClientTimeout(total=timeout),
    )


async def closed_loop(
    base_url: str, jobs: Iterator[Job], *, concurrency: int, seconds: float, name: str
) -> Outcome:
    """`concurrency` workers, each sending its next request when the last one answered."""
    out = Outcome(name)
    async with session(limit=concurrency) as http:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                job = next(jobs, None)
                if job is None:
                    out.exhausted = True
                    return
                await _one(http, base_url, job, time.perf_counter(), out)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        out.elapsed = time.perf_counter() - started
    return out


async def open_loop(
    base_url: str,
    jobs: Iterator[Job],
    *,
    rate: float,
    seconds: float,
    name: str,
    limit: int = 256,
    tail: float = 15.0,
) -> Outcome:
    """Requests sent at `rate` per second whatever the answers; latency counts from the
    moment each was due, so a server that falls behind is not flattered (no coordinated
    omission). At most `limit` connections: a server that falls far behind sees a queue in
    the client rather than thousands of sockets (the wait still counts)."""
    out = Outcome(name)
    async with session(limit=limit) as http:
        started = time.perf_counter()
        pending: set[asyncio.Task[None]] = set()
        for i in range(int(rate * seconds)):
            due = started + i / rate
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            job = next(jobs, None)
            if job is None:
                out.exhausted = True
                break
            task = asyncio.create_task(_one(http, base_url, job, due, out))
            pending.add(task)
            task.add_done_callback(pending.discard)
        # Stragglers get `tail` seconds more; what is still unanswered then counts as lost.
        if pending:
            _, late = await asyncio.wait(pending, timeout=tail)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        out.elapsed = time.perf_counter() - started
    return out
