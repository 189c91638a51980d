"""A private PostgreSQL cluster (initdb in a temp dir, its own port and socket) for these tests."""

import glob
import os
import socket
import subprocess
import tempfile
from pathlib import Path


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found, f"{name} not found: the PostgreSQL server binaries are needed"
    return found[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Cluster:
    def __init__(self, *, local: str = "peer", host: str = "scram-sha-256") -> None:
        self.auth = (f"--auth-local={local}", f"--auth-host={host}")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="infra-pg-"))
        self.data = self.dir / "data"
        # As the OS user postgres, as Debian runs its clusters: initdb refuses root, and the
        # local superuser logs in over the socket with peer authentication. Root switches with
        # runuser, a user with sudo (a newcomer's machine) with `sudo -u postgres`.
        self.root = os.geteuid() == 0
        self.switch = ["runuser", "-u", "postgres", "--"] if self.root else ["sudo", "-n"]

    def _as_postgres(self, *argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
        prefix = self.switch if self.root else [*self.switch, "-u", "postgres", "--"]
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            [*prefix, *argv], capture_output=True, text=True, timeout=60, cwd="/", **kw
        )

    def _as_root(self, *argv: str) -> None:
        prefix = [] if self.root else self.switch
        subprocess.run([*prefix, *argv], capture_output=True, timeout=60, check=True)

    def start(self) -> None:
        self._as_root("chown", "postgres", str(self.dir))
        init = self._as_postgres(
            _bin("initdb"), "-D", str(self.data), "-U", "postgres", *self.auth, "--no-sync",
        )  # fmt: skip
        assert init.returncode == 0, init.stderr
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        ctl = self._as_postgres(
            _bin("pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "start"
        )
        assert ctl.returncode == 0, ctl.stderr

    def sql(self, sql: str, db: str = "postgres") -> str:
        """As the superuser over the socket (peer)."""
        done = self._as_postgres(
            "psql", "-h", str(self.dir), "-p", str(self.port), "-d", db, "-tAXqc", sql
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def read(self, name: str) -> str:
        """A file of the data directory (owned by postgres)."""
        done = self._as_postgres("cat", str(self.data / name))
        assert done.returncode == 0, done.stderr
        return done.stdout

    def stop(self) -> None:
        self._as_postgres(_bin("pg_ctl"), "-D", str(self.data), "stop", "-m", "immediate")
        self._as_root("rm", "-rf", str(self.dir))
