"""What must exist before the stack starts: infra, HAProxy, migrated databases."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika

ROOT = Path(__file__).resolve().parents[2]
# The workspace venv the launcher runs in (`uv run`): the services' entry points are there.
VENV_BIN = Path(sys.prefix) / "bin"

Log = Callable[[str], None]


def run(
    argv: Sequence[str], log: Log, *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> None:
    """Run one preparation command to completion, its output passed line by line to `log`."""
    process = subprocess.Popen(  # noqa: S603 - our own fixed commands
        list(argv), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    for raw in process.stdout:
        log(raw.decode(errors="replace").rstrip())
    if process.wait() != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {process.returncode}")


def db_password_file() -> Path:
    """Where scripts/infra.sh keeps the project role's password (one per machine and user)."""
    if given := os.environ.get("DB_PASSWORD_FILE"):
        return Path(given)
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "todos-budget" / "db-password"


def ensure_infra(
    databases: Sequence[str], amqp_url: str, log: Log, *, recreate: bool = False
) -> None:
    """Start PostgreSQL and RabbitMQ (installing them when missing) and make the databases.

    scripts/infra.sh decides what it may touch from DATABASE_URL / PG* (see its header);
    `recreate` drops and re-creates the databases (for test runs that must start empty).
    """
    broker = urlsplit(amqp_url)
    env = {**os.environ, "AMQP_HOST": broker.hostname or "127.0.0.1"}
    env["AMQP_PORT"] = str(broker.port or 5672)
    flags = ["--recreate"] if recreate else []
    run([str(ROOT / "scripts" / "infra.sh"), *flags, *databases], log, env=env)


def ensure_haproxy(log: Log) -> str:
    """Path of the haproxy binary, installed with apt-get when missing."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if found:
        return found
    log("installing HAProxy (apt-get install -y haproxy)")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run([*sudo, "apt-get", "install", "-y", "haproxy"], log, env=env)
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if not found:
        raise RuntimeError("haproxy is still missing after apt-get install")
    return found


def check_gateway_config(haproxy: str, config: Path, env: dict[str, str], log: Log) -> None:
    """Refuse to start when HAProxy rejects the configuration with these settings."""
    run([haproxy, "-c", "-q", "-f", str(config)], log, env=env)


# The services' settings default to production; every process this launcher starts is
# development (its key, hook secret and broker user are the development ones).
DEVELOPMENT = {"TODOS_ENVIRONMENT": "development", "BUDGET_ENVIRONMENT": "development"}

# Variables with a service's prefix that are not the service's settings: the launcher's own
# options and the test suites' databases. Kept from the services, which report unknown ones.
NOT_SETTINGS = ("TODOS_DB", "BUDGET_DB", "TODOS_TEST_DATABASE_URL", "BUDGET_TEST_DATABASE_URL")


def settings(service: str, **values: str) -> dict[str, str]:
    """A service's settings as its environment variables: settings("budget", queue="q")."""
    return {f"{service.upper()}_{name.upper()}": value for name, value in values.items()}


def child_environ() -> dict[str, str]:
    """This process's environment without the variables in NOT_SETTINGS."""
    return {k: v for k, v in os.environ.items() if k not in NOT_SETTINGS}


def migrate(service: str, database_url: str, log: Log) -> None:
    """`alembic upgrade head` for one service against `database_url`."""
    env = {**child_environ(), **DEVELOPMENT, **settings(service, database_url=database_url)}
    alembic = str(VENV_BIN / "alembic")
    run([alembic, "upgrade", "head"], log, cwd=ROOT / "services" / service, env=env)


def declare_topology(amqp_url: str, exchange: str, queue: str, log: Log) -> None:
    """Declare budget's queue and bindings before anything is published (`budget-topology`).

    Otherwise the first events of a fresh broker could be parked: sent, and seen by no one.
    """
    env = {**child_environ(), **DEVELOPMENT}
    env.update(settings("budget", amqp_url=amqp_url, events_exchange=exchange, queue=queue))
    run([str(VENV_BIN / "budget-topology"), "declare"], log, env=env)


def reset_broker(amqp_url: str, exchanges: Sequence[str], queues: Sequence[str]) -> None:
    """Delete `exchanges` and `queues` (for test runs that must start empty)."""

    async def _reset() -> None:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            for queue in queues:
                channel = await connection.channel()
                await channel.queue_delete(queue)
            for exchange in exchanges:
                channel = await connection.channel()
                await channel.exchange_delete(exchange)

    asyncio.run(_reset())
