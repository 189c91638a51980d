"""infra.sh's install branch: a machine without PostgreSQL/RabbitMQ gets them from apt-get.

Nothing is uninstalled for this: the script runs with a PATH that lacks the servers' programs,
against closed ports that stand for "the machine's own" (MACHINE_PG / MACHINE_AMQP), and an
apt-get stand-in that records its calls. For RabbitMQ the stand-in "installs" a program that
listens on the port, so the rest of the path (start, wait) runs too. A user who is not root gets
a `sudo` stand-in that runs the command as it is. A real Debian install, as a newcomer's, is
`make test-fresh-machine`.
"""

import os
import shutil
import signal
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg_cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "scripts" / "infra.sh"
# What infra.sh needs from the system; the servers' programs are deliberately not here.
TOOLS = (
    "bash", "python3", "seq", "sleep", "ls", "sort", "tail", "id", "cat", "mkdir", "dirname",
    "grep", "timeout", "psql", "env", "printf", "chmod",
)  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(bin dir standing for PATH, the apt-get call log)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "apt.log"
    bin_dir.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    # apt-get records its arguments; installing rabbitmq-server drops in a program that
    # listens on AMQP_PORT (a broker as far as a port check goes).
    _script(
        bin_dir / "apt-get",
        f"""#!/bin/bash
echo "$*" >> {log}
if [[ " $* " == *" install "* && " $* " == *" rabbitmq-server "* ]]; then
  cat > {bin_dir}/rabbitmq-server <<'FAKE'
#!/bin/bash
python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(__import__("os").environ["AMQP_PORT"]))); s.listen()
time.sleep(60)' >/dev/null 2>&1 & echo $! > {tmp_path}/fake-broker.pid
FAKE
  chmod +x {bin_dir}/rabbitmq-server
fi
""",
    )
    if os.geteuid() != 0:
        _script(bin_dir / "sudo", '#!/bin/bash\nwhile [[ $1 == -* ]]; do shift; done\n"$@"\n')
    yield bin_dir, log
    pid_file = tmp_path / "fake-broker.pid"
    if pid_file.exists():
        os.kill(int(pid_file.read_text()), signal.SIGTERM)


def _run(bin_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # SERVER_PATH: the servers' programs only from the stand-ins, never this machine's /usr/sbin.
    base = {
        "PATH": str(bin_dir),
        "SERVER_PATH": str(bin_dir),
        "HOME": os.environ.get("HOME", "/root"),
    }
    return subprocess.run(
        [str(bin_dir / "bash"), str(INFRA), "postgres"],
        env={**base, **env}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_missing_postgresql_is_installed_with_apt_get(machine: tuple[Path, Path]) -> None:
    bin_dir, log = machine
    port = _closed_port()
    done = _run(
        bin_dir, PGPORT=str(port), MACHINE_PG=f"127.0.0.1:{port}", AMQP_HOST="127.0.0.1",
        AMQP_PORT="5672",
    )  # fmt: skip
    calls = log.read_text().splitlines()
    assert calls[0] == "update -qq"
    assert calls[1] == "install -y -qq postgresql"
    # The stand-in installed nothing, so the start fails, and says where to look.
    assert done.returncode != 0
    assert "installing postgresql" in done.stderr


def test_a_removed_server_package_counts_as_missing(
    machine: tuple[Path, Path], tmp_path: Path
) -> None:
    # `apt-get remove postgresql-15` leaves pg_ctlcluster (postgresql-common) and
    # /etc/postgresql behind: without the server's binary, PostgreSQL is not installed.
    bin_dir, log = machine
    _script(bin_dir / "pg_ctlcluster", "#!/bin/bash\nexit 1\n")
    port = _closed_port()
    done = _run(
        bin_dir, PGPORT=str(port), MACHINE_PG=f"127.0.0.1:{port}", AMQP_HOST="127.0.0.1",
        AMQP_PORT="5672", PG_LIB_DIR=str(tmp_path / "no-server"),
    )  # fmt: skip
    assert done.returncode != 0
    assert "install -y -qq postgresql" in log.read_text().splitlines()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster()
    c.start()
    c.sql("CREATE ROLE given LOGIN PASSWORD 'given-secret'")
    yield c
    c.stop()


def test_a_missing_rabbitmq_is_installed_and_started(
    machine: tuple[Path, Path], cluster: Cluster
) -> None:
    bin_dir, log = machine
    port = _closed_port()
    done = _run(
        bin_dir,
        # PostgreSQL: a server given by the user with its password (nothing is done to it).
        DATABASE_URL=f"postgresql://given:given-secret@127.0.0.1:{cluster.port}/postgres",
        AMQP_HOST="127.0.0.1", AMQP_PORT=str(port), MACHINE_AMQP=f"127.0.0.1:{port}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == ["update -qq", "install -y -qq rabbitmq-server"]
    assert "starting RabbitMQ" in done.stderr
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_a_server_elsewhere_is_never_installed(machine: tuple[Path, Path]) -> None:
    bin_dir, log = machine
    port = _closed_port()
    done = _run(bin_dir, PGPORT=str(port), AMQP_PORT="5672")  # not MACHINE_PG: someone else's
    assert done.returncode != 0
    assert "not the machine's default: not starting it" in done.stderr
    assert not log.exists()
