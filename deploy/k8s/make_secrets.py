"""Write the git-ignored files kustomize's secretGenerator reads (deploy/k8s/base/secrets/).

    uv run python deploy/k8s/make_secrets.py --jwt-public-key path/to/idp-public.pem [--out DIR]

Every password and the hook secret are random; each appears where it must (a service's URL
and the server's bootstrap SQL / broker definitions), so they are always in step. Existing
files are kept unless --force, and a missing one is rebuilt from the values the others hold:
re-running never rotates a deployed password by accident.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

BASE = Path(__file__).resolve().parent / "base"
FILES = (
    "jwt_public.pem",
    "todos.env",
    "budget.env",
    "postgres.env",
    "10-databases.sql",
    "definitions.json",
    "todos-db.env",
    "budget-db.env",
)


def _password() -> str:
    return secrets.token_urlsafe(24)


def _definitions(admin: str, todos: str, budget: str) -> str:
    users = [
        {"name": "admin", "password": admin, "tags": ["administrator"]},
        {"name": "todos", "password": todos, "tags": []},
        {"name": "budget", "password": budget, "tags": []},
    ]
    # One user per service, each limited to its own resources (see docs/deployment.md).
    permissions = [
        {"user": "admin", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"},
        {
            "user": "todos",
            "vhost": "/",
            "configure": r"^todos\.events(\.unrouted)?$",
            "write": r"^todos\.events(\.unrouted)?$",
            "read": r"^todos\.events\.unrouted$",
        },
        {
            "user": "budget",
            "vhost": "/",
            "configure": r"^(todos\.events|budget\..*)$",
            "write": r"^(amq\.default|budget\..*)$",
            "read": r"^(todos\.events|budget\..*)$",
        },
    ]
    doc = {"users": users, "vhosts": [{"name": "/"}], "permissions": permissions}
    return json.dumps(doc, indent=2) + "\n"


# Every random value, by name; each file is rendered from these.
VALUES = ("pg", "todos_db", "budget_db", "admin_amqp", "todos_amqp", "budget_amqp", "hook")


def _env_file(text: str, prefix: str = "") -> dict[str, str]:
    """The variables of an env file; with `prefix`, an unprefixed name (DATABASE_URL) counts
    under the prefixed one (TODOS_DATABASE_URL), so an unprefixed file keeps its values."""
    env = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {**{f"{prefix}{k}": v for k, v in env.items()}, **env} if prefix else env


def _url_password(url: str | None) -> str | None:
    return urlsplit(url).password if url else None


def existing_values(out: Path) -> dict[str, str]:
    """The passwords and hook secret that the files already in `out` hold."""

    def read(name: str) -> str | None:
        path = out / name
        return path.read_text() if path.exists() else None

    found: dict[str, str | None] = {}
    if (text := read("todos.env")) is not None:
        env = _env_file(text, "TODOS_")
        found["todos_db"] = _url_password(env.get("TODOS_DATABASE_URL"))
        found["todos_amqp"] = _url_password(env.get("TODOS_AMQP_URL"))
        hooks = json.loads(env.get("TODOS_HOOKS", "[]"))
        found["hook"] = next((h.get("secret") for h in hooks if h.get("name") == "budget"), None)
    if (text := read("budget.env")) is not None:
        env = _env_file(text, "BUDGET_")
        found["budget_db"] = _url_password(env.get("BUDGET_DATABASE_URL"))
        found["budget_amqp"] = _url_password(env.get("BUDGET_AMQP_URL"))
        secrets_ = json.loads(env.get("BUDGET_HOOK_SECRETS", "[]"))
        found["hook"] = found.get("hook") or next(iter(secrets_), None)
    if (text := read("postgres.env")) is not None:
        found["pg"] = _env_file(text).get("POSTGRES_PASSWORD")
    if (text := read("10-databases.sql")) is not None:
        for role, password in re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD '([^']*)'", text):
            found[f"{role}_db"] = found.get(f"{role}_db") or password
    if (text := read("definitions.json")) is not None:
        for user in json.loads(text).get("users", []):
            key = f"{user['name']}_amqp"
            found[key] = found.get(key) or user.get("password")
    return {k: v for k, v in found.items() if k in VALUES and v}


def render(public_key_pem: str, values: dict[str, str] | None = None) -> dict[str, str]:
    """The content of every file: from `values`, with fresh random ones for what is missing."""
    v = {name: _password() for name in VALUES} | (values or {})
    hooks = [
        {
            "name": "budget",
            "url": "http://budget-api:8002/hooks/todos.before_complete_task",
            "secret": v["hook"],
            "timeout": 1.0,
            "failure_policy": "fail",
        }
    ]
    return {
        "jwt_public.pem": public_key_pem,
        "todos.env": (
            f"TODOS_DATABASE_URL=postgresql+asyncpg://todos:{v['todos_db']}@postgres:5432/todos\n"
            f"TODOS_AMQP_URL=amqp://todos:{v['todos_amqp']}@rabbitmq:5672/\n"
            f"TODOS_HOOKS={json.dumps(hooks)}\n"
        ),
        "budget.env": (
            f"BUDGET_DATABASE_URL=postgresql+asyncpg://budget:{v['budget_db']}@postgres:5432/budget\n"
            f"BUDGET_AMQP_URL=amqp://budget:{v['budget_amqp']}@rabbitmq:5672/\n"
            f"BUDGET_HOOK_SECRETS={json.dumps([v['hook']])}\n"
        ),
        "postgres.env": f"POSTGRES_PASSWORD={v['pg']}\n",
        # Run once by the postgres image on an empty volume: one database and owner per service.
        "10-databases.sql": (
            f"CREATE ROLE todos LOGIN PASSWORD '{v['todos_db']}';\n"
            f"CREATE ROLE budget LOGIN PASSWORD '{v['budget_db']}';\n"
            "CREATE DATABASE todos OWNER todos;\n"
            "CREATE DATABASE budget OWNER budget;\n"
            "REVOKE ALL ON DATABASE todos FROM PUBLIC;\n"
            "REVOKE ALL ON DATABASE budget FROM PUBLIC;\n"
        ),
        "definitions.json": _definitions(v["admin_amqp"], v["todos_amqp"], v["budget_amqp"]),
        # The same roles for the PostgreSQL operator (prod overlay): basic-auth Secrets.
        "todos-db.env": f"username=todos\npassword={v['todos_db']}\n",
        "budget-db.env": f"username=budget\npassword={v['budget_db']}\n",
    }


def _write_private(path: Path, content: str) -> None:
    """Create `path` readable by its owner only from the first byte (no chmod afterwards)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(fd, 0o600)  # a file that existed keeps its mode on O_CREAT
        f.write(content)


