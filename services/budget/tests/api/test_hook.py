"""The hook, budget's side: signature checks, veto text, holds, expiry and the race.

See docs/architecture.md#the-hook.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pydantic import SecretStr

from budget.bootstrap import bootstrap
from budget.config import Settings
from budget.entrypoints.app import create_app
from contracts.hooks import HOOK_PATH
from contracts.signing import SIGNATURE_HEADER, sign
from tests.conftest import KeyPair
from tests.support import (
    add_cost,
    balance_of,
    bearer,
    call_hook,
    credit,
    hook_body,
    new_token_type,
)


async def test_no_cost_allows_without_a_hold(client: httpx.AsyncClient, keys: KeyPair) -> None:
    tt = await new_token_type(client, keys)
    owner = uuid4()
    await credit(client, keys, owner, tt["id"], 10)
    response = await call_hook(client, owner, uuid4())
    assert response.status_code == 200
    assert response.json() == {"decision": "allow"}
    assert (await balance_of(client, keys, owner, tt["id"]))["held"] == 0


async def test_insufficient_budget_vetoes_with_the_reason(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    tt = await new_token_type(client, keys)
    owner, task = uuid4(), uuid4()
    await credit(client, keys, owner, tt["id"], 4)
    await add_cost(client, keys, owner, tt["id"], 5, task)
    response = await call_hook(client, owner, task)
    assert response.json() == {
        "decision": "veto",
        "reason": f"Insufficient budget: need 5 {tt['code']}, have 4",
    }


async def test_a_never_credited_owner_has_zero_available(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    tt = await new_token_type(client, keys)
    owner, task = uuid4(), uuid4()
    await add_cost(client, keys, owner, tt["id"], 5, task)
    response = await call_hook(client, owner, task)
    assert response.json()["reason"] == f"Insufficient budget: need 5 {tt['code']}, have 0"


async def test_allow_holds_the_cost_and_a_repeat_reuses_the_hold(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    tt = await new_token_type(client, keys)
    owner, task = uuid4(), uuid4()
    await credit(client, keys, owner, tt["id"], 10)
    await add_cost(client, keys, owner, tt["id"], 6, task)
    for _ in range(3):
        response = await call_hook(client, owner, task)
        assert response.json() == {"decision": "allow"}
    assert await balance_of(client, keys, owner, tt["id"]) == {
        "token_type_id": tt["id"],
        "balance": 10,
        "held": 6,
        "available": 4,
    }
    # A second task that 4 available cannot cover is vetoed because of the hold.
    other = uuid4()
    await add_cost(client, keys, owner, tt["id"], 6, other)
    vetoed = await call_hook(client, owner, other)
    assert vetoed.json()["reason"] == f"Insufficient budget: need 6 {tt['code']}, have 4"


async def test_costs_of_other_owners_on_the_same_task_are_ignored(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    tt = await new_token_type(client, keys)
    owner, stranger, task = uuid4(), uuid4(), uuid4()
    await add_cost(client, keys, stranger, tt["id"], 50, task)
    response = await call_hook(client, owner, task)
    assert response.json() == {"decision": "allow"}


async def test_a_cost_whose_hold_backs_a_completion_cannot_be_deleted(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    tt = await new_token_type(client, keys)
    owner, task = uuid4(), uuid4()
    await credit(client, keys, owner, tt["id"], 10)
    cost = await add_cost(client, keys, owner, tt["id"], 6, task)
    path = f"/api/budget/task-costs/{cost['id']}"
    deleted = await client.delete(path, headers=bearer(keys, owner))
    assert deleted.status_code == 204  # not held: removed
    cost = await add_cost(client, keys, owner, tt["id"], 6, task)
    assert (await call_hook(client, owner, task)).json() == {"decision": "allow"}
    refused = await client.delete(
        f"/api/budget/task-costs/{cost['id']}", headers=bearer(keys, owner)
    )
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "cost_held"
    assert (await balance_of(client, keys, owner, tt["id"]))["held"] == 6


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing"),
        pytest.param("garbage", id="malformed"),
        pytest.param("t=1,v1=00", id="stale-and-wrong"),
    ],
)
async def test_bad_signatures_are_401(client: httpx.AsyncClient, signature: str | None) -> None:
    headers = {} if signature is None else {SIGNATURE_HEADER: signature}
    response = await client.post(HOOK_PATH, content=hook_body(uuid4(), uuid4()), headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_wrong_secret_is_401(client: httpx.AsyncClient) -> None:
    response = await call_hook(client, uuid4(), uuid4(), secret="not-the-secret")
    assert response.status_code == 401


async def test_a_stale_timestamp_is_401(client: httpx.AsyncClient) -> None:
    response = await call_hook(client, uuid4(), uuid4(), timestamp=int(time.time()) - 301)
    assert response.status_code == 401


async def test_a_tampered_body_is_401(client: httpx.AsyncClient) -> None:
    owner = uuid4()
    signed = await call_hook(client, owner, uuid4())
    assert signed.status_code == 200
    body = hook_body(owner, uuid4())
    header = sign(body + b" ", "dev-hook-secret", int(time.time()))
    response = await client.post(HOOK_PATH, content=body, headers={SIGNATURE_HEADER: header})
    assert response.status_code == 401


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"task_id": "x"}', b"[]"])
async def test_signed_garbage_is_422(client: httpx.AsyncClient, body: bytes) -> None:
    response = await call_hook(client, uuid4(), uuid4(), body=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_any_configured_secret_verifies(settings: Settings, migrated_database: str) -> None:
    rotated = settings.model_copy(update={"hook_secrets": [SecretStr("old"), SecretStr("new")]})
    app = create_app(rotated)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for secret in ("old", "new"):
                assert (await call_hook(client, uuid4(), uuid4(), secret=secret)).status_code == 200
            assert (await call_hook(client, uuid4(), uuid4(), secret="x")).status_code == 401


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def clocked(
    settings: Settings, migrated_database: str
) -> AsyncIterator[tuple[httpx.AsyncClient, FakeClock]]:
    clock = FakeClock()
    app = create_app(container=bootstrap(settings, clock=clock))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client, clock


async def test_an_expired_hold_no_longer_counts(
    clocked: tuple[httpx.AsyncClient, FakeClock], keys: KeyPair, settings: Settings
) -> None:
    client, clock = clocked
    tt = await new_token_type(client, keys)
    owner, task, other = uuid4(), uuid4(), uuid4()
    await credit(client, keys, owner, tt["id"], 10)
    await add_cost(client, keys, owner, tt["id"], 8, task)
    await add_cost(client, keys, owner, tt["id"], 8, other)
    assert (await call_hook(client, owner, task)).json() == {"decision": "allow"}
    assert (await balance_of(client, keys, owner, tt["id"]))["available"] == 2
    clock.now += settings.hold_ttl + timedelta(seconds=1)
    # No sweeper ran: the hold simply stopped counting.
    assert await balance_of(client, keys, owner, tt["id"]) == {
        "token_type_id": tt["id"],
        "balance": 10,
        "held": 0,
        "available": 10,
    }
    assert (await call_hook(client, owner, other)).json() == {"decision": "allow"}
    assert (await balance_of(client, keys, owner, tt["id"]))["held"] == 8


@pytest.fixture
async def patient_client(
    settings: Settings, migrated_database: str
) -> AsyncIterator[httpx.AsyncClient]:
    """No bound on lock waits: the rule's exactness, however long a loaded machine takes.

    The bound (`db_lock_timeout`) has its own tests in integration/test_database_outage.py.
    """
    app = create_app(settings.model_copy(update={"db_lock_timeout": 0.0}))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://budget.test") as c:
            yield c


async def test_fifty_concurrent_calls_allow_exactly_what_the_account_affords(
    patient_client: httpx.AsyncClient, keys: KeyPair
) -> None:
    client = patient_client
    tt = await new_token_type(client, keys)
    owner = uuid4()
    await credit(client, keys, owner, tt["id"], 50)
    tasks = [uuid4() for _ in range(50)]
    for task in tasks:
        await add_cost(client, keys, owner, tt["id"], 10, task)
    answers = await asyncio.gather(*(call_hook(client, owner, task) for task in tasks))
    decisions = [a.json()["decision"] for a in answers]
    assert decisions.count("allow") == 5
    assert decisions.count("veto") == 45
    assert (await balance_of(client, keys, owner, tt["id"]))["held"] == 50


async def test_hook_decisions_and_active_holds_are_metrics(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    tt = await new_token_type(client, keys)
    owner, task = uuid4(), uuid4()
    await credit(client, keys, owner, tt["id"], 10)
    await add_cost(client, keys, owner, tt["id"], 6, task)
    await call_hook(client, owner, task)
    text = (await client.get("/metrics")).text
    assert 'budget_hook_decisions_total{decision="allow"}' in text
    assert "budget_hook_duration_seconds_count" in text
    holds = next(line for line in text.splitlines() if line.startswith("budget_holds_active "))
    assert float(holds.split()[1]) >= 1
