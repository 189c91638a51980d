"""A timed-out attempt and its retry, against a real HTTP hook server and the real outbox.

The abort that todos writes names the invocation the hook server saw for the attempt that
timed out, so budget can release that attempt's hold and not the retry's.
"""

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import uuid4

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.hooks import BeforeCompleteTask
from contracts.ids import OwnerId
from todos.adapters.completions import SqlCompletionStore
from todos.adapters.db import DriverPool
from todos.adapters.hook_client import HttpHookGate
from todos.adapters.tables import outbox
from todos.adapters.unit_of_work import SqlUnitOfWork
from todos.bootstrap import make_hook_client, utc_now
from todos.config import HookSubscription
from todos.domain.model import TaskStatus
from todos.service_layer import tasks
from todos.service_layer.errors import HookUnavailableError

TIMEOUT = 0.3


@dataclass
class SlowFirstHook:
    """Answers the first call after the caller's timeout, later calls at once."""

    calls: list[BeforeCompleteTask] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append(BeforeCompleteTask.model_validate_json(await request.read()))
        if len(self.calls) == 1:
            await asyncio.sleep(TIMEOUT * 3)
        return web.json_response({"decision": "allow"})


@pytest.fixture
async def hook_server() -> AsyncIterator[tuple[SlowFirstHook, str]]:
    hook = SlowFirstHook()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    for _ in range(20):  # a free port in the range this sandbox may use
        port = random.randint(31000, 31999)
        with contextlib.suppress(OSError):
            await web.TCPSite(runner, "127.0.0.1", port).start()
            break
    else:
        raise RuntimeError("no free port in 31000-31999")
    yield hook, f"http://127.0.0.1:{port}/hook"
    await runner.cleanup()


async def test_the_abort_of_a_timed_out_attempt_names_its_invocation(
    engine: AsyncEngine, pool: DriverPool, hook_server: tuple[SlowFirstHook, str]
) -> None:
    hook, url = hook_server
    subscription = HookSubscription.model_validate(
        {"name": "budget", "url": url, "secret": "s", "timeout": TIMEOUT}
    )
    client = make_hook_client()
    gate = HttpHookGate(client, [subscription])

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, lambda: "corr-attempts")

    store = SqlCompletionStore(pool, lambda: "corr-attempts")
    owner = OwnerId(uuid4())
    try:
        task = await tasks.create_task(uow, utc_now, owner, "slow hook", None)
        with pytest.raises(HookUnavailableError):
            await tasks.complete_task(store, utc_now, gate, owner, task.id)
        done = await tasks.complete_task(store, utc_now, gate, owner, task.id)
    finally:
        await client.aclose()
    assert done.status is TaskStatus.COMPLETED
    first, retry = hook.calls
    assert first.invocation_id != retry.invocation_id
    for call in (first, retry):
        assert call.deadline == call.occurred_at + timedelta(seconds=TIMEOUT)
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.envelope).where(
                outbox.c.envelope["data"]["task_id"].astext == str(task.id),
                outbox.c.event_type == "todos.task.completion-aborted.v1",
            )
        )
        [envelope] = [r.envelope for r in rows]
    assert envelope["data"]["invocation_id"] == str(first.invocation_id)
