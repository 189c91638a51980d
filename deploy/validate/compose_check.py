"""Offline checks of docker-compose.yml: interpolation, the compose-spec schema, references."""

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, $VAR, $$.
_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class ComposeError(Exception):
    """The compose file would not load, or would load into something broken."""


def read_env_file(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines the way compose reads an .env file (comments and blanks skipped)."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        env[key.strip()] = value.strip().strip("'\"")
    return env


def interpolate(value: Any, env: Mapping[str, str], errors: list[str]) -> Any:
    """Substitute variables in every string of a parsed compose document, as compose does."""
    if isinstance(value, dict):
        return {k: interpolate(v, env, errors) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, errors) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        op, arg = match["op"], match["arg"] or ""
        present = name in env
        non_empty = bool(env.get(name))
        if op in (":-", "-"):
            use_default = not non_empty if op == ":-" else not present
            return arg if use_default else env[name]
        if op in (":?", "?"):
            missing = not non_empty if op == ":?" else not present
            if missing:
                errors.append(f"required variable {name} is not set: {arg}")
                return ""
            return env[name]
        if op in (":+", "+"):
            use_alt = non_empty if op == ":+" else present
            return arg if use_alt else ""
        return env.get(name, "")

    return _VAR.sub(substitute, value)


def load(compose_file: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """Load and interpolate the compose file; raise ComposeError on missing required variables."""
    raw = yaml.safe_load(compose_file.read_text())
    if not isinstance(raw, dict):
        raise ComposeError(f"{compose_file}: not a mapping")
    errors: list[str] = []
    doc = interpolate(raw, env, errors)
    if errors:
        raise ComposeError("; ".join(errors))
    # Extension fields (x-*) exist only to be merged; compose drops them too.
    return {k: v for k, v in doc.items() if not k.startswith("x-")}


def check_schema(doc: Mapping[str, Any]) -> None:
    """Validate against the compose-spec JSON schema that check-jsonschema ships (offline)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(doc, f)
    try:
        result = subprocess.run(  # noqa: S603 - our own venv's tool, fixed arguments
            [
                sys.executable,
                "-m",
                "check_jsonschema",
                "--builtin-schema",
                "vendor.compose-spec",
                "--no-cache",
                f.name,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.unlink(f.name)
    if result.returncode != 0:
        raise ComposeError("compose-spec schema: " + (result.stdout + result.stderr).strip())


def check_references(doc: Mapping[str, Any], root: Path) -> None:
    """Every dependency, secret, config, Dockerfile and bind-mounted file must exist."""
    services: dict[str, Any] = doc.get("services") or {}
    problems: list[str] = []
    for name, service in services.items():
        for dep in service.get("depends_on") or {}:
            if dep not in services:
                problems.append(f"{name}: depends_on unknown service {dep!r}")
        for kind in ("secrets", "configs"):
            for ref in service.get(kind) or []:
                source = ref if isinstance(ref, str) else ref.get("source")
                if source not in (doc.get(kind) or {}):
                    problems.append(f"{name}: unknown {kind[:-1]} {source!r}")
        build = service.get("build")
        if isinstance(build, dict):
            dockerfile = root / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
            if not dockerfile.is_file():
                problems.append(f"{name}: no Dockerfile at {dockerfile.relative_to(root)}")
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source")
            local = isinstance(source, str) and source.startswith(("./", "../"))
            if local and not (root / source).exists():
                problems.append(f"{name}: bind mount source {source} does not exist")
    for name, config in (doc.get("configs") or {}).items():
        if "file" in config:
            path = root / config["file"]
            if not path.is_file():
                problems.append(f"config {name}: no file at {config['file']}")
                continue
            text = path.read_text() if path.suffix == ".json" else None
        else:
            text = config.get("content", "") if name.endswith("definitions") else None
        if text is not None:
            try:
                json.loads(text)
            except json.JSONDecodeError as e:
                problems.append(f"config {name}: not JSON: {e}")
    if problems:
        raise ComposeError("; ".join(problems))


def merge(base: Any, override: Any) -> Any:
    """Compose's merge of an override file: mappings deep-merged, ports appended, else replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return [*base, *override]
    return override


def check(compose_file: Path, env_file: Path, overrides: tuple[Path, ...] = ()) -> str:
    """Run every compose check (on the file merged with `overrides`); raise ComposeError."""
    env = read_env_file(env_file)
    doc = load(compose_file, env)
    for override in overrides:
        doc = merge(doc, load(override, env))
    check_schema(doc)
    check_references(doc, compose_file.parent)
    extra = "".join(f" + {o.name}" for o in overrides)
    return (
        f"{len(doc['services'])} services valid against compose-spec (with {env_file.name}{extra})"
    )
