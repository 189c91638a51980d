"""`make doctor` names what is missing and how to fix it, and fails only then."""

import os
import shutil
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _doctor(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / "doctor.sh")],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_taken_port_and_a_refused_database_login_are_failures_with_a_fix() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = _doctor(
            GATEWAY_PORT=str(taken.getsockname()[1]),
            DATABASE_URL="postgresql+asyncpg://nobody:wrong@127.0.0.1:5432/todos",
        )
    assert done.returncode == 1
    assert "FAIL  ports" in done.stdout
    assert "FAIL  PostgreSQL" in done.stdout
    assert done.stdout.count("fix:") >= 2
    for check in ("OS", "uv", "RabbitMQ", "HAProxy", "kubectl"):
        assert f"  {check}" in done.stdout, check


def test_a_broker_that_is_not_there_is_a_failure() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    done = _doctor(AMQP_URL=f"amqp://guest:guest@127.0.0.1:{closed}/")
    assert done.returncode == 1
    assert f"FAIL  RabbitMQ               nothing listens on 127.0.0.1:{closed}" in done.stdout


def test_without_uv_node_or_kubectl_the_fixes_are_the_projects_own(tmp_path: Path) -> None:
    # A fresh Debian: none of the three on PATH, nothing in .tools/. The fix must be one that
    # works there: no `pip install` (PEP 668 refuses it), no third-party apt repository.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "python3", "sed", "grep", "head", "sort", "id", "cat", "dirname"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    done = _doctor(PATH=str(bin_dir), TOOLS=str(tmp_path / "no-tools"), HOME=str(tmp_path))
    lines = done.stdout.splitlines()
    for check in ("uv", "Node, npm", "kubectl"):
        line = next(x for x in lines if x.startswith(f"  ok    {check} "))
        assert "make installs" in line or "make web installs" in line, line
        assert "from PyPI" in line, line
    for banned in ("pip install", "NodeSource", "Google Cloud SDK", "nodejs.org", "apt repo"):
        assert banned not in done.stdout, banned
