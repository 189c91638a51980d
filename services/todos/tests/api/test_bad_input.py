"""Bad input of any shape is a 4xx problem, never a 5xx (real app and database).

See docs/architecture.md#errors.
"""

import base64
import json
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import KeyPair

PROBLEM = "application/problem+json"
# Raw JSON text: a JSON parser turns "\ud800" into a lone surrogate, which PostgreSQL cannot store.
BAD_TEXTS = ["a\\u0000b", "\\ud800", "x\\udfffy"]


@pytest.fixture
def headers(keys: KeyPair) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.token(uuid4())}", "Content-Type": "application/json"}


def _assert_422(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert problem["detail"]


@pytest.mark.parametrize("text", BAD_TEXTS)
@pytest.mark.parametrize("field", ["title", "description"])
async def test_nul_and_lone_surrogates_in_a_new_task_are_422(
    client: httpx.AsyncClient, headers: dict[str, str], field: str, text: str
) -> None:
    fields = {"title": '"ok"', field: f'"{text}"'}
    raw = "{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}"
    _assert_422(await client.post("/api/todos/tasks", content=raw, headers=headers))


@pytest.mark.parametrize("text", BAD_TEXTS)
@pytest.mark.parametrize("field", ["title", "description"])
async def test_nul_and_lone_surrogates_in_an_edit_are_422(
    client: httpx.AsyncClient, headers: dict[str, str], field: str, text: str
) -> None:
    created = await client.post("/api/todos/tasks", json={"title": "t"}, headers=headers)
    assert created.status_code == 201
    path = f"/api/todos/tasks/{created.json()['id']}"
    _assert_422(await client.patch(path, content=f'{{"{field}":"{text}"}}', headers=headers))


async def test_a_lone_surrogate_in_an_unknown_field_name_is_422(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    raw = '{"title":"t","\\ud800":1}'
    _assert_422(await client.post("/api/todos/tasks", content=raw, headers=headers))


@pytest.mark.parametrize("title", ["   ", "\u3000\u0085", " " * 5 + "a" * 200])
async def test_blank_or_too_long_titles_are_422(
    client: httpx.AsyncClient, headers: dict[str, str], title: str
) -> None:
    """Lengths are checked as sent (the documented maxLength), then the title is stripped."""
    _assert_422(await client.post("/api/todos/tasks", json={"title": title}, headers=headers))


def _cursor(value: object) -> str:
    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "decoded",
    [
        ["2024-01-01T00:00:00+00:00", 5],
        [5, str(uuid4())],
        ["2024-01-01T00:00:00+00:00", None],
        ["0001-01-01T00:00:00+01:00", str(uuid4())],
        ["9999-12-31T23:59:59-01:00", str(uuid4())],
        ["2024-01-01T00:00:00+00:00", ["nested"]],
        {"a": 1, "b": 2},
        ["2024-01-01T00:00:00+00:00", str(uuid4()), "extra"],
    ],
)
async def test_crafted_cursors_are_422(
    client: httpx.AsyncClient, headers: dict[str, str], decoded: object
) -> None:
    response = await client.get(
        "/api/todos/tasks", params={"cursor": _cursor(decoded)}, headers=headers
    )
    _assert_422(response)


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
