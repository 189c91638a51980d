"""Token types, credits (admin, idempotent), balances and the ledger (docs/architecture.md)."""

from datetime import UTC, datetime
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI

from budget.domain.model import MAX_AMOUNT, MAX_BALANCE
from budget.service_layer.ports import SaveResult
from tests.conftest import KeyPair
from tests.support import balance_of, bearer, credit, new_token_type

PROBLEM = "application/problem+json"


async def test_admin_creates_a_token_type_and_anyone_lists_it(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    created = await new_token_type(client, keys)
    assert set(created) == {"id", "code", "name"}
    response = await client.get("/api/budget/token-types", headers=bearer(keys))
    assert response.status_code == 200
    assert created in response.json()


async def test_duplicate_token_type_code_is_409(client: httpx.AsyncClient, keys: KeyPair) -> None:
    created = await new_token_type(client, keys)
    response = await client.post(
        "/api/budget/token-types",
        json={"code": created["code"], "name": "again"},
        headers=bearer(keys, admin=True),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_code"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/budget/token-types", {"code": "nope", "name": "n"}),
        (
            "POST",
            "/api/budget/credits",
            {"owner_id": str(uuid4()), "token_type_id": str(uuid4()), "amount": 5},
        ),
    ],
)
async def test_non_admins_get_403(
    client: httpx.AsyncClient, keys: KeyPair, method: str, path: str, body: dict[str, object]
) -> None:
    response = await client.request(method, path, json=body, headers=bearer(keys))
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "forbidden"


@pytest.mark.parametrize(
    "body",
    [
        {"code": "Not A Slug", "name": "x"},
        {"code": "", "name": "x"},
        {"code": "ok", "name": ""},
        {"code": "ok"},
        [],
    ],
)
async def test_bad_token_type_bodies_are_422(
    client: httpx.AsyncClient, keys: KeyPair, body: object
) -> None:
    response = await client.post(
        "/api/budget/token-types", json=body, headers=bearer(keys, admin=True)
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_credit_writes_an_entry_and_moves_the_balance(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    tt = await new_token_type(client, keys)
    owner = uuid4()
    entry = (await credit(client, keys, owner, tt["id"], 70)).json()
    assert entry["kind"] == "credit"
    assert entry["amount"] == 70
    assert entry["owner_id"] == str(owner)
    assert set(entry) == {
        "id", "owner_id", "token_type_id", "amount", "kind", "reference_id", "reason", "created_at",
    }  # fmt: skip
    await credit(client, keys, owner, tt["id"], 30)
    assert await balance_of(client, keys, owner, tt["id"]) == {
        "token_type_id": tt["id"],
        "balance": 100,
        "held": 0,
        "available": 100,
    }


async def test_credit_to_an_unknown_token_type_is_404(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    response = await client.post(
        "/api/budget/credits",
        json={"owner_id": str(uuid4()), "token_type_id": str(uuid4()), "amount": 5},
        headers=bearer(keys, admin=True),
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("amount", [0, -5, MAX_AMOUNT + 1, 1.5, "10", True, None, 10**30], ids=repr)
async def test_bad_amounts_are_422(
    client: httpx.AsyncClient, keys: KeyPair, amount: object
) -> None:
    response = await client.post(
        "/api/budget/credits",
        json={"owner_id": str(uuid4()), "token_type_id": str(uuid4()), "amount": amount},
        headers=bearer(keys, admin=True),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_a_credit_past_the_balance_limit_is_422_not_an_overflow(
    client: httpx.AsyncClient, keys: KeyPair, app: FastAPI
) -> None:
    tt = await new_token_type(client, keys)
    owner = uuid4()
    # One entry of the whole limit, saved on the account (keeps balance == sum of entries).
    async with app.state.container.repos.accounts.open() as accounts:
        view = await accounts.load_for_credit(owner, UUID(tt["id"]), uuid4(), None)
        assert view.account is not None
        view.account.credit(MAX_BALANCE, None, datetime.now(UTC))
        assert await accounts.save(view.account) is SaveResult.SAVED
    response = await client.post(
        "/api/budget/credits",
        json={"owner_id": str(owner), "token_type_id": tt["id"], "amount": MAX_AMOUNT},
        headers=bearer(keys, admin=True),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "balance_limit"
    assert (await balance_of(client, keys, owner, tt["id"]))["balance"] == MAX_BALANCE


async def test_idempotency_key_gives_one_entry(client: httpx.AsyncClient, keys: KeyPair) -> None:
    tt = await new_token_type(client, keys)
    owner, admin = uuid4(), bearer(keys, uuid4(), admin=True)
    body = {"owner_id": str(owner), "token_type_id": tt["id"], "amount": 40, "reason": "gift"}
    headers = {**admin, "Idempotency-Key": "k-1"}
    first = await client.post("/api/budget/credits", json=body, headers=headers)
    again = await client.post("/api/budget/credits", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert (await balance_of(client, keys, owner, tt["id"]))["balance"] == 40
    ledger = await client.get("/api/budget/ledger", headers=bearer(keys, owner))
    assert len(ledger.json()["items"]) == 1


async def test_a_reused_key_with_another_body_is_refused(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    tt = await new_token_type(client, keys)
    owner, admin = uuid4(), bearer(keys, uuid4(), admin=True)
    headers = {**admin, "Idempotency-Key": "k-2"}
    body = {"owner_id": str(owner), "token_type_id": tt["id"], "amount": 40}
    assert (await client.post("/api/budget/credits", json=body, headers=headers)).is_success
    other = await client.post("/api/budget/credits", json={**body, "amount": 41}, headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert (await balance_of(client, keys, owner, tt["id"]))["balance"] == 40


async def test_ledger_is_owner_scoped_newest_first_and_paginates(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    tt = await new_token_type(client, keys)
    owner, stranger = uuid4(), uuid4()
    for amount in range(1, 6):
        await credit(client, keys, owner, tt["id"], amount)
    await credit(client, keys, stranger, tt["id"], 99)
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2, "token_type_id": tt["id"]}
        if cursor:
            params["cursor"] = cursor
        page = await client.get("/api/budget/ledger", params=params, headers=bearer(keys, owner))
        assert page.status_code == 200
        seen += [e["amount"] for e in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [5, 4, 3, 2, 1]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"cursor": "garbage!"}])
async def test_bad_ledger_queries_are_422(
    client: httpx.AsyncClient, keys: KeyPair, params: dict[str, object]
) -> None:
    response = await client.get("/api/budget/ledger", params=params, headers=bearer(keys))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_balances_show_only_the_callers_accounts(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    tt = await new_token_type(client, keys)
    await credit(client, keys, uuid4(), tt["id"], 10)
    response = await client.get("/api/budget/balances", headers=bearer(keys, uuid4()))
    assert response.status_code == 200
    assert response.json() == []
