"""Who the test tools log into PostgreSQL as: the launcher's rules (deploy/local/stack.py).

DATABASE_URL given: its server and credentials. PGUSER or PGPASSWORD given: libpq's variables
(PGHOST, PGPORT). Neither: the project role that scripts/infra.sh made on this machine's
server, with its password (DB_PASSWORD_FILE). Never a superuser, never trust.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

ROOT = Path(__file__).resolve().parents[3]


def password_file() -> Path:
    """Where scripts/infra.sh keeps the project role's password (one per machine and user)."""
    if given := os.environ.get("DB_PASSWORD_FILE"):
        return Path(given)
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "todos-budget" / "db-password"


def libpq_env() -> dict[str, str]:
    """PGHOST, PGPORT, PGUSER and PGPASSWORD for psql and the like."""
    env = os.environ.get
    if given := env("DATABASE_URL"):
        url = urlsplit(given)
        return {
            "PGHOST": url.hostname or "127.0.0.1",
            "PGPORT": str(url.port or 5432),
            "PGUSER": unquote(url.username or ""),
            "PGPASSWORD": unquote(url.password or ""),
        }
    found = {"PGHOST": env("PGHOST", "127.0.0.1"), "PGPORT": env("PGPORT", "5432")}
    if env("PGUSER") or env("PGPASSWORD"):
        return {**found, "PGUSER": env("PGUSER", "postgres"), "PGPASSWORD": env("PGPASSWORD", "")}
    role = env("PROJECT_DB_ROLE", "todos_budget")
    return {**found, "PGUSER": role, "PGPASSWORD": password_file().read_text().strip()}


def dsn(database: str, pg: dict[str, str] | None = None) -> str:
    """A `postgresql://` URL (asyncpg's) of `database` with those credentials."""
    pg = pg or libpq_env()
    auth = quote(pg["PGUSER"], safe="")
    if pg.get("PGPASSWORD"):
        auth += ":" + quote(pg["PGPASSWORD"], safe="")
    return f"postgresql://{auth}@{pg['PGHOST']}:{pg['PGPORT']}/{database}"


def ensure_databases(*names: str) -> None:
    """Make the databases exist, owned by that role: scripts/infra.sh, as `make run` does."""
    subprocess.run([str(ROOT / "scripts" / "infra.sh"), *names], check=True, timeout=300)
