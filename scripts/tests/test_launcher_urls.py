"""The launcher's database URLs: the user's DATABASE_URL or PG* win; else the project role."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy" / "local"))

import stack


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "PGUSER", "PGPASSWORD", "PGHOST", "PGPORT"):
        monkeypatch.delenv(name, raising=False)


def test_a_given_database_url_keeps_its_server_and_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://me:s%40cret@db.example:6543/whatever")
    assert stack._db_url("budget") == "postgresql+asyncpg://me:s%40cret@db.example:6543/budget"


def test_libpq_variables_are_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGUSER", "alice")
    monkeypatch.setenv("PGPASSWORD", "pw")
    monkeypatch.setenv("PGPORT", "6000")
    assert stack._db_url("todos") == "postgresql+asyncpg://alice:pw@127.0.0.1:6000/todos"


def test_by_default_the_project_role_logs_in_with_its_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "pw").write_text("Zx9\n")
    monkeypatch.setenv("DB_PASSWORD_FILE", str(tmp_path / "pw"))
    assert stack._db_url("todos") == "postgresql+asyncpg://todos_budget:Zx9@127.0.0.1:5432/todos"
