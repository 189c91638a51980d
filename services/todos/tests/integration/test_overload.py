"""Past capacity the API sheds load at once; our own queueing never opens the hook breaker.

Real app, real PostgreSQL, a real (slow) hook server on loopback through the app's real client.
"""

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest
from aiohttp import web
from asgi_lifespan import LifespanManager

from contracts.ids import OwnerId, TaskId
from tests.conftest import KeyPair
from tests.integration.conftest import free_port
from todos.adapters.circuit_breaker import BreakerState
from todos.adapters.hook_client import HttpHookGate
from todos.bootstrap import make_hook_client
from todos.config import HookSubscription, Settings
from todos.domain.hook_verdict import AnswerKind
from todos.entrypoints.app import create_app


class SlowHook:
    """Allows every call, after `delay` seconds or once `release` is set."""

    def __init__(self, delay: float | None = None) -> None:
        self.delay = delay
        self.release = asyncio.Event()
        self.received = 0
        self.arrived = asyncio.Event()  # set on every request
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.received += 1
        self.arrived.set()
        if self.delay is None:
            await self.release.wait()
        else:
            await asyncio.sleep(self.delay)
        return web.json_response({"decision": "allow"})


async def _serve(hook: SlowHook) -> AsyncIterator[SlowHook]:
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    hook.url = f"http://127.0.0.1:{port}/hook"
    yield hook
    hook.release.set()
    await runner.cleanup()


@pytest.fixture
async def held_hook() -> AsyncIterator[SlowHook]:
    async for hook in _serve(SlowHook()):
        yield hook


@pytest.fixture
async def slow_hook() -> AsyncIterator[SlowHook]:
    async for hook in _serve(SlowHook(delay=0.3)):
        yield hook


def _subscription(url: str, timeout: float) -> HookSubscription:
    return HookSubscription.model_validate(
        {"name": "budget", "url": url, "secret": "s", "timeout": timeout}
    )


async def test_past_capacity_a_completion_is_answered_503_overloaded_at_once(
    settings: Settings, migrated_database: str, keys: KeyPair, held_hook: SlowHook
) -> None:
    app = create_app(
        settings.model_copy(
            update={
                "hooks": [_subscription(held_hook.url, timeout=5)],
                "completions_max_in_flight": 2,
            }
        )
    )
    headers = {"Authorization": f"Bearer {keys.token(uuid4())}"}
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        ids = []
        for i in range(3):
            created = await client.post(
                "/api/todos/tasks", json={"title": f"t{i}"}, headers=headers
            )
            ids.append(created.json()["id"])
        in_flight = [
            asyncio.create_task(client.post(f"/api/todos/tasks/{i}/complete", headers=headers))
            for i in ids[:2]
        ]
        async with asyncio.timeout(5):
            while held_hook.received < 2:  # both are waiting on the hook
                held_hook.arrived.clear()
                await held_hook.arrived.wait()

        started = asyncio.get_running_loop().time()
        shed = await client.post(f"/api/todos/tasks/{ids[2]}/complete", headers=headers)
        waited = asyncio.get_running_loop().time() - started

        assert shed.status_code == 503
        assert shed.headers["content-type"] == "application/problem+json"
        assert shed.headers["retry-after"] == "1"
        assert shed.json()["code"] == "overloaded"
        assert shed.json()["type"]
        assert waited < 1  # at once, not after the hook's 5 s timeout
        assert held_hook.received == 2  # the shed completion never called the hook
        third = await client.get(f"/api/todos/tasks/{ids[2]}", headers=headers)
        assert third.json()["status"] == "open"

        held_hook.release.set()
        done = await asyncio.gather(*in_flight)
        assert [r.status_code for r in done] == [200, 200]
        gate = app.state.container.hooks
        assert isinstance(gate, HttpHookGate)
        assert gate.breakers["budget"].state is BreakerState.CLOSED
        # Capacity is given back: the shed task completes now.
        again = await client.post(f"/api/todos/tasks/{ids[2]}/complete", headers=headers)
        assert again.status_code == 200, again.text


async def test_calls_that_time_out_in_our_own_queue_do_not_open_the_breaker(
    slow_hook: SlowHook,
) -> None:
    client = make_hook_client()
    # One connection, a hook that takes 0.3 s of its 0.5 s: the second call goes out late and
    # runs out of time, the others never get a connection before their deadline.
    gate = HttpHookGate(
        client, [_subscription(slow_hook.url, timeout=0.5)], failure_threshold=2, max_connections=1
    )
    try:
        answers = await asyncio.gather(
            *(gate.before_complete(TaskId(uuid4()), OwnerId(uuid4())) for _ in range(8))
        )
        kinds = [a.kind for [a] in answers]
        assert kinds.count(AnswerKind.ALLOW) == 1
        assert kinds.count(AnswerKind.SHED) >= 5
        assert slow_hook.received <= 2  # shed calls never reached the hook
        assert gate.breakers["budget"].state is BreakerState.CLOSED
        [after] = await gate.before_complete(TaskId(uuid4()), OwnerId(uuid4()))
        assert after.kind is AnswerKind.ALLOW
    finally:
        await client.aclose()


async def test_a_hook_that_times_out_on_its_own_still_opens_the_breaker(
    held_hook: SlowHook,
) -> None:
    client = make_hook_client()
    gate = HttpHookGate(client, [_subscription(held_hook.url, timeout=0.2)], failure_threshold=2)
    try:
        for _ in range(2):  # sequential: each call has its whole timeout, and the hook is silent
            [answer] = await gate.before_complete(TaskId(uuid4()), OwnerId(uuid4()))
            assert answer.kind is AnswerKind.FAILED
        assert gate.breakers["budget"].state is BreakerState.OPEN
    finally:
        await client.aclose()
