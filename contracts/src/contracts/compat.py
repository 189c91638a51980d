"""Is a new JSON Schema a compatible successor of a published one?

Published types may only grow: adding an optional field is fine, because consumers ignore
fields they do not know. Removing or retyping a field, making a field required, or narrowing
an enum breaks somebody and needs a new `.vN` type instead. This reads the subset of JSON
Schema that pydantic emits (objects, `$ref`/`$defs`, `anyOf`, `enum`/`const`, `format`).
"""

from typing import Any

Schema = dict[str, Any]


def incompatibilities(old: Schema, new: Schema) -> list[str]:
    """What in `new` breaks readers or writers of `old`; empty when compatible."""
    return _compare(old, new, old, new, "$")


def _compare(old: Schema, new: Schema, old_root: Schema, new_root: Schema, where: str) -> list[str]:
    old = _resolve(old, old_root)
    new = _resolve(new, new_root)
    old_types, new_types = _types(old, old_root), _types(new, new_root)
    if old_types != new_types:
        return [f"{where}: type changed from {_show(old_types)} to {_show(new_types)}"]
    problems: list[str] = []
    if "format" in old and old.get("format") != new.get("format"):
        problems.append(f"{where}: format changed from {old['format']} to {new.get('format')}")
    old_values, new_values = _values(old), _values(new)
    if new_values is not None and (old_values is None or old_values - new_values):
        lost = "any value" if old_values is None else sorted(map(str, old_values - new_values))
        problems.append(f"{where}: allowed values narrowed (lost {lost})")
    old_props: Schema = old.get("properties", {})
    new_props: Schema = new.get("properties", {})
    for name in sorted(old_props.keys() - new_props.keys()):
        problems.append(f"{where}.{name}: field removed")
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        problems.append(f"{where}.{name}: field is now required")
    for name in sorted(old_props.keys() & new_props.keys()):
        problems += _compare(
            old_props[name], new_props[name], old_root, new_root, f"{where}.{name}"
        )
    old_branches, new_branches = _branches(old, old_root), _branches(new, new_root)
    for title in sorted(old_branches.keys() - new_branches.keys()):
        problems.append(f"{where}: variant {title} removed")
    for title in sorted(old_branches.keys() & new_branches.keys()):
        problems += _compare(
            old_branches[title], new_branches[title], old_root, new_root, f"{where}<{title}>"
        )
    if "items" in old and "items" in new:
        problems += _compare(old["items"], new["items"], old_root, new_root, f"{where}[]")
    return problems


def _resolve(schema: Schema, root: Schema) -> Schema:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = {**root.get("$defs", {})[name], **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _types(schema: Schema, root: Schema) -> frozenset[str]:
    """The JSON types a schema admits (a union admits the types of all its branches)."""
    schema = _resolve(schema, root)
    branches: list[Schema] | None = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        return frozenset(t for branch in branches for t in _types(branch, root))
    if "const" in schema and "type" not in schema:
        return frozenset({type(schema["const"]).__name__})
    kind = schema.get("type")
    if isinstance(kind, list):
        return frozenset(kind)
    return frozenset({kind}) if kind else frozenset({"any"})


def _branches(schema: Schema, root: Schema) -> dict[str, Schema]:
    """The object variants of a union, by title (`null` and other scalar branches are skipped)."""
    branches: list[Schema] = schema.get("anyOf") or schema.get("oneOf") or []
    resolved = (_resolve(branch, root) for branch in branches)
    return {b.get("title", "?"): b for b in resolved if b.get("type") == "object"}


def _values(schema: Schema) -> set[Any] | None:
    if "enum" in schema:
        return set(schema["enum"])
    if "const" in schema:
        return {schema["const"]}
    return None


def _show(types: frozenset[str]) -> str:
    return "|".join(sorted(types))
