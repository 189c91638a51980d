"""The inline peer: what a tutorial would write for "complete a task, with a budget check".

One FastAPI process under uvicorn (1 worker): verify the bearer token (PyJWT RS256, as the
services do), call the hook over HTTP (httpx or aiohttp, PEER_HOOK_CLIENT), then one asyncpg
transaction (conditional UPDATE + outbox INSERT), then a publish the broker confirms, to a
quorum queue. No gateway, no relay, no consumer.

    python -m e2e.bench.peer   (PEER_PORT, PEER_DATABASE_URL, PEER_HOOK_URL, PEER_HOOK_SECRET,
                                PEER_HOOK_CLIENT, PEER_QUEUE, AMQP_URL, JWT_PUBLIC_KEY_FILE)
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Protocol

import aio_pika
import aiohttp
import asyncpg  # type: ignore[import-untyped]
import httpx
import jwt
import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException

from contracts.envelope import build_envelope, to_amqp
from contracts.events import TaskCompleted
from contracts.identity import AUDIENCE
from contracts.ids import OwnerId, TaskId
from contracts.signing import SIGNATURE_HEADER, sign
from e2e.bench.peer_db import plain_dsn

COMPLETE = """
UPDATE tasks SET status = 'completed', completed_at = $3
WHERE id = $1 AND owner_id = $2 AND status = 'open'
RETURNING id, owner_id, title, status, created_at, completed_at
"""
OUTBOX = "INSERT INTO outbox (event_id, event_type, envelope) VALUES ($1, $2, $3)"


class HookClient(Protocol):
    async def call(self, body: bytes, headers: dict[str, str]) -> dict[str, Any]: ...
    async def aclose(self) -> None: ...


class HttpxHook:
    """The hook called with one shared httpx.AsyncClient."""

    def __init__(self, url: str) -> None:
        self._url, self._client = url, httpx.AsyncClient(timeout=1.0)

    async def call(self, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        answer = await self._client.post(self._url, content=body, headers=headers)
        answer.raise_for_status()
        return dict(answer.json())

    async def aclose(self) -> None:
        await self._client.aclose()


class AiohttpHook:
    """The hook called with one shared aiohttp.ClientSession."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1.0))

    async def call(self, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        async with self._session.post(self._url, data=body, headers=headers) as answer:
            answer.raise_for_status()
            return dict(await answer.json())

    async def aclose(self) -> None:
        await self._session.close()


class Peer:
    """The process's shared resources, opened at start-up."""

    pool: asyncpg.Pool
    hook: HookClient
    connection: aio_pika.abc.AbstractRobustConnection
    channel: aio_pika.abc.AbstractChannel
    queue: str
    public_key: bytes
    secret: str


PEER = Peer()


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Pool, hook client, broker channel with publisher confirms and the quorum queue."""
    env = os.environ
    PEER.pool = await asyncpg.create_pool(plain_dsn(env["PEER_DATABASE_URL"]))
    url = env["PEER_HOOK_URL"]
    PEER.hook = AiohttpHook(url) if env.get("PEER_HOOK_CLIENT") == "aiohttp" else HttpxHook(url)
    PEER.connection = await aio_pika.connect_robust(env["AMQP_URL"])
    PEER.channel = await PEER.connection.channel(publisher_confirms=True)
    PEER.queue = env["PEER_QUEUE"]
    await PEER.channel.declare_queue(PEER.queue, durable=True, arguments={"x-queue-type": "quorum"})
    PEER.public_key = _read(env["JWT_PUBLIC_KEY_FILE"])
    PEER.secret = env.get("PEER_HOOK_SECRET", "bench-secret")
    yield
    await PEER.hook.aclose()
    await PEER.connection.close()
    await PEER.pool.close()


def current_owner(authorization: Annotated[str, Header()] = "") -> uuid.UUID:
    """The verified `sub` of the bearer token, or 401."""
    try:
        claims = jwt.decode(
            authorization.removeprefix("Bearer "),
            PEER.public_key,
            algorithms=["RS256"],
            audience=AUDIENCE,
            options={"require": ["exp", "sub", "aud"]},
        )
        return uuid.UUID(str(claims["sub"]))
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise HTTPException(401, "invalid token") from exc


app = FastAPI(lifespan=lifespan)


@app.post("/api/todos/tasks/{task_id}/complete")
async def complete(
    task_id: uuid.UUID, owner: Annotated[uuid.UUID, Depends(current_owner)]
) -> dict[str, Any]:
    """Hook, then one transaction, then a confirmed publish."""
    now = datetime.now(UTC)
    body = json.dumps(
        {
            "hook": "todos.before_complete_task",
            "subscriber": "budget",
            "delivery_id": str(uuid.uuid4()),
            "invocation_id": str(uuid.uuid4()),
            "task_id": str(task_id),
            "owner_id": str(owner),
            "occurred_at": now.isoformat(),
            "deadline": (now + timedelta(seconds=1)).isoformat(),
        }
    ).encode()
    headers = {
        SIGNATURE_HEADER: sign(body, PEER.secret, int(time.time())),
        "Content-Type": "application/json",
    }
    try:
        decision = await PEER.hook.call(body, headers)
    except (httpx.HTTPError, aiohttp.ClientError, TimeoutError) as exc:
        raise HTTPException(503, "hook unavailable") from exc
    if decision.get("decision") != "allow":
        raise HTTPException(409, decision.get("reason", "vetoed"))
    async with PEER.pool.acquire() as conn, conn.transaction():
        task = await conn.fetchrow(COMPLETE, task_id, owner, now)
        if task is None:
            raise HTTPException(404, "no such open task")
        event = TaskCompleted(
            task_id=TaskId(task_id), owner_id=OwnerId(owner), title=task["title"], completed_at=now
        )
        envelope = build_envelope(event)
        message = to_amqp(envelope)
        await conn.execute(OUTBOX, envelope.id, envelope.type, message.body.decode())
    await PEER.channel.default_exchange.publish(
        aio_pika.Message(
            message.body,
            message_id=message.message_id,
            type=message.type,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        ),
        routing_key=PEER.queue,
    )
    return {k: str(v) if v is not None else None for k, v in dict(task).items()}


def main() -> None:
    """Serve on 127.0.0.1:PEER_PORT with one uvicorn worker."""
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(os.environ["PEER_PORT"]),
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
