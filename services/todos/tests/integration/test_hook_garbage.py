"""A hook that answers garbage, over real TCP through the app's real httpx+aiohttp client.

Any failure of the call is a hook failure (503 `hook_unavailable` under `fail`, allowed under
`ignore`), never a 500; and the breaker, opened by it, closes once the hook answers properly.
"""

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Literal
from uuid import uuid4

import httpx
import pytest
from asgi_lifespan import LifespanManager

from tests.conftest import KeyPair
from todos.adapters.circuit_breaker import BreakerState
from todos.adapters.hook_client import HttpHookGate
from todos.config import HookSubscription, Settings
from todos.entrypoints.app import create_app

_ALLOW = b'{"decision":"allow"}'
REPLIES: dict[str, tuple[bytes, bool]] = {  # mode -> (bytes written, close afterwards)
    "good": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(_ALLOW), _ALLOW),
        False,
    ),
    "bad-status-line": (b"HTTP/1.1 two-hundred OK\r\n\r\n", True),
    "random-bytes": (bytes(range(0, 256, 7)) * 3, True),
    "not-http": (b"SSH-2.0-OpenSSH_9.2\r\n", True),
    "truncated-body": (
        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"deci',
        True,
    ),
    "wrong-content": (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<html></html>",
        False,
    ),
    "closes-without-answer": (b"", True),
}
GARBAGE = [mode for mode in REPLIES if mode != "good"]


class GarbageHook:
    """An HTTP/1.1 server on loopback that answers each request as `mode` says."""

    def __init__(self) -> None:
        self.mode = "good"
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/todos.before_complete_task"

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):  # a stopped process drops its kept-alive connections
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:  # keep-alive: one answer per request on the connection
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                self.requests += 1
                reply, close = REPLIES[self.mode]
                writer.write(reply)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


@pytest.fixture
async def hook_server() -> AsyncIterator[GarbageHook]:
    server = GarbageHook()
    await server.start()
    yield server
    await server.stop()


def _app_settings(
    settings: Settings, url: str, policy: Literal["fail", "ignore"], failures: int
) -> Settings:
    hook = HookSubscription(
        name="budget",
        url=url,
        secret="s",
        timeout=0.5,
        failure_policy=policy,  # type: ignore[arg-type]
    )
    return settings.model_copy(
        update={
            "hooks": [hook],
            "hook_breaker_failures": failures,
            "hook_breaker_first_reset_seconds": 0.2,
        }
    )


@pytest.fixture
def headers(keys: KeyPair) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.token(uuid4())}"}


async def _complete(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    created = await client.post("/api/todos/tasks", json={"title": "t"}, headers=headers)
    assert created.status_code == 201, created.text
    return await client.post(f"/api/todos/tasks/{created.json()['id']}/complete", headers=headers)


@pytest.mark.parametrize("mode", GARBAGE)
@pytest.mark.parametrize(("policy", "status"), [("fail", 503), ("ignore", 200)])
async def test_garbage_is_a_hook_failure_that_follows_the_policy(
    settings: Settings,
    migrated_database: str,
    hook_server: GarbageHook,
    headers: dict[str, str],
    mode: str,
    policy: Literal["fail", "ignore"],
    status: int,
) -> None:
    hook_server.mode = mode
    app = create_app(_app_settings(settings, hook_server.url, policy, failures=100))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await _complete(client, headers)
    assert response.status_code == status, response.text
    if status == 503:
        assert response.json()["code"] == "hook_unavailable"
    assert hook_server.requests >= 1


async def test_a_garbage_probe_does_not_wedge_the_breaker(
    settings: Settings, migrated_database: str, hook_server: GarbageHook, headers: dict[str, str]
) -> None:
    app = create_app(_app_settings(settings, hook_server.url, "fail", failures=2))
    async with LifespanManager(app) as manager:
        gate = app.state.container.hooks
        assert isinstance(gate, HttpHookGate)
        breaker = gate.breakers["budget"]
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            hook_server.mode = "bad-status-line"
            for _ in range(2):
                assert (await _complete(client, headers)).status_code == 503
            assert breaker.state is BreakerState.OPEN

            await asyncio.sleep(0.25)  # the probe meets garbage again: open, not half-open
            assert (await _complete(client, headers)).status_code == 503
            assert breaker.state is BreakerState.OPEN

            hook_server.mode = "good"
            await asyncio.sleep(0.45)  # the cool-down doubled after the failed probe
            response = await _complete(client, headers)
            assert response.status_code == 200, response.text
            assert breaker.state is BreakerState.CLOSED
            assert (await _complete(client, headers)).status_code == 200


async def test_a_hook_back_from_a_restart_is_used_again_within_about_a_second(
    settings: Settings, migrated_database: str, hook_server: GarbageHook, headers: dict[str, str]
) -> None:
    app = create_app(_app_settings(settings, hook_server.url, "fail", failures=2))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await _complete(client, headers)).status_code == 200
            await hook_server.stop()  # budget-api restarts: connections refused
            for _ in range(2):
                assert (await _complete(client, headers)).status_code == 503
            assert app.state.container.hooks.breakers["budget"].state is BreakerState.OPEN
            await asyncio.sleep(1.0)
            await hook_server.start(hook_server.port)
            back = asyncio.get_running_loop().time()
            while (await _complete(client, headers)).status_code != 200:
                assert asyncio.get_running_loop().time() - back < 3, "still refused"
                await asyncio.sleep(0.05)
