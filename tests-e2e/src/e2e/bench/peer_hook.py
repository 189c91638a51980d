"""The inline peer's hook: a tiny aiohttp server that checks a signed request and, in one
statement (one transaction), finds the task's cost and holds it if the owner can afford it.

    python -m e2e.bench.peer_hook   (PEER_HOOK_PORT, PEER_DATABASE_URL, PEER_HOOK_SECRET)
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
from aiohttp import web

from contracts.signing import SIGNATURE_HEADER, SignatureError, verify
from e2e.bench.peer_db import plain_dsn

# Cost, account row lock, held update and hold insert in one round trip; a repeated call for
# the task reuses its hold.
DECIDE = """
WITH cost AS (SELECT amount FROM task_costs WHERE task_id = $1 AND owner_id = $2),
existing AS (SELECT amount FROM holds WHERE task_id = $1),
held AS (
    UPDATE accounts a SET held = a.held + cost.amount FROM cost
    WHERE a.owner_id = $2 AND a.balance - a.held >= cost.amount
      AND NOT EXISTS (SELECT FROM existing)
    RETURNING cost.amount
),
hold AS (
    INSERT INTO holds (task_id, owner_id, amount) SELECT $1, $2, amount FROM held
    RETURNING amount
)
SELECT (SELECT amount FROM cost) AS cost, (SELECT amount FROM hold) AS held,
    (SELECT amount FROM existing) AS existing
"""

SECRET = os.environ.get("PEER_HOOK_SECRET", "bench-secret")
POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool", asyncpg.Pool)


async def decide(request: web.Request) -> web.Response:
    """`{"decision": "allow"}` when there is no cost or it is (now) held; else a veto."""
    body = await request.read()
    try:
        verify(request.headers.get(SIGNATURE_HEADER), body, SECRET, now=time.time())
    except SignatureError as exc:
        return web.json_response({"detail": str(exc)}, status=401)
    call = json.loads(body)
    task_id, owner_id = uuid.UUID(call["task_id"]), uuid.UUID(call["owner_id"])
    row = await request.app[POOL].fetchrow(DECIDE, task_id, owner_id)
    assert row is not None
    if row["cost"] is None or row["held"] is not None or row["existing"] is not None:
        return web.json_response({"decision": "allow"})
    return web.json_response({"decision": "veto", "reason": "Insufficient budget"})


async def _pool(app: web.Application) -> AsyncIterator[None]:
    app[POOL] = await asyncpg.create_pool(plain_dsn(os.environ["PEER_DATABASE_URL"]))
    yield
    await app[POOL].close()


def main() -> None:
    """Serve the hook on 127.0.0.1:PEER_HOOK_PORT until stopped."""
    app = web.Application()
    app.cleanup_ctx.append(_pool)
    app.router.add_post("/hook", decide)
    web.run_app(
        app,
        host="127.0.0.1",
        port=int(os.environ["PEER_HOOK_PORT"]),
        print=None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
