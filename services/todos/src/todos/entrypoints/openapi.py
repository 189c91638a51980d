"""The OpenAPI document states every answer, errors included, as problem+json (SPEC section 9).

Routes declare the problems their use case can answer with `responses=problems(...)`; the
answers the framework gives by itself (400 unreadable body, 422 invalid request) are rewritten
here once, so the document and the handlers in problems.py never disagree.
"""

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


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` document the framework's own 400/422 answers as problems."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _as_problems(generate())
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
