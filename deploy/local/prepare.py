"""What must exist before the stack starts: infra, HAProxy, migrated databases."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import aio_pika

ROOT = Path(__file__).resolve().parents[2]
UV_RUN = ("uv", "run", "--frozen")


def ensure_infra(databases: Sequence[str]) -> None:
    """Start PostgreSQL and RabbitMQ when stopped and create the databases (scripts/infra.sh)."""
    subprocess.run([str(ROOT / "scripts" / "infra.sh"), *databases], check=True)  # noqa: S603


def recreate_databases(
    databases: Sequence[str], pg: str = "postgresql://postgres@127.0.0.1:5432"
) -> None:
    """Drop and create `databases` (for test runs that must start empty)."""
    for db in databases:
        for sql in (f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', f'CREATE DATABASE "{db}"'):
            subprocess.run(  # noqa: S603 - our own fixed commands
                ["psql", f"{pg}/postgres", "-qc", sql],  # noqa: S607 check=True, stdout=subprocess.DEVNULL
            )


def ensure_haproxy() -> str:
    """Path of the haproxy binary, installed with apt-get when missing."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if found:
        return found
    print("[prepare] installing HAProxy (apt-get install -y haproxy)", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "install", "-y", "haproxy"], check=True, env=env)  # noqa: S603
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if not found:
        raise RuntimeError("haproxy is still missing after apt-get install")
    return found


def check_gateway_config(haproxy: str, config: Path, env: dict[str, str]) -> None:
    """Refuse to start when HAProxy rejects the configuration with these settings."""
    subprocess.run([haproxy, "-c", "-q", "-f", str(config)], check=True, env=env)  # noqa: S603


def migrate(service: str, database_url: str) -> None:
    """`alembic upgrade head` for one service against `database_url`."""
    env = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run(  # noqa: S603 - our own fixed commands
        [*UV_RUN, "alembic", "upgrade", "head"],
        check=True,
        cwd=ROOT / "services" / service,
        env=env,
    )


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
