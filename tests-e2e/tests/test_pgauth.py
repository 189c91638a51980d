"""The suites' own database logins (fault checks, bench) are the launcher's: no trust."""

import subprocess
from pathlib import Path

import pytest

from e2e import pgauth


@pytest.fixture
def no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("DATABASE_URL", "PGUSER", "PGPASSWORD", "PGHOST", "PGPORT", "PROJECT_DB_ROLE"):
        monkeypatch.delenv(name, raising=False)
    secret = tmp_path / "db-password"
    secret.write_text("s3cret/with:odd@chars\n")
    monkeypatch.setenv("DB_PASSWORD_FILE", str(secret))
    return secret


def test_without_settings_the_project_role_with_its_password(no_settings: Path) -> None:
    env = pgauth.libpq_env()
    assert env == {
        "PGHOST": "127.0.0.1",
        "PGPORT": "5432",
        "PGUSER": "todos_budget",
        "PGPASSWORD": "s3cret/with:odd@chars",
    }
    assert pgauth.dsn("todos_x") == (
        "postgresql://todos_budget:s3cret%2Fwith%3Aodd%40chars@127.0.0.1:5432/todos_x"
    )


def test_a_given_url_or_libpq_settings_win(
    no_settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGUSER", "alice")
    monkeypatch.setenv("PGPASSWORD", "pw")
    assert pgauth.libpq_env()["PGUSER"] == "alice"
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://bob:b%40b@db.example:6543/todos")
    assert pgauth.libpq_env() == {
        "PGHOST": "db.example", "PGPORT": "6543", "PGUSER": "bob", "PGPASSWORD": "b@b",
    }  # fmt: skip


def test_psql_of_the_checks_logs_in_as_the_project_role_not_a_superuser() -> None:
    # On the machine's server as `make infra` left it (make test runs it first).
    done = subprocess.run(
        ["psql", "-X", "-w", "-tA", "-d", "postgres", "-c",
         "SELECT current_user || ' ' || rolsuper FROM pg_roles WHERE rolname = current_user"],
        env={"PATH": "/usr/bin:/bin", **pgauth.libpq_env()},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "todos_budget false"
