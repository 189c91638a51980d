"""Export the JSON Schemas of every published model to `contracts/schemas/` (committed).

`contracts-schemas` writes them; `contracts-schemas --check` fails when a committed file is
stale. Either way, a change that breaks a published type (see `compat`) is refused.
"""

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from contracts.compat import incompatibilities
from contracts.envelope import CloudEvent
from contracts.events import EVENT_TYPES
from contracts.hooks import BEFORE_COMPLETE_TASK, HOOK_DECISION, BeforeCompleteTask
from contracts.problems import Problem

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def exported_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema of every published model."""
    schemas: dict[str, dict[str, Any]] = {
        f"{event_type}.json": model.model_json_schema() for event_type, model in EVENT_TYPES.items()
    }
    schemas[f"{BEFORE_COMPLETE_TASK}.request.json"] = BeforeCompleteTask.model_json_schema()
    schemas[f"{BEFORE_COMPLETE_TASK}.response.json"] = _adapter_schema(
        HOOK_DECISION, "HookDecision"
    )
    schemas["cloudevent.json"] = CloudEvent.model_json_schema()
    schemas["problem.json"] = Problem.model_json_schema()
    return schemas


def render(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def check(schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Every problem with the committed schemas: stale, missing, or incompatible changes."""
    problems: list[str] = []
    for name, schema in exported_schemas().items():
        path = schema_dir / name
        if not path.exists():
            problems.append(f"{name}: not committed (run `make schemas`)")
            continue
        committed = json.loads(path.read_text())
        problems += [f"{name}: {p}" for p in incompatibilities(committed, schema)]
        if path.read_text() != render(schema):
            problems.append(f"{name}: committed schema is stale (run `make schemas`)")
    return problems


def write(schema_dir: Path = SCHEMA_DIR, *, accept_breaking: bool = False) -> list[str]:
    """Write every schema; refuse (and write nothing) if one would break its committed version,
    unless `accept_breaking` (a change rolled out producer first, said so in its commit)."""
    breaking: list[str] = []
    for name, schema in exported_schemas().items():
        path = schema_dir / name
        if path.exists():
            old = json.loads(path.read_text())
            breaking += [f"{name}: {p}" for p in incompatibilities(old, schema)]
    if breaking and not accept_breaking:
        return breaking
    for problem in breaking:
        print(f"BREAKING (accepted) {problem}", file=sys.stderr)
    schema_dir.mkdir(parents=True, exist_ok=True)
    for name, schema in exported_schemas().items():
        (schema_dir / name).write_text(render(schema))
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    parser.add_argument(
        "--accept-breaking", action="store_true", help="write even an incompatible change"
    )
    args = parser.parse_args(argv)
    problems = check() if args.check else write(accept_breaking=args.accept_breaking)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems and not args.check:
        print("A published type changed incompatibly: add a new .vN type instead.", file=sys.stderr)
    return 1 if problems else 0


def _adapter_schema(adapter: TypeAdapter[Any], title: str) -> dict[str, Any]:
    return {"title": title, **adapter.json_schema()}


if __name__ == "__main__":
    raise SystemExit(main())
