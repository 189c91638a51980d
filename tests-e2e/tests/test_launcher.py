"""The developer commands around the stack: `make token`, and the launcher's own refusals."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid

import httpx
import pytest

from e2e.stack import ROOT, RunningStack
from e2e.stories import veto_credit_complete_debit
from tests.conftest import CallerFactory

pytestmark = pytest.mark.e2e


def make_token(stack: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEV_DIR": str(stack.dev_dir)}
    return subprocess.run(
        ["make", "--no-print-directory", "token", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_make_token_prints_only_a_token_the_gateway_accepts(stack: RunningStack) -> None:
    owner = uuid.uuid4()
    made = make_token(stack, f"OWNER={owner}", "ADMIN=1")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert made.stdout == token + "\n"
    headers = {"Authorization": f"Bearer {token}"}
    code = f"tok-{owner.hex[:10]}"
    created = httpx.post(
        f"{stack.config.gateway_url}/api/budget/token-types",
        json={"code": code, "name": code},
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 201, created.text  # the admin role made it through


def test_make_token_refuses_an_owner_that_is_not_a_uuid(stack: RunningStack) -> None:
    made = make_token(stack, "OWNER=alice")
    assert made.returncode != 0
    assert made.stdout == ""
    assert "OWNER must be a UUID" in made.stderr


def test_the_launcher_refuses_ports_that_are_taken(stack: RunningStack) -> None:
    # A second stack on the session stack's ports must stop before touching anything.
    argv = stack.config.argv(stack.dev_dir)
    argv.remove("--fresh")  # never drop the running stack's databases, even by mistake
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "ports already in use" in done.stdout
    assert str(stack.config.gateway_port) in done.stdout
    still = httpx.get(f"{stack.config.gateway_url}/api/todos/tasks", timeout=5)
    assert still.status_code == 401  # the running gateway is untouched


async def test_a_child_killed_with_sigkill_is_started_again(
    stack: RunningStack, caller: CallerFactory
) -> None:
    # `make run` survives a crash: the launcher restarts the child instead of stopping.
    before = stack.child_pid("budget-consumer")
    assert before is not None, stack.tail()
    os.kill(before, signal.SIGKILL)
    deadline = time.monotonic() + 30
    after = None
    while time.monotonic() < deadline:
        after = stack.child_pid("budget-consumer")
        if after not in (None, before):
            break
        await asyncio.sleep(0.2)
    assert after not in (None, before), stack.tail()
    assert "exited with -9" in stack.tail(400)
    assert stack.process.poll() is None  # the launcher and the rest of the stack still run
    # ... and the new consumer does the old one's work: the debit arrives.
    await veto_credit_complete_debit(await caller(admin=True), await caller())


def test_a_second_gateway_cannot_share_the_running_gateway_s_port(
    stack: RunningStack, tmp_path
) -> None:
    # A stale or foreign HAProxy (SO_REUSEPORT by default) started on the same port must fail
    # to bind, instead of silently taking a share of the connections.
    config = tmp_path / "foreign.cfg"
    config.write_text(
        "defaults\n  mode http\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\n"
        f"frontend foreign\n  bind 127.0.0.1:{stack.config.gateway_port}\n"
        "  http-request return status 418\n"
    )
    haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    assert haproxy is not None
    foreign = subprocess.Popen(
        [haproxy, "-db", "-f", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        code = foreign.wait(timeout=10)
    except subprocess.TimeoutExpired:
        foreign.kill()
        foreign.wait()
        pytest.fail("a second HAProxy bound the gateway's port and ran beside it")
    output = foreign.stdout.read() if foreign.stdout else ""
    assert code != 0
    assert "cannot bind" in output.lower() or "address already in use" in output.lower(), output
    answers = {httpx.get(f"{stack.config.gateway_url}/", timeout=5).status_code for _ in range(20)}
    assert 418 not in answers


def test_the_launcher_refuses_a_port_held_by_a_socket_that_does_not_listen(
    stack: RunningStack,
) -> None:
    # Whoever holds the port, listening or not (here: bound with SO_REUSEPORT, as HAProxy binds):
    # the launcher stops before starting anything. Its own ports and names, away from the
    # session stack's, so nothing else could be what it refuses.
    shifted = dataclasses.replace(
        stack.config,
        name="portcheck",
        gateway_port=stack.config.gateway_port + 500,
        admin_port=stack.config.admin_port + 500,
        todos_port=stack.config.todos_port + 500,
        budget_port=stack.config.budget_port + 500,
        metrics_port=stack.config.metrics_port + 500,
        web_port=0,
        todos_db=f"{stack.config.todos_db}_portcheck",
        budget_db=f"{stack.config.budget_db}_portcheck",
        exchange=f"{stack.config.exchange}.portcheck",
        queue=f"{stack.config.queue}.portcheck",
    )
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind(("127.0.0.1", shifted.gateway_port))
    argv = shifted.argv(stack.dev_dir)
    argv.remove("--fresh")
    launcher = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = launcher.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(launcher.pid, signal.SIGTERM)  # it started a stack beside the held port
        output, _ = launcher.communicate(timeout=60)
        pytest.fail(f"the launcher did not refuse the held port:\n{output[-2000:]}")
    finally:
        holder.close()
    assert launcher.returncode == 1, output[-2000:]
    assert "ports already in use" in output
    assert str(shifted.gateway_port) in output
