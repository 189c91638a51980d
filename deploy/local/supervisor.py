"""Run child processes in their own process groups, with one prefixed log; restart the ones
that die (at once, or with a growing delay when they die right after starting; a crash loop
stops the stack), optionally from an imported warm spare, and stop them all on request."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

_COLOURS = itertools.cycle(["36", "33", "35", "32", "34", "96", "93", "95", "92", "94"])


# A child that exits sooner than this after its start counts as failing to start: it is
# restarted after a growing delay, and the stack gives up after MAX_QUICK_EXITS in a row.
MIN_UPTIME = 3.0
MAX_QUICK_EXITS = 6
MAX_BACKOFF = 4.0


@dataclass
class Child:
    """One started process, how to start it again, and the name its log lines carry."""

    name: str
    process: subprocess.Popen[bytes]
    colour: str
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    started: float = field(default_factory=time.monotonic)
    quick_exits: int = 0  # consecutive exits within MIN_UPTIME of a start
    restart_at: float | None = None  # when a dead child is due to start again
    restarts: int = 0
    # Warm children (deploy/local/warm.py) start on a line on stdin; `spare` waits, imported.
    warm: bool = False
    spare: subprocess.Popen[bytes] | None = None


class GaveUp(RuntimeError):
    """A child kept exiting right after its start: the stack cannot run."""


@dataclass
class Supervisor:
    """Starts processes, copies their output line by line with a prefix, stops them on request."""

    out: TextIO = sys.stdout
    colour: bool = field(default_factory=lambda: sys.stdout.isatty())
    children: list[Child] = field(default_factory=list)
    # Lines for which this answers True are not shown (e.g. the gateway's health checks).
    hide: Callable[[str], bool] = lambda _: False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _width: int = 16

    def say(self, name: str, line: str, colour: str = "1") -> None:
        """Write one prefixed line to the shared log."""
        prefix = f"{name:<{self._width}}|"
        if self.colour:
            prefix = f"\x1b[{colour}m{prefix}\x1b[0m"
        with self._lock:
            self.out.write(f"{prefix} {line}\n")
            self.out.flush()

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path | None = None,
        *,
        warm: bool = False,
    ) -> Child:
        """Start `argv` in a new session (its own process group) and relay its output.

        `warm`: `argv` is a deploy/local/warm.py command; it is told to go at once, and a
        second one is kept waiting to replace it when it dies.
        """
        child = Child(name, _spawn(argv, env, cwd, warm), next(_COLOURS), list(argv), dict(env))
        child.cwd, child.warm = cwd, warm
        self.children.append(child)
        self._follow(child, child.process)
        self._go(child)
        self._new_spare(child)
        return child

    def _new_spare(self, child: Child) -> None:
        if child.warm:
            child.spare = _spawn(child.argv, child.env, child.cwd, warm=True)
            self._follow(child, child.spare)

    def _go(self, child: Child) -> None:
        # The pid is logged: the fault suite (and an operator) can tell the working process.
        self.say(child.name, f"running as pid {child.process.pid}", "1")
        if (stdin := child.process.stdin) is not None:
            with contextlib.suppress(OSError):
                stdin.write(b"go\n")
                stdin.flush()

    def restart_dead(self) -> None:
        """Restart every child that has died, after its backoff; raise GaveUp on a crash loop.

        A child that ran for a while comes back at once (it was killed or crashed: the
        stack must survive that); one that dies right after starting is retried with a
        doubling delay, and after MAX_QUICK_EXITS such exits in a row the stack stops.
        """
        now = time.monotonic()
        for child in self.children:
            code = child.process.poll()
            if code is None:
                continue
            if child.restart_at is None:
                lived = now - child.started
                child.quick_exits = child.quick_exits + 1 if lived < MIN_UPTIME else 0
                if child.quick_exits >= MAX_QUICK_EXITS:
                    raise GaveUp(
                        f"{child.name} exited with {code} {child.quick_exits} times in a row "
                        f"within {MIN_UPTIME:.0f} s of its start: giving up"
                    )
                delay = min(MAX_BACKOFF, 0.25 * 2 ** (child.quick_exits - 1))
                delay = delay if child.quick_exits else 0.0
                child.restart_at = now + delay
                at = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
                note = (
                    f"exited with {code} after {lived:.1f} s at {at}: restarting in {delay:.2f} s"
                )
                self.say(child.name, note, "1;31")
            if now >= child.restart_at:
                spare, child.spare = child.spare, None
                if spare is not None and spare.poll() is None:
                    child.process = spare  # imported already: it works within a second
                else:
                    child.process = _spawn(child.argv, child.env, child.cwd, child.warm)
                    self._follow(child, child.process)
                self._go(child)
                child.started, child.restart_at = time.monotonic(), None
                child.restarts += 1
                self._new_spare(child)

    def _follow(self, child: Child, process: subprocess.Popen[bytes]) -> None:
        threading.Thread(target=self._relay, args=(child, process), daemon=True).start()

    def _relay(self, child: Child, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            if not self.hide(line):
                self.say(child.name, line, child.colour)

    def exited(self) -> Child | None:
        """The first child that is no longer running, if any."""
        return next((c for c in self.children if c.process.poll() is not None), None)

    def stop_all(self, grace: float = 10.0) -> None:
        """SIGTERM every process group, wait up to `grace` seconds, then SIGKILL what is left."""
        for child in self.children:
            if child.spare is not None:
                _signal_group(child.spare, signal.SIGKILL)  # it never did any work
                child.spare.wait()
        for child in reversed(self.children):
            _signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self.say(child.name, "did not stop in time: killed")
        # The group may hold grandchildren (uv run -> python) even after the leader exited.
        for child in self.children:
            _signal_group(child.process, signal.SIGKILL)
            child.process.wait()


def _spawn(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path | None, warm: bool = False
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own fixed commands
        list(argv),
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.PIPE if warm else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
