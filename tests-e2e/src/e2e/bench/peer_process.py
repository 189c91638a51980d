"""Start and stop the inline peer: its hook server and its FastAPI app, each a process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PeerProcesses:
    """The two processes and where the app listens."""

    hook: subprocess.Popen[bytes]
    app: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        """SIGTERM both, SIGKILL what is still there after 10 s."""
        for process in (self.app, self.hook):
            process.terminate()
        for process in (self.app, self.hook):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class _Exited(RuntimeError):
    """The process ended before it listened."""


def _spawn(module: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_port(port: int, process: subprocess.Popen[bytes], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise _Exited(f"{process.args!r} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port} after {within:.0f} s")


def start(
    *,
    port: int,
    hook_port: int,
    dsn: str,
    variant: str,
    queue: str,
    amqp_url: str,
    public_key_file: Path,
    log: Path,
) -> PeerProcesses:
    """Start the hook server and the app (hook client `variant`); return once both listen."""
    env = {
        **os.environ,
        "PEER_PORT": str(port),
        "PEER_HOOK_PORT": str(hook_port),
        "PEER_DATABASE_URL": dsn,
        "PEER_HOOK_URL": f"http://127.0.0.1:{hook_port}/hook",
        "PEER_HOOK_CLIENT": variant,
        "PEER_QUEUE": queue,
        "AMQP_URL": amqp_url,
        "JWT_PUBLIC_KEY_FILE": str(public_key_file),
    }
    hook = _listening("e2e.bench.peer_hook", hook_port, env, log)
    try:
        app = _listening("e2e.bench.peer", port, env, log)
    except Exception:
        hook.kill()
        hook.wait()
        raise
    return PeerProcesses(hook, app, f"http://127.0.0.1:{port}")


def _listening(
    module: str, port: int, env: dict[str, str], log: Path, attempts: int = 5
) -> subprocess.Popen[bytes]:
    """Start `module` and wait until it listens on `port`. Our ports lie in the ephemeral
    range, so a client socket may hold one for a moment: a failed bind is retried."""
    for attempt in range(1, attempts + 1):
        process = _spawn(module, env, log)
        try:
            _wait_port(port, process)
        except _Exited:
            if attempt == attempts:
                raise
            time.sleep(1.0)
            continue
        except Exception:
            process.kill()
            process.wait()
            raise
        return process
    raise AssertionError("unreachable")
