"""Run child processes in their own process groups, with one prefixed log, and stop them all."""

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
from pathlib import Path
from typing import TextIO

_COLOURS = itertools.cycle(["36", "33", "35", "32", "34", "96", "93", "95", "92", "94"])


@dataclass
class Child:
    """One started process and the name its log lines carry."""

    name: str
    process: subprocess.Popen[bytes]
    colour: str


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
        self, name: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None
    ) -> Child:
        """Start `argv` in a new session (its own process group) and relay its output."""
        process = subprocess.Popen(  # noqa: S603 - our own fixed commands
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        child = Child(name, process, next(_COLOURS))
        self.children.append(child)
        threading.Thread(target=self._relay, args=(child,), daemon=True).start()
        return child

    def _relay(self, child: Child) -> None:
        assert child.process.stdout is not None
        for raw in child.process.stdout:
            line = raw.decode(errors="replace").rstrip()
            if not self.hide(line):
                self.say(child.name, line, child.colour)

    def exited(self) -> Child | None:
        """The first child that is no longer running, if any."""
        return next((c for c in self.children if c.process.poll() is not None), None)

    def stop_all(self, grace: float = 10.0) -> None:
        """SIGTERM every process group, wait up to `grace` seconds, then SIGKILL what is left."""
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


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
