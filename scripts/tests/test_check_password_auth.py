"""scripts/check-password-auth.sh on a private cluster that trusts everyone, like this machine's.

The cluster stands for the machine's server (PGPORT/PGSOCKET/MACHINE_PG): the script takes
trust away, runs `make run` and `make demo` on private ports, databases and vhost, and puts
pg_hba.conf back, also when the stack cannot start.
"""

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg_cluster import Cluster, free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check-password-auth.sh"


@pytest.fixture
def trusting() -> Iterator[Cluster]:
    cluster = Cluster(local="trust", host="trust")
    cluster.start()
    yield cluster
    cluster.stop()


def _env(cluster: Cluster, tmp: Path, gateway_port: int) -> dict[str, str]:
    ports = {
        "GATEWAY_PORT": gateway_port,
        "GATEWAY_ADMIN_PORT": free_port(),
        "TODOS_PORT": free_port(),
        "BUDGET_PORT": free_port(),
        "WORKER_METRICS_PORT": free_port(),
    }
    return {
        **{
            k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "PGUSER", "PGPASSWORD"}
        },
        **{k: str(v) for k, v in ports.items()},
        "GATEWAY_URL": f"http://127.0.0.1:{gateway_port}",
        "PGPORT": str(cluster.port),
        "PGSOCKET": str(cluster.dir),
        "MACHINE_PG": f"127.0.0.1:{cluster.port}",
        "DB_PASSWORD_FILE": str(tmp / "db-password"),
        "AMQP_URL": os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        "EVENTS_EXCHANGE": "check-password-auth.events",
        "BUDGET_QUEUE": "check-password-auth.budget",
        "STACK_LOG": str(tmp / "stack.log"),
    }


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def _trusts(cluster: Cluster) -> bool:
    done = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-w",
         "-d", "postgres", "-tAc", "SELECT 1"],
        env={**os.environ, "PGPASSWORD": ""}, capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    return done.returncode == 0


def test_make_run_and_demo_work_without_trust_and_pg_hba_comes_back(
    trusting: Cluster, tmp_path: Path
) -> None:
    before = trusting.read("pg_hba.conf")
    done = _run(_env(trusting, tmp_path, free_port()))
    assert done.returncode == 0, done.stderr + done.stdout[-2000:]
    assert "trust is gone" in done.stderr
    assert "debit -8" in done.stdout  # the demo's story reached the ledger
    assert "OK: make run and make demo work with password authentication only" in done.stderr
    assert trusting.read("pg_hba.conf") == before
    assert _trusts(trusting)


def test_pg_hba_comes_back_when_the_stack_cannot_start(trusting: Cluster, tmp_path: Path) -> None:
    before = trusting.read("pg_hba.conf")
    with socket.socket() as taken:  # the gateway's port is busy: make run refuses to start
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = _run(_env(trusting, tmp_path, taken.getsockname()[1]))
    assert done.returncode != 0
    assert "make run did not come up" in done.stderr
    assert "pg_hba.conf restored and reloaded" in done.stderr
    assert trusting.read("pg_hba.conf") == before
    assert _trusts(trusting)
