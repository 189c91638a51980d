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


def parse(argv: list[str] | None = None, description: str | None = None) -> Options:
    """Flags with environment defaults."""
    env = os.environ.get
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--gateway-port", type=int, default=int(env("GATEWAY_PORT", "8080")))
    p.add_argument("--admin-port", type=int, default=int(env("GATEWAY_ADMIN_PORT", "8404")))
    p.add_argument("--todos-port", type=int, default=int(env("TODOS_PORT", "8001")))
    p.add_argument("--budget-port", type=int, default=int(env("BUDGET_PORT", "8002")))
    p.add_argument(
        "--metrics-port",
        type=int,
        default=int(env("WORKER_METRICS_PORT", "9101")),
        help="first /metrics port of the relay and consumer replicas",
    )
    p.add_argument(
        "--web-port",
        type=int,
        default=int(env("WEB_PORT", "8003")),
        help="the web UI's development server (behind the gateway at / and /app/); 0: no UI",
    )
    p.add_argument("--replicas", type=int, default=int(env("REPLICAS", "1")))
    p.add_argument("--todos-db", default=env("TODOS_DB", "todos"))
    p.add_argument("--budget-db", default=env("BUDGET_DB", "budget"))
    p.add_argument("--exchange", default=env("EVENTS_EXCHANGE", "todos.events"))
    p.add_argument("--queue", default=env("QUEUE", "budget.todos-events"))
    p.add_argument("--hold-ttl", default=env("HOLD_TTL", "PT10M"))
    p.add_argument("--rate-limit-owner", type=int, default=int(env("RATE_LIMIT_OWNER", "300")))
    p.add_argument("--dev-dir", type=Path, default=Path(env("DEV_DIR", devkeys.DEFAULT_DEV_DIR)))
    p.add_argument("--fresh", action="store_true", help="drop and recreate the databases first")
    p.add_argument("--json-logs", action="store_true", default=env("LOG_JSON") == "true")
    p.add_argument("--log-level", default=env("LOG_LEVEL", "INFO"))
    p.add_argument("--verbose", action="store_true", help="also show health-check requests")
    p.add_argument(
        "--warm-spares",
        action="store_true",
        help="keep an imported spare of each service process to replace it when it dies "
        "(WARM_SPARES=true; costs one idle process each)",
    )
    p.add_argument(
        "--tracing",
        action="store_true",
        default=env("TRACING") == "true",
        help="export traces over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT "
        "(default http://127.0.0.1:4318); off by default (TRACING=true)",
    )
    p.add_argument(
        "--extra-hook",
        dest="extra_hooks",
        action="append",
        default=[h for h in env("EXTRA_HOOKS", "").split(";") if h],
        metavar="name=N,url=U[,policy=fail|ignore][,timeout=S]",
        help="one more hook subscription of todos (repeatable; EXTRA_HOOKS joins them with ';')",
    )
    a = p.parse_args(argv)
    if not 1 <= a.replicas <= MAX_REPLICAS:
        p.error(f"--replicas must be 1..{MAX_REPLICAS}")
    a.extra_hooks = tuple(a.extra_hooks)
    a.warm_spares = a.warm_spares or env("WARM_SPARES") == "true"
    return Options(**vars(a))
