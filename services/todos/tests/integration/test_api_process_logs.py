"""The real `todos-api` process while its database is down: 503s and one warning line each."""

import json
import os
import subprocess
import sys
import time
from uuid import uuid4

import httpx

from tests.conftest import KeyPair
from tests.integration.conftest import free_port


def test_a_database_outage_is_logged_as_one_warning_line_without_a_traceback(
    keys: KeyPair,
) -> None:
    # Free ports, not fixed ones: another checkout's suite may run on this machine at once.
    api_port, nothing_listens = free_port(), free_port()
    env = {
        **os.environ,
        "TODOS_ENVIRONMENT": "test",
        "TODOS_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{nothing_listens}/todos",
        "TODOS_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{nothing_listens}/",
        "TODOS_JWT_PUBLIC_KEY": keys.public_pem,
        "TODOS_HOST": "127.0.0.1",
        "TODOS_PORT": str(api_port),
        "TODOS_LOG_LEVEL": "INFO",
    }
    code = "from todos.entrypoints.api import main; main()"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{api_port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert process.poll() is None, "todos-api exited"
                assert time.monotonic() < deadline, "todos-api did not start"
                time.sleep(0.2)
        headers = {"Authorization": f"Bearer {keys.token(uuid4())}"}
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            answers = [
                client.get("/api/todos/tasks"),
                client.post("/api/todos/tasks", json={"title": "t"}),
            ]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    for response in answers:
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "unavailable"
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    outages = [e for e in events if e["event"] == "database_unavailable"]
    assert len(outages) == 2
    assert {e["level"] for e in outages} == {"warning"}
    assert "Traceback" not in output
    assert not [e for e in events if e["level"] in ("error", "critical")]
