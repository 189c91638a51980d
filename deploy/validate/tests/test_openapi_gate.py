"""The committed OpenAPI documents match the code, and the gate tells breaking changes apart."""

import copy
import json
from typing import Any

import openapi_check
import pytest


@pytest.mark.parametrize("service", openapi_check.SERVICES)
def test_the_committed_document_is_what_the_code_serves(service: str) -> None:
    committed = openapi_check.committed_path(service).read_text()
    assert committed == openapi_check.render(openapi_check.generate(service)), (
        f"services/{service}/openapi.json is stale: run `make openapi` and commit it"
    )


def _todos() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(openapi_check.committed_path("todos").read_text())
    return document


def test_the_committed_documents_are_compatible_with_themselves() -> None:
    assert openapi_check.breaking_changes(_todos(), _todos()) == []


def test_an_added_optional_request_field_and_a_new_operation_are_compatible() -> None:
    new = _todos()
    new["components"]["schemas"]["TaskCreate"]["properties"]["due"] = {"type": "string"}
    new["paths"]["/api/todos/tasks/{task_id}/reopen"] = {"post": {"responses": {}}}
    assert openapi_check.breaking_changes(_todos(), new) == []


def test_removals_and_new_requirements_are_breaking() -> None:
    old, new = _todos(), _todos()
    del new["paths"]["/api/todos/tasks/{task_id}"]["delete"]
    create = new["components"]["schemas"]["TaskCreate"]
    create["properties"]["due"] = {"type": "string"}
    create["required"] = [*create["required"], "due"]
    del new["components"]["schemas"]["TaskOut"]["properties"]["completed_at"]
    del new["paths"]["/api/todos/tasks"]["get"]["responses"]["200"]
    found = openapi_check.breaking_changes(old, new)
    assert "DELETE /api/todos/tasks/{task_id}: operation removed" in found
    assert "POST /api/todos/tasks: request field 'due' is now required" in found
    assert "GET /api/todos/tasks/{task_id}: 200 response field 'completed_at' removed" in found
    assert "GET /api/todos/tasks: success status 200 removed" in found


def test_a_newly_required_parameter_is_breaking() -> None:
    new = _todos()
    operation = new["paths"]["/api/todos/tasks"]["get"]
    limit = next(p for p in operation["parameters"] if p["name"] == "limit")
    limit["required"] = True
    assert openapi_check.breaking_changes(_todos(), copy.deepcopy(new)) == [
        "GET /api/todos/tasks: query parameter 'limit' is now required"
    ]
