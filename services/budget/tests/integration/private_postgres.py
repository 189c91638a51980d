"""A private PostgreSQL cluster that a test may stop, restart and hold in recovery."""

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    path = found[-1] if found else shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found: install the PostgreSQL server binaries")
    return path


class PrivatePostgres:
    """initdb in a temp dir; `pg_ctl` on its own port; `destroy()` stops it and removes the dir."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="budget-pg-"))
        self.data = self.dir / "data"
        self._as_postgres = os.geteuid() == 0  # initdb refuses to run as root

    @property
    def _log(self) -> str:
        return str(self.dir / "log")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        return subprocess.run(
            [*prefix, *args], check=check, capture_output=True, text=True, timeout=60
        )

    def init(self) -> None:
        if self._as_postgres:
            shutil.chown(self.dir, "postgres")
        self._run(
            _bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync"
        )

    def start(self, *, wait: bool = True, options: str = "") -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off {options}"
        self._ctl("start", "-o", opts, "-l", self._log, *([] if wait else ["-W"]))

    def stop(self, mode: str = "fast") -> None:
        self._ctl("stop", "-m", mode)

    def restart(self, mode: str = "fast") -> None:
        self._ctl("restart", "-m", mode, "-l", self._log)  # -l: no pipe held by the server

    def hold_in_recovery_on_next_start(self) -> None:
        """The next start stays in recovery (57P03 for every client) until `promote()`."""
        signal = self.data / "standby.signal"
        signal.touch()
        if self._as_postgres:
            shutil.chown(signal, "postgres")

    def promote(self) -> None:
        self._ctl("promote")

    def _ctl(self, *args: str) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), *args)

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(_bin("pg_ctl"), "-D", str(self.data), "stop", "-m", "immediate", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
