"""scripts/infra.sh against a private PostgreSQL cluster that trusts nobody (password auth).

The cluster is Debian's default authentication: peer on the socket, scram-sha-256 over TCP. It
stands for "this machine's server" (MACHINE_PG points at it), so the shared server is untouched.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg_cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "scripts" / "infra.sh"
ROLE = "todos_budget"


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
        # As the launcher runs it: development (the settings default to production).
        env={**os.environ, "TODOS_ENVIRONMENT": "development", "TODOS_DATABASE_URL": url},
        capture_output=True, text=True, timeout=120,
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
