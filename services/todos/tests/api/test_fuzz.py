"""schemathesis against the real app (uvicorn on loopback, real PostgreSQL): no 5xx, no surprises.

It runs the schemathesis CLI, as a user would (`--checks all`), against the OpenAPI document the
app serves, with a valid token, a fixed seed and a bounded number of examples per operation.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
import uvicorn
from fastapi import FastAPI

from tests.conftest import KeyPair
from todos.config import Settings
from todos.entrypoints.app import create_app

PORTS = range(34100, 34200)  # loopback ports this suite may use
SEED = 20261127
MAX_EXAMPLES = 20
CONFIG = Path(__file__).with_name("schemathesis.toml")  # where a check is off, and why


def _free_socket() -> socket.socket:
    for port in PORTS:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        return sock
    raise RuntimeError(f"no free port in {PORTS}")


@pytest.fixture
def server(settings: Settings, migrated_database: str) -> Iterator[str]:
    """The app served by uvicorn in a thread (its own event loop); yields its base URL."""
    app: FastAPI = create_app(settings)
    sock = _free_socket()
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    host, port = sock.getsockname()
    try:
        yield f"http://{host}:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=20)
        sock.close()


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    server: str, keys: KeyPair, tmp_path: Path
) -> None:
    token = keys.token(uuid4(), expires_in=3600)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        f"--config-file={CONFIG}",
        "run",
        f"{server}/openapi.json",
        "--checks=all",
        f"--header=Authorization: Bearer {token}",
        f"--max-examples={MAX_EXAMPLES}",
        f"--seed={SEED}",
        "--workers=1",
        "--no-shrink",
    ]
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run(  # in tmp_path: schemathesis writes its cache where it runs
        command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    print(result.stdout[-3000:])  # the summary, for `pytest -s`
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
