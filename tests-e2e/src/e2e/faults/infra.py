"""Private PostgreSQL and RabbitMQ servers the suite may stop and restart at will.

They run in a temporary directory on their own loopback ports; the machine's servers are
never touched. Every one registers its own stop with `atexit`, so an exception, Ctrl-C or
SIGTERM of the suite still stops it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def port_open(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:`port`."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait(predicate: object, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} not within {timeout:.0f} s")


def _pg_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if versions:
        return versions[-1]
    found = shutil.which("pg_ctl")
    if not found:
        raise RuntimeError("PostgreSQL server binaries (pg_ctl, initdb) are not installed")
    return Path(found).parent


class PrivatePostgres:
    """A throw-away cluster: initdb into a temp dir, trust auth, user `postgres`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix=f"faults-pg-{port}-"))
        self.data = self.dir / "data"
        self._bin = _pg_bin()
        # initdb and the server refuse to run as root: use the postgres account then.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self._running = False

    @property
    def env(self) -> dict[str, str]:
        """What points libpq and the launcher at this server."""
        return {"PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": "postgres"}

    def _run(self, *argv: str, timeout: float = 120) -> None:
        subprocess.run(
            [*self._as, *argv], check=True, capture_output=True, timeout=timeout, cwd=self.dir
        )

    def start(self) -> None:
        """initdb (first time) and start; waits until it accepts connections."""
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken: not starting a private PostgreSQL")
        if os.geteuid() == 0:
            uid = pwd.getpwnam("postgres").pw_uid
            os.chown(self.dir, uid, -1)
        if not self.data.exists():
            self._run(
                str(self._bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                "--auth=trust", "--no-sync",
            )  # fmt: skip
        atexit.register(self.stop)
        self.up()

    def up(self) -> None:
        """pg_ctl start (waits)."""
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200"
        )
        log = str(self.dir / "server.log")
        self._run(str(self._bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log,
                  "-w", "start")  # fmt: skip
        self._running = True

    def down(self) -> None:
        """pg_ctl stop -m fast (waits): clients are cut, the next start recovers nothing."""
        self._run(str(self._bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        self._running = False

    def stop(self) -> None:
        """Stop (if running) and remove the directory."""
        if self._running:
            with contextlib.suppress(Exception):
                self.down()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRabbit:
    """A second RabbitMQ node (own name, ports, data and cookie) in a temp dir."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.node = f"faults{port}@localhost"
        self.dir = Path(tempfile.mkdtemp(prefix=f"faults-rmq-{port}-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._sbin = Path("/usr/lib/rabbitmq/bin")
        if not (self._sbin / "rabbitmq-server").exists():
            found = shutil.which("rabbitmq-server", path="/usr/sbin:/usr/bin:/sbin")
            if not found:
                raise RuntimeError("rabbitmq-server is not installed")
            self._sbin = Path(found).parent

    @property
    def amqp_url(self) -> str:
        """The URL the services and the suite use."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        (self.dir / "enabled_plugins").write_text("[].\n")
        return {
            **os.environ,
            # Its own HOME: its own Erlang cookie, nothing of the machine's node is read.
            "HOME": str(self.dir),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.port + 1),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_PID_FILE": str(self.dir / "pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.dir / "advanced.config"),
            # No busy-waiting schedulers: a second node must not eat a 2-core box's CPU.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "+sbwt none +sbwtdcpu none +sbwtdio none",
        }

    def ctl(self, *args: str, timeout: float = 60) -> None:
        """rabbitmqctl -n <this node> ..."""
        subprocess.run(
            [str(self._sbin / "rabbitmqctl"), "-n", self.node, *args],
            env=self._env(),
            check=True,
            capture_output=True,
            timeout=timeout,
            cwd=self.dir,
        )

    def start(self) -> None:
        """Start the node in its own process group; waits until the broker runs."""
        for port in (self.port, self.port + 1):
            if port_open(port):
                raise RuntimeError(f"port {port} is taken: not starting a private RabbitMQ")
        env = self._env()
        atexit.register(self.stop)
        with (self.dir / "server.log").open("wb") as log:
            self._process = subprocess.Popen(
                [str(self._sbin / "rabbitmq-server")],
                env=env,
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait(lambda: port_open(self.port), f"private RabbitMQ on {self.port}", 90)
        self.ctl("await_startup", timeout=90)

    def stop_app(self) -> None:
        """The outage: the broker stops (connections close), the node stays."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        """The end of the outage."""
        self.ctl("start_app")

    def stop(self) -> None:
        """Stop the node (its process group as a last resort) and remove the directory."""
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(Exception):
                self.ctl("stop", timeout=30)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
