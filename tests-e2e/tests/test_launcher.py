"""The developer commands around the stack: `make token`, and the launcher's own refusals."""

from __future__ import annotations

import asyncio
import os
import signal
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
