"""Who may call the hook, and how often: one subscriber's signature, once, before a deadline.

Against the real app on the real PostgreSQL: the replay guard lives in the database, so every
API replica sees the deliveries the others saw.
"""

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import uuid4

import httpx
import pytest
from asgi_lifespan import LifespanManager

from budget.config import DEV_HOOK_SECRET, Settings
from budget.entrypoints.app import create_app
from contracts.hooks import HOOK_PATH
from contracts.signing import SIGNATURE_HEADER, sign
from tests.conftest import KeyPair
from tests.support import add_cost, balance_of, call_hook, credit, hook_body, new_token_type


def _signed(body: bytes, secret: str = DEV_HOOK_SECRET) -> dict[str, str]:
    return {
        SIGNATURE_HEADER: sign(body, secret, int(time.time())),
        "Content-Type": "application/json",
    }


async def _owner_with_cost(client: httpx.AsyncClient, keys: KeyPair) -> tuple[object, ...]:
    tt = await new_token_type(client, keys)
    owner, task = uuid4(), uuid4()
    await credit(client, keys, owner, tt["id"], 10)
    await add_cost(client, keys, owner, tt["id"], 6, task)
    return tt["id"], owner, task


@pytest.fixture
async def second_replica(
    settings: Settings, migrated_database: str
) -> AsyncIterator[httpx.AsyncClient]:
    """Another budget-api process on the same database."""
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://budget-2.test") as c:
            yield c


async def test_a_replayed_call_is_refused(client: httpx.AsyncClient, keys: KeyPair) -> None:
    token_type, owner, task = await _owner_with_cost(client, keys)
    body = hook_body(owner, task)
    headers = _signed(body)
    first = await client.post(HOOK_PATH, content=body, headers=headers)
    assert first.json() == {"decision": "allow"}
    again = await client.post(HOOK_PATH, content=body, headers=headers)
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["code"] == "replayed"
    assert (await balance_of(client, keys, owner, token_type))["held"] == 6


async def test_a_call_replayed_to_another_replica_is_refused(
    client: httpx.AsyncClient, second_replica: httpx.AsyncClient, keys: KeyPair
) -> None:
    _, owner, task = await _owner_with_cost(client, keys)
    body = hook_body(owner, task)
    headers = _signed(body)
    assert (await client.post(HOOK_PATH, content=body, headers=headers)).status_code == 200
    again = await second_replica.post(HOOK_PATH, content=body, headers=headers)
    assert again.status_code == 409, again.text


async def test_a_retry_of_the_same_attempt_re_signed_is_answered(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    # todos retries an attempt (same invocation) as a new delivery: new delivery id, new signature.
    token_type, owner, task = await _owner_with_cost(client, keys)
    invocation = uuid4()
    for _ in range(3):
        body = hook_body(owner, task, invocation=invocation)
        answer = await client.post(HOOK_PATH, content=body, headers=_signed(body))
        assert answer.json() == {"decision": "allow"}, answer.text
    assert (await balance_of(client, keys, owner, token_type))["held"] == 6


async def test_a_call_signed_for_another_subscriber_is_refused(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    # Even with budget's secret (a subscriber that was given it by mistake): the body says
    # whom the signature is for, and that is not budget.
    token_type, owner, task = await _owner_with_cost(client, keys)
    body = hook_body(owner, task, subscriber="audit")
    answer = await client.post(HOOK_PATH, content=body, headers=_signed(body))
    assert answer.status_code == 401, answer.text
    assert answer.json()["code"] == "invalid_signature"
    assert "audit" in answer.json()["detail"]
    assert (await balance_of(client, keys, owner, token_type))["held"] == 0


async def test_a_call_without_a_deadline_or_a_delivery_id_is_refused(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    token_type, owner, task = await _owner_with_cost(client, keys)
    no_deadline = hook_body(owner, task, deadline_in=None)
    answer = await call_hook(client, owner, task, body=no_deadline)
    assert answer.status_code == 422, answer.text
    assert "deadline" in answer.json()["detail"]
    no_delivery = no_deadline.replace(b'"delivery_id"', b'"delivery"')
    answer = await call_hook(client, owner, task, body=no_delivery)
    assert answer.status_code == 422, answer.text
    assert (await balance_of(client, keys, owner, token_type))["held"] == 0


async def test_a_call_past_its_deadline_holds_nothing(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    token_type, owner, task = await _owner_with_cost(client, keys)
    late = hook_body(owner, task, deadline_in=-timedelta(seconds=2))
    answer = await call_hook(client, owner, task, body=late)
    assert answer.json()["decision"] == "veto"
    assert (await balance_of(client, keys, owner, token_type))["held"] == 0
