"""What the stack's processes cost, read from /proc: CPU (utime + stime) and resident memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

TICK = 1.0 / os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def cpu_seconds(pid: int) -> float | None:
    """CPU the process has used so far (user + system), or None when it is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) * TICK


def parent(pid: int) -> int | None:
    """The parent process id, or None when the process is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def descendants(root: int) -> list[int]:
    """Every live process below `root` (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (ppid := parent(int(entry.name))) is not None:
            children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return sorted(found)


def cmdline(pid: int) -> list[str]:
    """The process's argv (empty when it is gone)."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


@dataclass(frozen=True)
class Memory:
    """Resident set now and its peak, in MiB."""

    rss_mib: float
    peak_mib: float


def memory(pid: int) -> Memory | None:
    """VmRSS and VmHWM of a live process."""
    try:
        status = (PROC / str(pid) / "status").read_text()
    except OSError:
        return None
    values = {}
    for line in status.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    if "VmRSS" not in values:
        return None  # a zombie or a kernel thread
    return Memory(values["VmRSS"], values.get("VmHWM", values["VmRSS"]))


PidSource = Callable[[], Awaitable[Iterable[int]]]


@dataclass
class CpuMeter:
    """CPU used by a changing set of processes between `start` and `stop`.

    Processes are listed again every `every` seconds, so short-lived ones (database backends a
    pool opens under load) are counted from 0 when first seen; what a process uses between the
    last sample and its exit is missed.
    """

    pids: PidSource
    label: Callable[[int], str] = lambda pid: " ".join(cmdline(pid)[:1]) or f"pid {pid}"
    every: float = 0.5
    labels: dict[int, str] = field(default_factory=dict)
    first: dict[int, float] = field(default_factory=dict)
    last: dict[int, float] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Take the baseline of every process alive now and keep sampling."""
        for pid in await self.pids():
            if (used := cpu_seconds(pid)) is not None:
                self.first[pid] = self.last[pid] = used
                self.labels[pid] = self.label(pid)
        self._task = asyncio.create_task(self._sample_forever())

    async def stop(self) -> float:
        """Stop sampling; the CPU seconds used since `start`."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._sample()
        return self.used()

    def used(self) -> float:
        """CPU seconds so far, summed over every process seen."""
        return sum(self.last[pid] - self.first.get(pid, 0.0) for pid in self.last)

    def by_label(self) -> dict[str, float]:
        """CPU seconds so far per process label (backends of one kind add up)."""
        found: dict[str, float] = {}
        for pid, used in self.last.items():
            name = self.labels.get(pid, f"pid {pid}")
            found[name] = found.get(name, 0.0) + used - self.first.get(pid, 0.0)
        return found

    async def _sample_forever(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            await self._sample()

    async def _sample(self) -> None:
        for pid in await self.pids():
            if (used := cpu_seconds(pid)) is not None:
                if pid not in self.first:
                    self.first[pid] = 0.0
                    self.labels[pid] = self.label(pid)
                self.last[pid] = used
