"""scripts/infra.sh against a private PostgreSQL cluster that trusts nobody (password auth).

The cluster is Debian's default authentication: peer on the socket, scram-sha-256 over TCP. It
stands for "this machine's server" (MACHINE_PG points at it), so the shared server is untouched.
"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "scripts" / "infra.sh"
ROLE = "todos_budget"


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found, f"{name} not found: the PostgreSQL server binaries are needed"
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Cluster:
    def __init__(self) -> None:
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="infra-pg-"))
        self.data = self.dir / "data"
        self.root = os.geteuid() == 0  # initdb refuses root: run it as postgres

    def _as_postgres(self, *argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if self.root else []
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            [*prefix, *argv], capture_output=True, text=True, timeout=60, cwd="/", **kw
        )

    def start(self) -> None:
        if self.root:
            shutil.chown(self.dir, "postgres")
        init = self._as_postgres(
            _bin("initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth-local=peer", "--auth-host=scram-sha-256", "--no-sync",
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

    def stop(self) -> None:
        self._as_postgres(_bin("pg_ctl"), "-D", str(self.data), "stop", "-m", "immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster()
    c.start()
    yield c
    c.stop()


def _env(cluster: Cluster, tmp: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "PGUSER", "PGPASSWORD", "PGHOST", "PGPORT"}
    }
    return {
        **env,
        "PGPORT": str(cluster.port),
        "PGSOCKET": str(cluster.dir),
        "MACHINE_PG": f"127.0.0.1:{cluster.port}",
        "DB_PASSWORD_FILE": str(tmp / "db-password"),
        # the shared broker runs: infra.sh only sees its port open and leaves it alone
        "AMQP_HOST": "127.0.0.1",
        "AMQP_PORT": "5672",
        **extra,
    }


def _infra(env: dict[str, str], *databases: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INFRA), *databases], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _login(cluster: Cluster, password: str | None, db: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PGPASSWORD": password or ""}
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", ROLE, "-w", "-d", db,
         "-tAXc", "SELECT current_user"],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_a_password_only_server_gets_a_project_role_with_a_password(
    cluster: Cluster, tmp_path: Path
) -> None:
    # A database from before the project role, with a table its migrations must alter.
    cluster.sql("CREATE DATABASE legacy")
    cluster.sql("CREATE TABLE old (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY)", db="legacy")
    env = _env(cluster, tmp_path)

    first = _infra(env, "appdb", "legacy")
    assert first.returncode == 0, first.stderr

    password_file = tmp_path / "db-password"
    assert oct(password_file.stat().st_mode & 0o777) == "0o600"
    password = password_file.read_text().strip()
    assert _login(cluster, password, "appdb").stdout.strip() == ROLE
    assert _login(cluster, "wrong", "appdb").returncode != 0  # no trust anywhere
    owners = cluster.sql(
        "SELECT string_agg(datname || '=' || pg_get_userbyid(datdba), ',' ORDER BY datname)"
        " FROM pg_database WHERE datname IN ('appdb', 'legacy')"
    )
    assert owners == f"appdb={ROLE},legacy={ROLE}"
    assert cluster.sql("SELECT tableowner FROM pg_tables WHERE tablename = 'old'", "legacy") == ROLE

    again = _infra(env, "appdb", "legacy")  # idempotent, same password
    assert again.returncode == 0, again.stderr
    assert password_file.read_text().strip() == password
    assert _login(cluster, password, "legacy").returncode == 0


def test_the_project_role_can_migrate_its_database(cluster: Cluster, tmp_path: Path) -> None:
    env = _env(cluster, tmp_path)
    assert _infra(env, "migrated").returncode == 0
    password = (tmp_path / "db-password").read_text().strip()
    url = f"postgresql+asyncpg://{ROLE}:{password}@127.0.0.1:{cluster.port}/migrated"
    alembic = Path(sys.executable).parent / "alembic"
    done = subprocess.run(
        [str(alembic), "upgrade", "head"], cwd=ROOT / "services" / "todos",
        env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        cluster.sql("SELECT tableowner FROM pg_tables WHERE tablename = 'outbox'", "migrated")
        == ROLE
    )


def test_a_given_database_url_is_used_and_nothing_is_changed(
    cluster: Cluster, tmp_path: Path
) -> None:
    assert _infra(_env(cluster, tmp_path), "mine").returncode == 0
    password = (tmp_path / "db-password").read_text().strip()
    url = f"postgresql+asyncpg://{ROLE}:{password}@127.0.0.1:{cluster.port}/mine"
    before = cluster.sql("SELECT count(*) FROM pg_database") + cluster.sql(
        "SELECT count(*) FROM pg_roles"
    )
    env = _env(cluster, tmp_path, DATABASE_URL=url, DB_PASSWORD_FILE=str(tmp_path / "unused"))

    ok = _infra(env, "mine")
    assert ok.returncode == 0, ok.stderr
    missing = _infra(env, "mine", "notthere")
    assert missing.returncode != 0
    assert "cannot log into database notthere" in missing.stderr

    after = cluster.sql("SELECT count(*) FROM pg_database") + cluster.sql(
        "SELECT count(*) FROM pg_roles"
    )
    assert after == before  # no database, no role made
    assert not (tmp_path / "unused").exists()
