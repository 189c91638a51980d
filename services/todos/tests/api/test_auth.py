"""Every route that needs a caller goes through `CurrentCaller`; these pin its refusals."""

from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import jwt
import pytest
from fastapi import FastAPI

from contracts.identity import Caller
from tests.conftest import KeyPair
from todos.entrypoints.deps import CurrentCaller


@pytest.fixture
async def whoami(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    @app.get("/test/whoami")
    async def _whoami(caller: CurrentCaller) -> dict[str, object]:
        return {"owner_id": str(caller.owner_id), "admin": caller.is_admin}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_valid_token_reaches_the_route(whoami: httpx.AsyncClient, keys: KeyPair) -> None:
    owner = uuid4()
    response = await whoami.get("/test/whoami", headers=_bearer(keys.token(owner)))
    assert response.status_code == 200
    assert response.json() == {"owner_id": str(owner), "admin": False}


async def test_roles_are_read(whoami: httpx.AsyncClient, keys: KeyPair) -> None:
    token = keys.token(roles=["budget:admin"])
    response = await whoami.get("/test/whoami", headers=_bearer(token))
    assert response.json()["admin"] is True


def _alg_none_token() -> str:
    return jwt.encode(
        {"sub": str(uuid4()), "aud": "todos-budget", "exp": 9999999999}, None, algorithm="none"
    )


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda k, o: {}, id="no-token"),
        pytest.param(lambda k, o: {"Authorization": "Basic dXNlcjpwdw=="}, id="not-bearer"),
        pytest.param(lambda k, o: _bearer("not.a.jwt"), id="garbage"),
        pytest.param(lambda k, o: _bearer(o.token()), id="other-key"),
        pytest.param(lambda k, o: _bearer(_alg_none_token()), id="alg-none"),
        pytest.param(lambda k, o: _bearer(k.token(expires_in=-60)), id="expired"),
        pytest.param(lambda k, o: _bearer(k.token(aud="someone-else")), id="wrong-aud"),
        pytest.param(lambda k, o: _bearer(k.token(sub="not-a-uuid")), id="sub-not-uuid"),
        pytest.param(lambda k, o: _bearer(k.token(roles="budget:admin")), id="roles-not-a-list"),
        pytest.param(lambda k, o: _bearer(k.token(exp="soon")), id="exp-not-a-number"),
    ],
)
async def test_bad_credentials_get_401_problem(
    whoami: httpx.AsyncClient,
    keys: KeyPair,
    other_keys: KeyPair,
    headers,  # type: ignore[no-untyped-def]
) -> None:
    response = await whoami.get("/test/whoami", headers=headers(keys, other_keys))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["code"] == "unauthorized"
    assert body["status"] == 401


def test_caller_is_admin_only_with_the_admin_role() -> None:
    assert not Caller(owner_id=uuid4(), roles=frozenset({"other"})).is_admin  # type: ignore[arg-type]
