"""The OpenAPI document states the problem answers the app really gives.

See docs/architecture.md#errors.
"""

from uuid import uuid4

import httpx
from fastapi import FastAPI

from tests.conftest import KeyPair
from tests.support import balance_of, bearer, new_token_type

PROBLEM = "application/problem+json"


def test_every_error_answer_is_documented_as_a_problem(app: FastAPI) -> None:
    document = app.openapi()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            errors = {k: v for k, v in operation["responses"].items() if k[0] in "45"}
            assert {"401", "503"} <= errors.keys(), (method, path)
            for status, response in errors.items():
                assert list(response["content"]) == [PROBLEM], (method, path, status)
                schema = response["content"][PROBLEM]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}


def test_route_problems_are_documented(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    answers = {
        ("post", "/api/budget/token-types"): {"400", "401", "403", "409", "413", "422", "503"},
        ("post", "/api/budget/credits"): {"400", "401", "403", "404", "413", "422", "503"},
        ("post", "/api/budget/task-costs"): {"400", "401", "404", "409", "413", "422", "503"},
        ("delete", "/api/budget/task-costs/{cost_id}"): {"401", "404", "409", "422", "503"},
        ("get", "/api/budget/balances"): {"401", "503"},
    }
    for (method, path), statuses in answers.items():
        documented = {s for s in paths[path][method]["responses"] if s[0] in "45"}
        assert documented == statuses, (method, path)


def test_the_hook_is_documented_with_its_signature_scheme(app: FastAPI) -> None:
    document = app.openapi()
    hook = document["paths"]["/hooks/todos.before_complete_task"]["post"]
    assert hook["operationId"] == "before_complete"
    assert hook["tags"] == ["hooks"]
    assert hook["security"] == [{"hookSignature": []}]
    assert document["components"]["securitySchemes"]["hookSignature"]["name"] == "X-Hook-Signature"
    body = hook["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/BeforeCompleteTask"}
    assert body["example"]["hook"] == "todos.before_complete_task"
    assert {"401", "422", "503"} <= hook["responses"].keys()


def test_public_routes_use_the_bearer_scheme_with_stable_ids(app: FastAPI) -> None:
    document = app.openapi()
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    credit = document["paths"]["/api/budget/credits"]["post"]
    assert credit["operationId"] == "credit"
    assert credit["security"] == [{"bearerAuth": []}]
    assert credit["requestBody"]["content"]["application/json"]["example"]["amount"] == 10


def test_amounts_are_documented_as_json_schema(app: FastAPI) -> None:
    amount = app.openapi()["components"]["schemas"]["CreditIn"]["properties"]["amount"]
    assert amount["type"] == "integer"
    assert amount["exclusiveMinimum"] == 0


async def test_an_integral_json_number_is_an_amount(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    """JSON Schema's `integer` includes 5.0, so the API takes it (and still refuses 1.5)."""
    tt, owner = await new_token_type(client, keys), uuid4()
    body = {"owner_id": str(owner), "token_type_id": tt["id"], "amount": 5.0}
    response = await client.post("/api/budget/credits", json=body, headers=bearer(keys, admin=True))
    assert response.status_code == 201, response.text
    assert (await balance_of(client, keys, owner, tt["id"]))["balance"] == 5


async def test_a_405_lists_every_method_of_the_path(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    response = await client.put("/api/budget/task-costs", headers=bearer(keys))
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert set(response.headers["allow"].split(", ")) == {"GET", "POST"}
