"""Helpers the API and integration tests share: tokens, signed hook calls, setup calls."""

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx

from budget.config import DEV_HOOK_SECRET
from contracts.hooks import HOOK_PATH
from contracts.signing import SIGNATURE_HEADER, sign
from tests.conftest import KeyPair

ADMIN = ["budget:admin"]


def bearer(keys: KeyPair, owner: UUID | None = None, *, admin: bool = False) -> dict[str, str]:
    token = keys.token(owner or uuid4(), roles=ADMIN if admin else None)
    return {"Authorization": f"Bearer {token}"}


async def new_token_type(
    client: httpx.AsyncClient, keys: KeyPair, code: str = ""
) -> dict[str, Any]:
    code = code or f"tok-{uuid4().hex[:12]}"
    response = await client.post(
        "/api/budget/token-types",
        json={"code": code, "name": "Tokens"},
        headers=bearer(keys, admin=True),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def credit(
    client: httpx.AsyncClient, keys: KeyPair, owner: UUID, token_type_id: str, amount: int
) -> httpx.Response:
    response = await client.post(
        "/api/budget/credits",
        json={"owner_id": str(owner), "token_type_id": token_type_id, "amount": amount},
        headers=bearer(keys, admin=True),
    )
    assert response.status_code == 201, response.text
    return response


async def add_cost(
    client: httpx.AsyncClient,
    keys: KeyPair,
    owner: UUID,
    token_type_id: str,
    amount: int,
    task: UUID | None = None,
) -> dict[str, Any]:
    response = await client.post(
        "/api/budget/task-costs",
        json={"task_id": str(task or uuid4()), "token_type_id": token_type_id, "amount": amount},
        headers=bearer(keys, owner),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def balance_of(
    client: httpx.AsyncClient, keys: KeyPair, owner: UUID, token_type_id: str
) -> dict[str, Any]:
    response = await client.get("/api/budget/balances", headers=bearer(keys, owner))
    assert response.status_code == 200, response.text
    for row in response.json():
        if row["token_type_id"] == token_type_id:
            found: dict[str, Any] = row
            return found
    return {"token_type_id": token_type_id, "balance": 0, "held": 0, "available": 0}


def hook_body(
    owner: UUID,
    task: UUID,
    *,
    invocation: UUID | None = None,
    subscriber: str = "budget",
    deadline_in: timedelta | None = timedelta(days=1),
) -> bytes:
    """One delivery of a call, as todos makes it: its own delivery id, a deadline, for budget.

    The deadline is far ahead by default: some tests move budget's clock past a hold's TTL.
    """
    now = datetime.now(UTC)
    body: dict[str, object] = {
        "hook": "todos.before_complete_task",
        "subscriber": subscriber,
        "delivery_id": str(uuid4()),
        "invocation_id": str(invocation or uuid4()),
        "task_id": str(task),
        "owner_id": str(owner),
        "occurred_at": now.isoformat(),
    }
    if deadline_in is not None:
        body["deadline"] = (now + deadline_in).isoformat()
    return json.dumps(body).encode()


async def call_hook(
    client: httpx.AsyncClient,
    owner: UUID,
    task: UUID,
    *,
    secret: str = DEV_HOOK_SECRET,
    timestamp: int | None = None,
    body: bytes | None = None,
) -> httpx.Response:
    raw = body if body is not None else hook_body(owner, task)
    signature = sign(raw, secret, int(time.time()) if timestamp is None else timestamp)
    return await client.post(
        HOOK_PATH,
        content=raw,
        headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
    )
