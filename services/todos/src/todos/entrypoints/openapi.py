"""The OpenAPI document states every answer, errors included, as problem+json.

The problem format: docs/architecture.md#errors.

Routes declare the problems their use case can answer with `responses=problems(...)`; the
answers the framework gives by itself (400 unreadable body, 422 invalid request) are rewritten
here once, so the document and the handlers in problems.py never disagree. Here too: the bearer
scheme (the Authorize button of /docs), the gateway's 413 on bodies, operation ids (the route
function's name, stable across path changes) and request examples. The committed copy is
`services/todos/openapi.json` (`make openapi`; `deploy/validate/openapi_check.py` gates changes).
"""

import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI

from contracts.problems import PROBLEM_CONTENT_TYPE, Problem

_REF_TEMPLATE = "#/components/schemas/{model}"
_FRAMEWORK_SCHEMAS = ("HTTPValidationError", "ValidationError")
_DESCRIPTIONS = {
    400: "The body could not be read as JSON.",
    401: "Missing, expired or badly signed bearer token.",
    404: "No such resource for this caller.",
    413: "The body is over 1 MiB (answered by the gateway).",
    422: "The path, query, headers or body are not valid.",
    503: "A dependency (database, hook) is unavailable, or too much is in flight; retry later.",
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
SECURITY_SCHEMES = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "RS256 JWT with `sub` (owner UUID) and `aud` todos-budget; "
        "locally: `make token OWNER=<uuid>`.",
    }
}
# Request bodies as a person would send them (schemathesis sends them too).
EXAMPLES: dict[str, Any] = {
    "create_task": {"title": "Water the plants", "description": "The ones on the balcony"},
    "edit_task": {"title": "Water the plants twice"},
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
            if "401" in responses and path.startswith("/api/"):
                operation["security"] = [{BEARER: []}]
            if "requestBody" in operation and path.startswith("/api/"):
                responses.setdefault("413", _problem(413))
                example = EXAMPLES.get(operation["operationId"])
                if example is not None:
                    operation["requestBody"]["content"]["application/json"]["example"] = example
