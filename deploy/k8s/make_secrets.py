"""Write the git-ignored files kustomize's secretGenerator reads (deploy/k8s/base/secrets/).

    uv run python deploy/k8s/make_secrets.py --jwt-public-key path/to/idp-public.pem [--out DIR]

Every password and the hook secret are random; each appears where it must (a service's URL
and the server's bootstrap SQL / broker definitions), so they are always in step. Existing
files are kept unless --force: re-running does not rotate a deployed password by accident.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

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
    # One user per service, each limited to its own resources (see deploy/k8s/README.md).
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


def render(public_key_pem: str) -> dict[str, str]:
    """The content of every file, with fresh random passwords."""
    pg, todos_db, budget_db = _password(), _password(), _password()
    admin_amqp, todos_amqp, budget_amqp = _password(), _password(), _password()
    hook = _password()
    hooks = [
        {
            "name": "budget",
            "url": "http://budget-api:8002/hooks/todos.before_complete_task",
            "secret": hook,
            "timeout": 1.0,
            "failure_policy": "fail",
        }
    ]
    return {
        "jwt_public.pem": public_key_pem,
        "todos.env": (
            f"DATABASE_URL=postgresql+asyncpg://todos:{todos_db}@postgres:5432/todos\n"
            f"AMQP_URL=amqp://todos:{todos_amqp}@rabbitmq:5672/\n"
            f"HOOKS={json.dumps(hooks)}\n"
        ),
        "budget.env": (
            f"DATABASE_URL=postgresql+asyncpg://budget:{budget_db}@postgres:5432/budget\n"
            f"AMQP_URL=amqp://budget:{budget_amqp}@rabbitmq:5672/\n"
            f"HOOK_SECRETS={json.dumps([hook])}\n"
        ),
        "postgres.env": f"POSTGRES_PASSWORD={pg}\n",
        # Run once by the postgres image on an empty volume: one database and owner per service.
        "10-databases.sql": (
            f"CREATE ROLE todos LOGIN PASSWORD '{todos_db}';\n"
            f"CREATE ROLE budget LOGIN PASSWORD '{budget_db}';\n"
            "CREATE DATABASE todos OWNER todos;\n"
            "CREATE DATABASE budget OWNER budget;\n"
            "REVOKE ALL ON DATABASE todos FROM PUBLIC;\n"
            "REVOKE ALL ON DATABASE budget FROM PUBLIC;\n"
        ),
        "definitions.json": _definitions(admin_amqp, todos_amqp, budget_amqp),
        # The same roles for the PostgreSQL operator (prod overlay): basic-auth Secrets.
        "todos-db.env": f"username=todos\npassword={todos_db}\n",
        "budget-db.env": f"username=budget\npassword={budget_db}\n",
    }


# Files added after a first release, derived from the set written before (never new passwords:
# the running database has the old ones).
DERIVED = {"todos-db.env": "todos.env", "budget-db.env": "budget.env"}


def _role_credentials(env_file: Path) -> str:
    """`username=` and `password=` of the DATABASE_URL in a service's env file."""
    line = next(x for x in env_file.read_text().splitlines() if x.startswith("DATABASE_URL="))
    url = urlsplit(line.split("=", 1)[1])
    return f"username={unquote(url.username or '')}\npassword={unquote(url.password or '')}\n"


def write(out: Path, public_key_pem: str, *, force: bool = False) -> list[Path]:
    """Write the files into `out` (mode 600); keep a complete existing set unless `force`.

    A set from before the operators' role files gets only those, from its own URLs.
    """
    out.mkdir(parents=True, exist_ok=True)
    missing = [name for name in FILES if not (out / name).exists()]
    if not force and not missing:
        return []
    if not force and len(missing) < len(FILES) and set(missing) <= DERIVED.keys():
        for name in missing:
            (out / name).write_text(_role_credentials(out / DERIVED[name]))
            (out / name).chmod(0o600)
        return [out / name for name in missing]
    written = []
    for name, content in render(public_key_pem).items():
        path = out / name
        path.write_text(content)
        path.chmod(0o600)
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
