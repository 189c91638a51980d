"""todos-api while PostgreSQL is away: a quick 503 `unavailable`, not a 500 or a hang."""

import asyncio
import time
from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest
from asgi_lifespan import LifespanManager

from tests.conftest import KeyPair
from todos.config import Settings
from todos.entrypoints.app import create_app

PROBLEM = "application/problem+json"


class CuttableProxy:
    """A TCP proxy to PostgreSQL that a test can cut: open connections drop, new ones fail."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._clients: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()

    def announce_shutdown(self) -> None:
        """What a server's fast shutdown sends every session before it closes the socket: an
        unsolicited FATAL 57P01; the sockets stay open until `cut`."""
        fields = b"SFATAL\0VFATAL\0C57P01\0Mterminating connection due to administrator command\0\0"
        message = b"E" + (len(fields) + 4).to_bytes(4, "big") + fields
        for writer in self._clients:
            writer.write(message)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 5432)
        self._writers |= {writer, up_writer}
        self._clients.add(writer)
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[CuttableProxy]:
    p = CuttableProxy()
    await p.start()
    yield p
    await p.cut()


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "1"
    assert response.json()["code"] == "unavailable"


async def test_a_database_outage_is_a_503_problem(
    settings: Settings, migrated_database: str, proxy: CuttableProxy, keys: KeyPair
) -> None:
    url = migrated_database.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert url != migrated_database  # the test database is on 127.0.0.1:5432
    app = create_app(settings.model_copy(update={"database_url": url}))
    headers = {"Authorization": f"Bearer {keys.token(uuid4())}"}
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            created = await client.post("/api/todos/tasks", json={"title": "t"}, headers=headers)
            assert created.status_code == 201
            await proxy.cut()
            responses = [
                await client.post("/api/todos/tasks", json={"title": "t"}, headers=headers),
                await client.get("/api/todos/tasks", headers=headers),
                await client.post(
                    f"/api/todos/tasks/{created.json()['id']}/complete", headers=headers
                ),
            ]
    for response in responses:
        _assert_unavailable(response)


async def test_a_database_that_does_not_answer_gets_a_503_within_the_connect_timeout(
    settings: Settings, migrated_database: str, keys: KeyPair
) -> None:
    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)  # accepts, never speaks: a frozen or unreachable server
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = migrated_database.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
    assert url != migrated_database  # the test database is on 127.0.0.1:5432
    app = create_app(settings.model_copy(update={"database_url": url, "db_connect_timeout": 0.5}))
    headers = {"Authorization": f"Bearer {keys.token(uuid4())}"}
    try:
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                started = time.monotonic()
                response = await client.get("/api/todos/tasks", headers=headers)
                elapsed = time.monotonic() - started
    finally:
        server.close()
    _assert_unavailable(response)
    assert elapsed < 3


async def test_a_pooled_connection_that_got_the_shutdown_notice_is_a_503_not_a_500(
    settings: Settings, migrated_database: str, proxy: CuttableProxy, keys: KeyPair
) -> None:
    # postgres-restart fault case: the FATAL reached an idle connection of the completion
    # path's pool just before the socket closed; the next statement on it raised asyncpg's
    # InternalClientError ("cannot switch to state 12; another operation (2) is in progress").
    url = migrated_database.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    app = create_app(settings.model_copy(update={"database_url": url}))
    headers = {"Authorization": f"Bearer {keys.token(uuid4())}"}
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            created = await client.post("/api/todos/tasks", json={"title": "t"}, headers=headers)
            # the completion path's pool now holds an idle connection
            missing = await client.post(f"/api/todos/tasks/{uuid4()}/complete", headers=headers)
            assert missing.status_code == 404
            proxy.announce_shutdown()
            await asyncio.sleep(0.2)  # the driver reads the notice; the socket is still open
            response = await client.post(
                f"/api/todos/tasks/{created.json()['id']}/complete", headers=headers
            )
    _assert_unavailable(response)
