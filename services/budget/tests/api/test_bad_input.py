"""Bad input of any shape is a 4xx problem, never a 5xx (real app and database).

See docs/architecture.md#errors.
"""

import base64
import time
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from contracts.hooks import HOOK_PATH
from contracts.signing import SIGNATURE_HEADER
from tests.conftest import KeyPair
from tests.support import bearer, hook_body, new_token_type

PROBLEM = "application/problem+json"
# Raw JSON text: a JSON parser turns "\ud800" into a lone surrogate, which PostgreSQL cannot store.
BAD_TEXTS = ["a\\u0000b", "\\ud800", "x\\udfffy"]
JSON = {"Content-Type": "application/json"}


def _assert_4xx(response: httpx.Response, status: int = 422) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"]


@pytest.mark.parametrize("text", BAD_TEXTS)
@pytest.mark.parametrize("field", ["name", "code"])
async def test_nul_and_lone_surrogates_in_a_token_type_are_422(
    client: httpx.AsyncClient, keys: KeyPair, field: str, text: str
) -> None:
    fields = {"code": f'"t-{uuid4().hex[:8]}"', "name": '"n"', field: f'"{text}"'}
    raw = "{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}"
    headers = {**bearer(keys, admin=True), **JSON}
    _assert_4xx(await client.post("/api/budget/token-types", content=raw, headers=headers))


@pytest.mark.parametrize("text", BAD_TEXTS)
async def test_nul_and_lone_surrogates_in_a_credit_reason_are_422(
    client: httpx.AsyncClient, keys: KeyPair, text: str
) -> None:
    tt = await new_token_type(client, keys)
    raw = f'{{"owner_id":"{uuid4()}","token_type_id":"{tt["id"]}","amount":1,"reason":"{text}"}}'
    headers = {**bearer(keys, admin=True), **JSON}
    _assert_4xx(await client.post("/api/budget/credits", content=raw, headers=headers))


async def test_a_nul_in_an_idempotency_key_is_422(client: httpx.AsyncClient, keys: KeyPair) -> None:
    tt = await new_token_type(client, keys)
    body = {"owner_id": str(uuid4()), "token_type_id": tt["id"], "amount": 1}
    headers = {**bearer(keys, admin=True), "Idempotency-Key": "a\x00b"}
    _assert_4xx(await client.post("/api/budget/credits", json=body, headers=headers))


async def test_a_lone_surrogate_in_an_unknown_field_name_is_422(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    raw = '{"code":"abc","name":"n","\\ud800":1}'
    headers = {**bearer(keys, admin=True), **JSON}
    _assert_4xx(await client.post("/api/budget/token-types", content=raw, headers=headers))


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw", [b"s:-1", b"s:\xc2\xb2", b"s:9999999999999999999", b"s:1.5", b"x:1", "s:\u0661".encode()]
)
async def test_crafted_ledger_cursors_are_422(
    client: httpx.AsyncClient, keys: KeyPair, raw: bytes
) -> None:
    response = await client.get(
        "/api/budget/ledger", params={"cursor": _cursor(raw)}, headers=bearer(keys)
    )
    _assert_4xx(response)


@pytest.mark.parametrize(
    "v1",
    [
        "\u00e9" * 64,  # non-ASCII: hmac.compare_digest raises TypeError on non-ASCII str
        "zz" * 32,
        "ab",
    ],
)
async def test_a_non_hex_signature_is_401(client: httpx.AsyncClient, v1: str) -> None:
    body = hook_body(uuid4(), uuid4())
    header = f"t={int(time.time())},v1={v1}".encode("latin-1")
    response = await client.post(
        HOOK_PATH, content=body, headers={SIGNATURE_HEADER: header, **JSON}
    )
    _assert_4xx(response, 401)


async def test_a_non_ascii_digit_timestamp_is_401(client: httpx.AsyncClient) -> None:
    body = hook_body(uuid4(), uuid4())
    header = "t=\u00b2,v1=" + "0" * 64
    response = await client.post(
        HOOK_PATH, content=body, headers={SIGNATURE_HEADER: header.encode("latin-1"), **JSON}
    )
    _assert_4xx(response, 401)


def test_every_string_a_request_carries_is_checked(app: FastAPI) -> None:
    """A new free-text field must use STORABLE (schemas.py), else this lists it."""
    assert _strings_without_a_guard(app.openapi()) == []


def _strings_without_a_guard(openapi: dict[str, Any]) -> list[str]:
    """Every string a request may carry that is neither typed (format/enum) nor pattern-checked."""
    components = openapi.get("components", {}).get("schemas", {})
    found: list[str] = []

    def walk(schema: dict[str, Any], where: str) -> None:
        if "$ref" in schema:
            walk(components[schema["$ref"].rsplit("/", 1)[-1]], where)
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for i, option in enumerate(schema.get(key, [])):
                walk(option, f"{where}[{i}]")
        for name, prop in schema.get("properties", {}).items():
            walk(prop, f"{where}.{name}")
        if "items" in schema:
            walk(schema["items"], f"{where}[]")
        guarded = {"format", "enum", "const", "pattern"} & schema.keys()
        if schema.get("type") == "string" and not guarded:
            found.append(where)

    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                walk(param["schema"], f"{method} {path} {param['in']}.{param['name']}")
            for media in operation.get("requestBody", {}).get("content", {}).values():
                walk(media["schema"], f"{method} {path} body")
    return found
