"""Processes on the cluster's hosts, restarted when they die (as an orchestrator would)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from e2e.cluster.net import Host

RESTART_DELAY = 1.0  # seconds between a death and the restart (a kubelet's first back-off)


@dataclass
class Proc:
    """One long-running process on a host; its output appended to `log`."""

    name: str
    host: Host
    argv: Sequence[str]
    env: Mapping[str, str]
    log: Path
    user: str | None = None
    cwd: Path | None = None
    keep: bool = True  # restarted by the keeper when it dies
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    died_at: float | None = None

    def start(self) -> None:
        """Start it (in its own process group, inside its host)."""
        with self.log.open("ab") as out:
            out.write(f"--- start {self.starts + 1} at {time.time():.3f}\n".encode())
            self.process = subprocess.Popen(
                self.host.argv(self.argv, self.user),
                env=dict(self.env),
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        self.died_at = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        """Signal its whole process group."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `grace` s; not restarted until `start`."""
        self.keep = False
        self.signal(signal.SIGTERM)
        if self.process is not None:
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait()


@dataclass
class Keeper:
    """Restarts every kept process that died, after `RESTART_DELAY`; runs in a thread."""

    procs: list[Proc] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, proc: Proc) -> Proc:
        with self._lock:
            self.procs.append(proc)
        proc.start()
        return proc

    def run(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="keeper", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            now = time.monotonic()
            with self._lock:
                for p in self.procs:
                    if not p.keep or p.alive:
                        continue
                    if p.died_at is None:
                        p.died_at = now
                    elif now - p.died_at >= RESTART_DELAY:
                        p.start()

    def stop_all(self) -> None:
        """Stop the keeper, then every process (SIGTERM, SIGKILL after a grace)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for p in self.procs:
            p.keep = False
            p.signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in self.procs:
            if p.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                p.signal(signal.SIGKILL)
