"""PostgreSQL primary + synchronous standby under Patroni, with etcd as its consensus store.

Patroni (pinned in the workspace lockfile, dependency group `cluster`) runs on each database
host as the `postgres` account, from a venv made with the system's Python (the account must
be able to read it); etcd (Debian's etcd-server) runs on its own host. `synchronous_mode`:
a commit returns only once the standby has it, and Patroni promotes only that standby, so a
failover loses no acknowledged commit.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from e2e.cluster.net import Host
from e2e.cluster.procs import Keeper, Proc

ROOT = Path(__file__).resolve().parents[4]
PG_PORT = 5432
REST_PORT = 8008
ETCD_PORT = 2379
SCOPE = "tbclu"


def pg_bin() -> Path:
    """The newest installed PostgreSQL server's bin directory."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3])
    )
    if not found:
        raise RuntimeError("PostgreSQL server binaries are not installed (postgresql-15)")
    return found[-1].parent


def patroni_venv(where: Path) -> Path:
    """A venv with Patroni at the lockfile's versions, made with /usr/bin/python3; its bin."""
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    reqs = where / "patroni-requirements.txt"
    export = [uv, "export", "--frozen", "--only-group", "cluster", "--no-emit-project",
              "--format", "requirements-txt", "-o", str(reqs), "--quiet"]  # fmt: skip
    subprocess.run(export, cwd=ROOT, check=True, capture_output=True)
    venv = where / "patroni-venv"
    subprocess.run([uv, "venv", "--quiet", "--python", "/usr/bin/python3", str(venv)], check=True)
    install = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
               "--require-hashes", "-r", str(reqs)]  # fmt: skip
    subprocess.run(install, check=True, capture_output=True)
    return venv / "bin"


class Etcd:
    """A one-member etcd on its own host."""

    def __init__(self, host: Host, root: Path) -> None:
        self.host = host
        self.dir = root / f"etcd-{host.name}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host.addr}:{ETCD_PORT}"

    def start(self, keeper: Keeper) -> None:
        etcd = shutil.which("etcd") or "/usr/bin/etcd"
        peer = f"http://{self.host.addr}:2380"
        argv = [
            etcd, "--name", "dcs", "--data-dir", str(self.dir / "data"),
            "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"dcs={peer}", "--initial-cluster-state", "new",
            "--logger", "zap", "--log-level", "warn",
        ]  # fmt: skip
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        self.proc = keeper.add(Proc("etcd", self.host, argv, env, self.dir / "etcd.log"))

    def wait(self, timeout: float = 30) -> None:
        _wait_http(f"{self.url}/health", timeout)


class PatroniNode:
    """One database host: Patroni, which runs (and promotes or demotes) its PostgreSQL."""

    def __init__(self, host: Host, root: Path, etcd: Etcd, password: str) -> None:
        self.host = host
        self.dir = root / f"pg-{host.name}"
        self.dir.mkdir(parents=True, exist_ok=True)
        uid = pwd.getpwnam("postgres").pw_uid
        os.chown(self.dir, uid, -1)
        self.dir.chmod(0o700)
        self.proc: Proc | None = None
        config: dict[str, Any] = {
            "scope": SCOPE,
            "name": host.name,
            "log": {"level": "WARNING"},
            "restapi": {
                "listen": f"{host.addr}:{REST_PORT}",
                "connect_address": f"{host.addr}:{REST_PORT}",
            },
            "etcd3": {"hosts": f"{etcd.host.addr}:{ETCD_PORT}"},
            "bootstrap": {
                "dcs": {
                    # The leader key lives `ttl` s: a dead primary is replaced within ~20 s.
                    "ttl": 20,
                    "loop_wait": 2,
                    "retry_timeout": 5,
                    "maximum_lag_on_failover": 1048576,
                    "synchronous_mode": True,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "parameters": {
                            "max_connections": 300,
                            "wal_log_hints": "on",
                            "synchronous_commit": "on",
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "wal_keep_size": "256MB",
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"auth": "scram-sha-256"}],
            },
            "postgresql": {
                "listen": f"{host.addr}:{PG_PORT}",
                "connect_address": f"{host.addr}:{PG_PORT}",
                "data_dir": str(self.dir / "data"),
                "bin_dir": str(pg_bin()),
                "pgpass": str(self.dir / "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": password},
                    "replication": {"username": "replicator", "password": password},
                    "rewind": {"username": "postgres", "password": password},
                },
                "parameters": {"unix_socket_directories": str(self.dir)},
                "pg_hba": [
                    "local all all trust",
                    f"host all all {host.addr.rsplit('.', 1)[0]}.0/24 scram-sha-256",
                    f"host replication replicator {host.addr.rsplit('.', 1)[0]}.0/24 scram-sha-256",
                ],
            },
        }
        self.config_file = self.dir / "patroni.yml"
        self.config_file.write_text(json.dumps(config, indent=1))  # YAML is a superset of JSON
        os.chown(self.config_file, uid, -1)

    @property
    def rest(self) -> str:
        return f"http://{self.host.addr}:{REST_PORT}"

    def start(self, keeper: Keeper, venv_bin: Path) -> None:
        path = f"{venv_bin}:/usr/sbin:/usr/bin:/sbin:/bin"
        env = {"PATH": path, "LANG": "C.UTF-8", "HOME": str(self.dir)}
        argv = [str(venv_bin / "patroni"), str(self.config_file)]
        self.proc = keeper.add(
            Proc(
                f"patroni-{self.host.name}",
                self.host,
                argv,
                env,
                self.dir / "patroni.log",
                user="postgres",
                cwd=self.dir,
            )
        )

    def role(self) -> str | None:
        """What Patroni says this node is (`primary`, `replica`, ...), None when unreachable."""
        try:
            with urllib.request.urlopen(f"{self.rest}/patroni", timeout=2) as r:  # noqa: S310
                return str(json.load(r).get("role"))
        except (OSError, ValueError):
            return None


def cluster_state(nodes: list[PatroniNode]) -> dict[str, Any]:
    """Patroni's view of the cluster (members, roles, lag), from any node that answers."""
    for node in nodes:
        try:
            with urllib.request.urlopen(f"{node.rest}/cluster", timeout=2) as r:  # noqa: S310
                return dict(json.load(r))
        except (OSError, ValueError):
            continue
    return {}


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
