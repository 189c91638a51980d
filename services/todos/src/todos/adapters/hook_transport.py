"""How a signed hook body is POSTed: one long-lived keep-alive client per process.

`AiohttpPoster` is the production transport: a plain `aiohttp.ClientSession` with a bounded
connection pool, made on first use (inside the running loop), no per-call client overhead.
`HttpxPoster` adapts an `httpx.AsyncClient`, so the hook client's own tests can mock the
HTTP edge with respx. Either answers `(status, body)`; a refused or failed connect raises
`HookConnectError` (worth a retry inside the hook's timeout); anything else propagates.
"""

from typing import Protocol

import aiohttp
import httpx


class HookConnectError(Exception):
    """The request never reached the hook (refused, unreachable): safe to try again."""


class HookPoster(Protocol):
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]: ...

    async def aclose(self) -> None: ...


class AiohttpPoster:
    def __init__(self, max_connections: int = 100) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        session = self._session or self._open()
        try:
            async with session.post(url, data=body, headers=headers) as response:
                return response.status, await response.read()
        except aiohttp.ClientConnectorError as exc:
            raise HookConnectError(str(exc)) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=30)
        # No client-side timeout here: the gate bounds every call by its hook's timeout.
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),
            auto_decompress=False,
            skip_auto_headers=("User-Agent",),
        )
        return self._session


class HttpxPoster:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise HookConnectError(str(exc)) from exc
        return response.status_code, response.content

    async def aclose(self) -> None:
        await self._client.aclose()
