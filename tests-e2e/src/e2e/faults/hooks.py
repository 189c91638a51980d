"""Extra hook subscribers the suite serves itself: fast, slow, or answering garbage.

A bare asyncio HTTP/1.1 server, so it can answer what no framework would (a broken status
line). The launcher subscribes todos to it with `--extra-hook`; the signature is not checked
(only budget's answer decides money, these hooks only allow or fail).
"""

from __future__ import annotations

import asyncio
import contextlib
import json

ALLOW = b'{"decision": "allow"}'
GARBAGE = b"HTTP/1.1 2OO KO\r\nthis is not a header\r\n\r\n"


class HookServer:
    """Answers `allow`; `mode` switches it: "slow" (after `delay` s), "garbage",
    "first-slow" (the first call for one task in four waits `delay` s, later ones answer at
    once: few enough failures in a row that todos' breaker stays closed)."""

    def __init__(self, port: int, *, delay: float = 3.0) -> None:
        self.port, self.delay = port, delay
        self.mode = "allow"
        self.calls = 0
        self._seen: set[str] = set()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        """Where todos posts `todos.before_complete_task`."""
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        """Listen on 127.0.0.1:`port`."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        """Stop listening and drop open connections."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while body := await _read_request(reader):
                self.calls += 1
                if self.mode == "garbage":
                    writer.write(GARBAGE)
                    await writer.drain()
                    return
                if self.mode == "slow" or (self.mode == "first-slow" and self._first(body)):
                    await asyncio.sleep(self.delay)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(ALLOW), ALLOW)
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    def _first(self, body: bytes) -> bool:
        try:
            task = str(json.loads(body)["task_id"])
        except (ValueError, KeyError, TypeError):
            return False
        first = task not in self._seen
        self._seen.add(task)
        return first and int(task.replace("-", "")[-4:], 16) % 4 == 0


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    """One request's body, or None at the end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return await reader.readexactly(length) if length else b"{}"
