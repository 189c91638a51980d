"""The OpenAPI document states every answer, errors included, as problem+json.

The problem format: docs/architecture.md#errors.

Routes declare the problems their use case can answer with `responses=problems(...)`; the
answers the framework gives by itself (400 unreadable body, 422 invalid request) are rewritten
here once, so the document and the handlers in problems.py never disagree. Here too: the bearer
scheme (the Authorize button of /docs), the gateway's 413 on bodies, operation ids (the route
function's name, stable across path changes) and request examples. The committed copy is
`services/budget/openapi.json` (`make openapi`; `deploy/validate/openapi_check.py` gates changes).
"""

import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI

from contracts.hooks import BeforeCompleteTask
from contracts.problems import PROBLEM_CONTENT_TYPE, Problem

_REF_TEMPLATE = "#/components/schemas/{model}"
_FRAMEWORK_SCHEMAS = ("HTTPValidationError", "ValidationError")
_DESCRIPTIONS = {
    400: "The body could not be read as JSON.",
    401: "Missing, expired or badly signed bearer token (hook: signature rejected).",
    403: "The caller lacks the budget:admin role.",
    404: "No such resource for this caller.",
    413: "The body is over 1 MiB (answered by the gateway).",
    422: "The path, query, headers or body are not valid.",
    503: "The database is unavailable; retry later.",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for answers that are problem documents, e.g. `problems(404, 409)`."""
    return {status: _problem(status) for status in statuses}


def _problem(status: int) -> dict[str, Any]:
    schema = {"$ref": _REF_TEMPLATE.format(model=Problem.__name__)}
    return {
        "description": _DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
        "content": {PROBLEM_CONTENT_TYPE: {"schema": schema}},
    }


BEARER = "bearerAuth"
HOOK_SIGNATURE = "hookSignature"
SECURITY_SCHEMES = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "RS256 JWT with `sub` (owner UUID) and `aud` todos-budget; "
        "locally: `make token OWNER=<uuid> ADMIN=1`.",
    },
    HOOK_SIGNATURE: {
        "type": "apiKey",
        "in": "header",
        "name": "X-Hook-Signature",
        "description": '`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` with a '
        "shared hook secret; only todos-service calls it, never the gateway.",
    },
}
# Request bodies as a person would send them (schemathesis sends them too).
_OWNER, _TOKEN_TYPE = "8b0f3c52-5d0a-4f0e-9a57-1f6c2f1d6a10", "0d9e4b8e-3c1a-4f57-8f62-2b7c9c8a1e44"
EXAMPLES: dict[str, Any] = {
    "create_token_type": {"code": "focus-points", "name": "Focus points"},
    "credit": {
        "owner_id": _OWNER,
        "token_type_id": _TOKEN_TYPE,
        "amount": 10,
        "reason": "weekly allowance",
    },
    "add_cost": {
        "task_id": "5b6d7e2a-9f41-4c3b-8d2e-6a1f0c9b7e55",
        "token_type_id": _TOKEN_TYPE,
        "amount": 3,
    },
    "before_complete": {
        "hook": "todos.before_complete_task",
        "invocation_id": "3f2a1b0c-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        "task_id": "5b6d7e2a-9f41-4c3b-8d2e-6a1f0c9b7e55",
        "owner_id": _OWNER,
        "occurred_at": "2026-11-27T12:00:00Z",
        "deadline": "2026-11-27T12:00:01Z",
    },
}


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` document problems, security, operation ids and examples."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            _as_problems(document)
            _name_operations(document)
            _secure_and_exemplify(document)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _as_problems(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FRAMEWORK_SCHEMAS:
        schemas.pop(name, None)
    schemas[Problem.__name__] = Problem.model_json_schema(ref_template=_REF_TEMPLATE)
    # The hook reads its raw body (the signature covers the bytes): its model is added here.
    schemas[BeforeCompleteTask.__name__] = BeforeCompleteTask.model_json_schema(
        ref_template=_REF_TEMPLATE
    )
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:  # FastAPI's HTTPValidationError entry, or ours again
                responses["422"] = _problem(422)
            if "requestBody" in operation:
                responses.setdefault("400", _problem(400))


def _name_operations(document: dict[str, Any]) -> None:
    """operationId = the route function's name (`complete_task`), not a path-derived string.

    FastAPI's default id is `<name><path with non-word characters as _>_<method>`.
    """
    for path, path_item in document.get("paths", {}).items():
        for method, operation in path_item.items():
            suffix = re.sub(r"\W", "_", path) + "_" + method
            default = operation.get("operationId", "")
            if default.endswith(suffix):
                operation["operationId"] = default[: -len(suffix)]


def _secure_and_exemplify(document: dict[str, Any]) -> None:
    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for path, path_item in document.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation["responses"]
            if "401" in responses:
                public = path.startswith("/api/")
                operation["security"] = [{BEARER if public else HOOK_SIGNATURE: []}]
            if "requestBody" in operation:
                if path.startswith("/api/"):
                    responses.setdefault("413", _problem(413))
                example = EXAMPLES.get(operation["operationId"])
                if example is not None:
                    operation["requestBody"]["content"]["application/json"]["example"] = example
