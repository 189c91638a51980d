"""The launcher's settings: a flag and an environment variable for each (see `--help`)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import devkeys

MAX_REPLICAS = 4  # the gateway config has four server slots per API


@dataclass(frozen=True)
class Options:
    """What `--help` lists; the e2e suite passes its own values."""

    gateway_port: int
    admin_port: int
    todos_port: int
    budget_port: int
    metrics_port: int
    web_port: int
    replicas: int
    todos_db: str
    budget_db: str
    exchange: str
    queue: str
    hold_ttl: str
    rate_limit_owner: int
    dev_dir: Path
    fresh: bool
    json_logs: bool
    log_level: str
    verbose: bool
    extra_hooks: tuple[str, ...]
    warm_spares: bool
    tracing: bool

    def ports(self) -> list[int]:
        """Every port this stack will listen on."""
        per_replica = (self.todos_port, self.budget_port, self.metrics_port, self.metrics_port + 1)
        web = [self.web_port] if self.web_port else []
        return [self.gateway_port, self.admin_port, *web] + [
            self.port(p, i) for i in range(self.replicas) for p in per_replica
        ]

    def port(self, base: int, replica: int) -> int:
        """Replica i of a process listens on base + 10·i (8001, 8011, ...)."""
        return base + 10 * replica


@dataclass(frozen=True)
class Knob:
    """One setting of the launcher: its flag, its environment variable and its default."""

    flag: str
    env: str | None
    default: str | None
    help: str
    kind: type = str  # int, str, Path, or bool (a switch: on with the flag or env=true)


KNOBS = (
    Knob("--gateway-port", "GATEWAY_PORT", "8080", "the gateway's public port", int),
    Knob("--admin-port", "GATEWAY_ADMIN_PORT", "8404", "the gateway's /healthz and /metrics", int),
    Knob("--todos-port", "TODOS_PORT", "8001", "todos-api's port (replica i: + 10·i)", int),
    Knob("--budget-port", "BUDGET_PORT", "8002", "budget-api's port (replica i: + 10·i)", int),
    Knob(
        "--metrics-port",
        "WORKER_METRICS_PORT",
        "9101",
        "the relay's /metrics port, the consumer's is the next one (replica i: + 10·i)",
        int,
    ),
    Knob(
        "--web-port",
        "WEB_PORT",
        "8003",
        "the web UI's development server (behind the gateway at / and /app/); 0: no UI",
        int,
    ),
    Knob("--replicas", "REPLICAS", "1", f"replicas of every process, 1..{MAX_REPLICAS}", int),
    Knob("--todos-db", "TODOS_DB", "todos", "todos' database name (made when missing)"),
    Knob("--budget-db", "BUDGET_DB", "budget", "budget's database name (made when missing)"),
    Knob("--exchange", "EVENTS_EXCHANGE", "todos.events", "the events exchange of both services"),
    Knob("--queue", "BUDGET_QUEUE", "budget.todos-events", "budget's queue of todos' events"),
    Knob("--hold-ttl", "BUDGET_HOLD_TTL", "PT10M", "budget's hold TTL, an ISO 8601 duration"),
    Knob(
        "--rate-limit-owner",
        "RATE_LIMIT_OWNER",
        "300",
        "the gateway's requests per owner per 10 s",
        int,
    ),
    Knob(
        "--dev-dir",
        "DEV_DIR",
        str(devkeys.DEFAULT_DEV_DIR),
        "where the development key pair and hook secrets are kept (made on first use)",
        Path,
    ),
    Knob("--fresh", None, None, "drop and recreate the databases first", bool),
    Knob("--json-logs", "LOG_JSON", "false", "the services log JSON lines", bool),
    Knob("--log-level", "LOG_LEVEL", "INFO", "the services' log level"),
    Knob("--verbose", None, None, "also show health-check requests", bool),
    Knob(
        "--warm-spares",
        "WARM_SPARES",
        "false",
        "keep an imported spare of each service process to replace it when it dies "
        "(costs one idle process each)",
        bool,
    ),
    Knob(
        "--tracing",
        "TRACING",
        "false",
        "export traces over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT "
        "(default http://127.0.0.1:4318)",
        bool,
    ),
    Knob(
        "--extra-hook",
        "EXTRA_HOOKS",
        "",
        "one more hook subscription of todos, name=N,url=U[,policy=fail|ignore][,timeout=S] "
        "(repeatable; the variable joins them with ';')",
    ),
)

# Read by the launcher beside its options (no flag): where the servers are.
ALSO_READ = {
    "DATABASE_URL": "PostgreSQL server and credentials for both databases (the database name "
    "is replaced); else PGHOST, PGPORT, PGUSER, PGPASSWORD; else the project role",
    "PROJECT_DB_ROLE": "the project role's name (default todos_budget)",
    "DB_PASSWORD_FILE": "the project role's password file (default "
    "~/.config/todos-budget/db-password)",
    "AMQP_URL": "the RabbitMQ broker (default amqp://guest:guest@127.0.0.1:5672/)",
}


def parse(argv: list[str] | None = None, description: str | None = None) -> Options:
    """Flags with environment defaults (KNOBS)."""
    env = os.environ.get
    p = argparse.ArgumentParser(description=description)
    for k in KNOBS:
        given = env(k.env) if k.env else None
        helped = f"{k.help} ({k.env})" if k.env else k.help
        if k.kind is bool:
            on = (given or k.default or "false") == "true"
            p.add_argument(k.flag, action="store_true", default=on, help=helped)
        elif k.flag == "--extra-hook":
            hooks = [h for h in (given or "").split(";") if h]
            p.add_argument(k.flag, dest="extra_hooks", action="append", default=hooks, help=helped)
        else:
            p.add_argument(k.flag, type=k.kind, default=k.kind(given or k.default), help=helped)
    a = p.parse_args(argv)
    if not 1 <= a.replicas <= MAX_REPLICAS:
        p.error(f"--replicas must be 1..{MAX_REPLICAS}")
    a.extra_hooks = tuple(a.extra_hooks)
    return Options(**vars(a))