def _unprefixed(path: Path) -> bool:
    """A service's env file without its prefixed names: rewritten with them, values kept."""
    prefix = {"todos.env": "TODOS_", "budget.env": "BUDGET_"}.get(path.name)
    return prefix is not None and f"{prefix}DATABASE_URL=" not in path.read_text()


def write(out: Path, public_key_pem: str, *, force: bool = False) -> list[Path]:
    """Write the missing files into `out` (mode 600), in step with the existing ones.

    The values the existing files hold are kept (a database volume was initialised with them);
    only what no file holds is new. `force` replaces every file with fresh values.
    """
    out.mkdir(parents=True, exist_ok=True)
    values = {} if force else existing_values(out)
    written = []
    for name, content in render(public_key_pem, values).items():
        path = out / name
        if force or not path.exists() or _unprefixed(path):
            _write_private(path, content)
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jwt-public-key", type=Path, required=True, help="PEM public key file")
    parser.add_argument("--out", type=Path, default=BASE / "secrets")
    parser.add_argument("--force", action="store_true", help="replace existing files")
    args = parser.parse_args(argv)
    pem = args.jwt_public_key.read_text()
    if "BEGIN PUBLIC KEY" not in pem:
        parser.error(f"{args.jwt_public_key} is not a PEM public key")
    written = write(args.out, pem, force=args.force)
    print(f"wrote {len(written)} files into {args.out}" if written else f"kept {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
