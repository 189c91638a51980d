"""Start and stop the whole stack with the same launcher `make run` uses (deploy/local/stack.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LAUNCHER = ROOT / "deploy" / "local" / "stack.py"
READY_MARKER = "STACK READY"


@dataclass(frozen=True)
class StackConfig:
    """Ports, databases and broker names of one test stack; none collide with `make run`."""

    name: str
    gateway_port: int
    admin_port: int
    todos_port: int
    budget_port: int
    metrics_port: int
    todos_db: str
    budget_db: str
    exchange: str
    queue: str
    replicas: int = 1
    rate_limit_owner: int = 100
    extra_hooks: tuple[str, ...] = ()
    warm_spares: bool = False
    tracing: bool = False
    web_port: int = 0  # the web UI's dev server; 0: the stack runs without the UI

    @property
    def web_url(self) -> str:
        """Where a browser opens the UI: through the gateway, like the APIs."""
        return f"{self.gateway_url}/"

    @property
    def gateway_url(self) -> str:
        """Base URL of the gateway, the only door the tests use."""
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def dead_letter_queue(self) -> str:
        """Where budget dead-letters what it cannot process."""
        return f"{self.queue}.dlq"

    def ports(self) -> list[int]:
        """Every port the stack listens on (APIs and workers step by 10 per replica)."""
        fixed = [self.gateway_port, self.admin_port, *([self.web_port] if self.web_port else [])]
        per_replica = [self.todos_port, self.budget_port, self.metrics_port, self.metrics_port + 1]
        return fixed + [p + 10 * i for i in range(self.replicas) for p in per_replica]

    def argv(self, dev_dir: Path) -> list[str]:
        """The launcher's command line for this configuration (fresh databases and queues)."""
        return [
            sys.executable, str(LAUNCHER), "--fresh",
            "--gateway-port", str(self.gateway_port),
            "--admin-port", str(self.admin_port),
            "--todos-port", str(self.todos_port),
            "--budget-port", str(self.budget_port),
            "--metrics-port", str(self.metrics_port),
            "--web-port", str(self.web_port),
            "--todos-db", self.todos_db,
            "--budget-db", self.budget_db,
            "--exchange", self.exchange,
            "--queue", self.queue,
            "--replicas", str(self.replicas),
            "--rate-limit-owner", str(self.rate_limit_owner),
            "--dev-dir", str(dev_dir),
            *(arg for hook in self.extra_hooks for arg in ("--extra-hook", hook)),
            *(["--warm-spares"] if self.warm_spares else []),
            *(["--tracing"] if self.tracing else []),
        ]  # fmt: skip


class RunningStack:
    """A launcher process in its own session; its log goes to a file for post-mortems."""

    def __init__(
        self,
        config: StackConfig,
        dev_dir: Path,
        log_file: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.config, self.dev_dir, self.log_file = config, dev_dir, log_file
        self._log = log_file.open("wb")
        # `env` overrides (e.g. PGPORT, AMQP_URL of a private server).
        env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        env.pop("LOG_JSON", None)
        self.process = subprocess.Popen(
            config.argv(dev_dir),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Block until the launcher reports ready; raise with the log's tail otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY_MARKER in self.log_file.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        raise RuntimeError(f"stack {self.config.name} did not get ready:\n{self.tail()}")

    def tail(self, lines: int = 60) -> str:
        """The last lines of the launcher's log."""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def child_pid(self, program: str) -> int | None:
        """The pid of the working process of `program` (e.g. "budget-consumer"), if alive.

        The launcher logs `<name> | running as pid N` whenever it (re)starts one.
        """
        pids = [
            int(line.rsplit(" ", 1)[1])
            for line in self.log_file.read_text(errors="replace").splitlines()
            if line.split("|", 1)[0].strip() == program and "| running as pid " in line
        ]
        if pids and pids[-1] in children_of(self.process.pid):
            return pids[-1]
        return None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM the launcher (it stops its children), then make sure nothing is left."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        return self.process.returncode


def children_of(parent: int) -> list[int]:
    """The pids whose parent is `parent` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (2nd field) may hold spaces: fields after its ')' are fixed.
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(entry.name))
    return found


def listening(ports: list[int]) -> list[int]:
    """The ports among `ports` that accept a TCP connection on 127.0.0.1."""
    open_ports = []
    for port in ports:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                open_ports.append(port)
    return open_ports
