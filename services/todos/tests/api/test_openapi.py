"""The OpenAPI document states the problem answers the app really gives.

See docs/architecture.md#errors.
"""

from uuid import uuid4

import httpx
from fastapi import FastAPI

from tests.conftest import KeyPair

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
    assert {"404", "409", "422"} <= paths["/api/todos/tasks/{task_id}/complete"]["post"][
        "responses"
    ].keys()
    assert {"400", "422"} <= paths["/api/todos/tasks"]["post"]["responses"].keys()


def test_the_bearer_scheme_ids_and_examples_are_documented(app: FastAPI) -> None:
    document = app.openapi()
    assert document["components"]["securitySchemes"]["bearerAuth"]["bearerFormat"] == "JWT"
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert sorted(ids) == sorted(
        ["create_task", "list_tasks", "get_task", "edit_task", "delete_task", "complete_task"]
    )
    create = document["paths"]["/api/todos/tasks"]["post"]
    assert create["security"] == [{"bearerAuth": []}]
    assert create["requestBody"]["content"]["application/json"]["example"]["title"]
    assert "413" in create["responses"]


async def test_a_405_lists_every_method_of_the_path(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    headers = {"Authorization": f"Bearer {keys.token(uuid4())}"}
    response = await client.put(f"/api/todos/tasks/{uuid4()}", headers=headers)
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert set(response.headers["allow"].split(", ")) == {"GET", "PATCH", "DELETE"}
