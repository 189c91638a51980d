"""The committed OpenAPI documents (services/<svc>/openapi.json): write, check, and gate changes.

    python deploy/validate/openapi_check.py check   # exit 1 when a document differs from the code's
    python deploy/validate/openapi_check.py write   # regenerate; refuses a breaking change
    python deploy/validate/openapi_check.py write --accept-breaking

A change is breaking when a client written against the committed document could fail against
the new one: an operation or a success status removed; a parameter or request field newly
required, or a request field removed (unknown fields are refused); a field of a success
response removed or no longer required; an enum value removed; an operation newly secured.
Each service's app is built in its own process (as it is deployed: alone).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("todos", "budget")
Doc = dict[str, Any]


def committed_path(service: str) -> Path:
    return ROOT / "services" / service / "openapi.json"


def generate(service: str) -> Doc:
    """The document the service's code serves at /openapi.json."""
    code = (
        "import json, sys\n"
        f"from {service}.config import Settings\n"
        f"from {service}.entrypoints.app import create_app\n"
        "json.dump(create_app(Settings()).openapi(), sys.stdout)\n"
    )
    # The document does not depend on the environment; development needs no secrets.
    env = {**os.environ, f"{service.upper()}_ENVIRONMENT": "development"}
    out = subprocess.run(  # noqa: S603 - our own fixed command
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT, env=env
    )
    document: Doc = json.loads(out.stdout)
    return document


def render(document: Doc) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _resolve(schema: Any, doc: Doc) -> Doc:
    while isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = doc.get("components", {}).get("schemas", {}).get(name, {})
    return schema if isinstance(schema, dict) else {}


def _body_schema(operation: Doc, doc: Doc) -> Doc:
    content = operation.get("requestBody", {}).get("content", {})
    return _resolve(content.get("application/json", {}).get("schema", {}), doc)


def _response_schema(response: Doc, doc: Doc) -> Doc:
    content = response.get("content", {})
    return _resolve(content.get("application/json", {}).get("schema", {}), doc)


def _enum_losses(old: Doc, new: Doc, where: str) -> list[str]:
    lost = set(map(str, old.get("enum", []))) - set(map(str, new.get("enum", [])))
    return [f"{where}: enum values removed {sorted(lost)}"] if new.get("enum") and lost else []


def breaking_changes(old: Doc, new: Doc) -> list[str]:
    """What a client of `old` would trip over in `new` (empty: compatible)."""
    found: list[str] = []
    for path, old_item in old.get("paths", {}).items():
        for method, old_op in old_item.items():
            op = f"{method.upper()} {path}"
            new_op = new.get("paths", {}).get(path, {}).get(method)
            if new_op is None:
                found.append(f"{op}: operation removed")
                continue
            found += _parameters(op, old_op, new_op)
            found += _request(op, old_op, new_op, old, new)
            found += _responses(op, old_op, new_op, old, new)
            if new_op.get("security") and not old_op.get("security"):
                found.append(f"{op}: now requires authentication")
    return found


def _parameters(op: str, old_op: Doc, new_op: Doc) -> list[str]:
    old_params = {(p["in"], p["name"]): p for p in old_op.get("parameters", [])}
    found = []
    for p in new_op.get("parameters", []):
        before = old_params.get((p["in"], p["name"]))
        if p.get("required") and not (before and before.get("required")):
            found.append(f"{op}: {p['in']} parameter {p['name']!r} is now required")
    return found


def _request(op: str, old_op: Doc, new_op: Doc, old: Doc, new: Doc) -> list[str]:
    found = []
    if new_op.get("requestBody", {}).get("required") and not old_op.get("requestBody"):
        found.append(f"{op}: a request body is now required")
    before, after = _body_schema(old_op, old), _body_schema(new_op, new)
    for field in set(after.get("required", [])) - set(before.get("required", [])):
        found.append(f"{op}: request field {field!r} is now required")
    for field in set(before.get("properties", {})) - set(after.get("properties", {})):
        found.append(f"{op}: request field {field!r} removed")
    for field, schema in after.get("properties", {}).items():
        if field in before.get("properties", {}):
            found += _enum_losses(before["properties"][field], schema, f"{op}: request {field!r}")
    return found


def _responses(op: str, old_op: Doc, new_op: Doc, old: Doc, new: Doc) -> list[str]:
    found = []
    for status, old_response in old_op.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        new_response = new_op.get("responses", {}).get(status)
        if new_response is None:
            found.append(f"{op}: success status {status} removed")
            continue
        before, after = _response_schema(old_response, old), _response_schema(new_response, new)
        for field in set(before.get("properties", {})) - set(after.get("properties", {})):
            found.append(f"{op}: {status} response field {field!r} removed")
        for field in set(before.get("required", [])) - set(after.get("required", [])):
            if field in after.get("properties", {}):
                found.append(f"{op}: {status} response field {field!r} no longer always present")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("check", "write"))
    parser.add_argument("--accept-breaking", action="store_true")
    args = parser.parse_args(argv)
    failed = False
    for service in SERVICES:
        path = committed_path(service)
        document = generate(service)
        committed = json.loads(path.read_text()) if path.exists() else {"paths": {}}
        breaking = breaking_changes(committed, document)
        if render(document) == (path.read_text() if path.exists() else ""):
            continue
        for change in breaking:
            print(f"{service}: BREAKING {change}")
        if args.command == "check":
            print(f"{service}: {path.relative_to(ROOT)} differs from the code: run `make openapi`")
            failed = True
        elif breaking and not args.accept_breaking:
            print(
                f"{service}: not written (breaking; add a new path version, or --accept-breaking)"
            )
            failed = True
        else:
            path.write_text(render(document))
            print(f"{service}: wrote {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
