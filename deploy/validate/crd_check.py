"""Operator resources (RabbitmqCluster, CloudNativePG Cluster/Database) against the schemas their
projects publish (deploy/validate/crds/), strictly: unknown fields fail, as the API server's
strict field validation would refuse them."""

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema

CRDS = Path(__file__).resolve().parent / "crds"


def schema_file(resource: Mapping[str, Any]) -> Path | None:
    """The committed schema of this resource's group, version and kind, if we keep one."""
    group, _, version = str(resource.get("apiVersion", "")).rpartition("/")
    path = CRDS / f"{group}_{version}_{resource.get('kind')}.json"
    return path if group and path.exists() else None


def _strict(schema: Any) -> Any:
    """Close every object that lists its properties (unless it keeps unknown fields)."""
    if isinstance(schema, dict):
        closed = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in closed
            and "additionalProperties" not in closed
            and not closed.get("x-kubernetes-preserve-unknown-fields")
        ):
            closed["additionalProperties"] = False
        return closed
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.cache
def _validator(path: Path) -> jsonschema.protocols.Validator:
    schema = _strict(json.loads(path.read_text()))
    # metadata is the API server's (ObjectMeta), not the CRD's: its own checks cover it.
    schema["properties"]["metadata"] = {"type": "object"}
    return jsonschema.Draft7Validator(schema)


def errors(resource: Mapping[str, Any]) -> Iterator[str]:
    """What the published schema refuses in `resource` (nothing when we keep no schema)."""
    path = schema_file(resource)
    if path is None:
        return
    for e in sorted(_validator(path).iter_errors(copy.deepcopy(dict(resource))), key=str):
        where = ".".join(str(p) for p in e.absolute_path) or "(root)"
        yield f"{where}: {e.message}"


def pod_labels(resource: Mapping[str, Any]) -> list[dict[str, str]]:
    """The labels of the pods an operator makes for `resource`, as its documentation states
    (so Services and NetworkPolicies that select them are checked like any other)."""
    name = str(resource.get("metadata", {}).get("name", ""))
    spec = resource.get("spec", {})
    if resource.get("kind") == "RabbitmqCluster":
        labels = {
            "app.kubernetes.io/name": name,
            "app.kubernetes.io/component": "rabbitmq",
            "app.kubernetes.io/part-of": "rabbitmq",
        }
        template = spec.get("override", {}).get("statefulSet", {}).get("spec", {})
        labels.update(template.get("template", {}).get("metadata", {}).get("labels", {}))
        return [labels]
    if resource.get("kind") == "Cluster" and schema_file(resource) is not None:
        inherited = spec.get("inheritedMetadata", {}).get("labels", {})
        base = {**inherited, "cnpg.io/cluster": name, "cnpg.io/podRole": "instance"}
        return [{**base, "cnpg.io/instanceRole": role} for role in ("primary", "replica")]
    return []
