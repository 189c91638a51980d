"""Run the whole stack on this machine in the foreground: `make run`, and the e2e suite's launcher.

Every setting has a flag and an environment variable (shown in `--help`), so a second stack
(the end-to-end tests') runs beside a `make run` on its own ports, databases, exchange and queue.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import time
from types import FrameType
from urllib.parse import quote

import devkeys
import httpx
import prepare
from options import Options, parse
from sqlalchemy.engine import make_url
from supervisor import GaveUp, Supervisor

GATEWAY_CONFIG = prepare.ROOT / "deploy" / "gateway" / "haproxy.cfg"
WARM = prepare.ROOT / "deploy" / "local" / "warm.py"
WEBDEV = prepare.ROOT / "deploy" / "local" / "webdev.py"
WEB_DIST = prepare.ROOT / "services" / "web" / "dist"  # `make web` builds it (Node)
READY_MARKER = "STACK READY"


def _common_settings(o: Options, dev: devkeys.DevSecrets) -> dict[str, str]:
    """The settings both services get, by field name (prepare.settings prefixes them)."""
    return {
        "environment": "development",  # the services default to production
        "amqp_url": _amqp_url(),
        "events_exchange": o.exchange,
        "jwt_public_key_file": str(dev.public_key_file),
        "host": "127.0.0.1",
        "log_json": "true" if o.json_logs else "false",
        "log_level": o.log_level,
    }


def tracing_env(o: Options) -> dict[str, str]:
    """OTLP/HTTP to a local collector with `--tracing` (standard OTEL_* variables win); else off."""
    if not o.tracing:
        return {"OTEL_SDK_DISABLED": "true"}
    env = os.environ.get
    return {
        "OTEL_SDK_DISABLED": "false",
        "OTEL_EXPORTER_OTLP_ENDPOINT": env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    }


def _amqp_url() -> str:
    return os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def _db_url(name: str) -> str:
    """The URL of database `name`, from what the user gave; never overriding it.

    DATABASE_URL: its server and credentials, with each service's database name. PGUSER or
    PGPASSWORD (PGHOST, PGPORT): libpq's variables. Neither: the project role that
    scripts/infra.sh made on this machine's server, with its password (DB_PASSWORD_FILE).
    """
    env = os.environ.get
    if given := env("DATABASE_URL"):
        return (
            make_url(given)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
    host, port = env("PGHOST", "127.0.0.1"), env("PGPORT", "5432")
    if env("PGUSER") or env("PGPASSWORD"):
        user, password = env("PGUSER", "postgres"), env("PGPASSWORD")
    else:
        user = env("PROJECT_DB_ROLE", "todos_budget")
        password = prepare.db_password_file().read_text().strip()
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return f"postgresql+asyncpg://{auth}@{host}:{port}/{name}"


def extra_hook(spec: str, dev: devkeys.DevSecrets) -> dict[str, object]:
    """A hook subscription from `name=N,url=U[,policy=fail|ignore][,timeout=S]`, with a secret
    of its own (.dev/hook-secret.N): never budget's, so it cannot sign a call for budget."""
    fields = dict(part.split("=", 1) for part in spec.split(",") if "=" in part)
    if not {"name", "url"} <= fields.keys():
        raise ValueError(f"--extra-hook needs name= and url=: {spec!r}")
    if fields["name"] == "budget":
        raise ValueError("--extra-hook: the name budget is taken (budget's own subscription)")
    return {
        "name": fields["name"],
        "url": fields["url"],
        "secret": dev.subscriber_secret(fields["name"]),
        "timeout": float(fields.get("timeout", "1")),
        "failure_policy": fields.get("policy", "fail"),
    }


def start_services(sup: Supervisor, o: Options, dev: devkeys.DevSecrets) -> None:
    """Start every replica of the four service processes."""
    base = {**prepare.child_environ(), "PYTHONUNBUFFERED": "1", **tracing_env(o)}
    common = _common_settings(o, dev)
    hook = {
        "name": "budget",
        "url": f"http://127.0.0.1:{o.budget_port}/hooks/todos.before_complete_task",
        "secret": dev.hook_secret,
        "timeout": 1,
        "failure_policy": "fail",
    }
    hooks = [hook, *(extra_hook(spec, dev) for spec in o.extra_hooks)]
    todos = {
        **base,
        **prepare.settings(
            "todos", **common, database_url=_db_url(o.todos_db), hooks=json.dumps(hooks)
        ),
    }
    budget = {
        **base,
        **prepare.settings(
            "budget",
            **common,
            database_url=_db_url(o.budget_db),
            hook_secrets=json.dumps([dev.hook_secret]),
            hold_ttl=o.hold_ttl,
            queue=o.queue,
        ),
    }

    # The services' own entry points from the workspace venv: no resident `uv run` wrapper
    # per process, and a restart costs only the service's own start-up; with warm spares,
    # not even that (deploy/local/warm.py).
    def bin_(name: str) -> list[str]:
        if o.warm_spares:
            return [str(prepare.VENV_BIN / "python"), str(WARM), name]
        return [str(prepare.VENV_BIN / name)]

    def start(name: str, program: str, env: dict[str, str]) -> None:
        sup.start(name, bin_(program), env, warm=o.warm_spares)

    for i in range(o.replicas):
        n = f".{i + 1}" if o.replicas > 1 else ""
        todos_port, budget_port = o.port(o.todos_port, i), o.port(o.budget_port, i)
        start(f"todos-api{n}", "todos-api", {**todos, "TODOS_PORT": str(todos_port)})
        start(f"budget-api{n}", "budget-api", {**budget, "BUDGET_PORT": str(budget_port)})
        metrics = o.port(o.metrics_port, i)
        start(f"todos-relay{n}", "todos-relay", {**todos, "TODOS_RELAY_METRICS_PORT": str(metrics)})
        start(
            f"budget-consumer{n}",
            "budget-consumer",
            {**budget, "BUDGET_CONSUMER_METRICS_PORT": str(metrics + 1)},
        )


def gateway_env(o: Options, dev: devkeys.DevSecrets) -> dict[str, str]:
    """The environment haproxy.cfg reads (see its header)."""
    env = {
        **os.environ,
        "GATEWAY_BIND": f"127.0.0.1:{o.gateway_port}",
        "GATEWAY_ADMIN_BIND": f"127.0.0.1:{o.admin_port}",
        "JWT_PUBLIC_KEY_FILE": str(dev.public_key_file),
        "RATE_LIMIT_OWNER": str(o.rate_limit_owner),
    }
    for i in range(o.replicas):
        env[f"TODOS_API_{i + 1}"] = f"127.0.0.1:{o.port(o.todos_port, i)}"
        env[f"BUDGET_API_{i + 1}"] = f"127.0.0.1:{o.port(o.budget_port, i)}"
    if o.web_port:
        env["WEB_1"] = f"127.0.0.1:{o.web_port}"
    for name in ("TODOS_API_DNS", "BUDGET_API_DNS", "WEB_DNS"):
        env.pop(name, None)
    return env


def wait_ready(sup: Supervisor, urls: list[str], timeout: float = 120.0) -> None:
    """Poll every URL until it answers 200; fail early when a child exits."""
    deadline = time.monotonic() + timeout
    pending = list(urls)
    with httpx.Client(timeout=2.0) as client:
        while pending:
            if (dead := sup.exited()) is not None:
                raise RuntimeError(f"{dead.name} exited with {dead.process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready within {timeout:.0f} s: {', '.join(pending)}")
            url = pending[0]
            try:
                if client.get(url).status_code == 200:
                    pending.pop(0)
                    continue
            except httpx.HTTPError:
                pass
            time.sleep(0.3)


def _logger(sup: Supervisor, name: str) -> prepare.Log:
    return lambda line: sup.say(name, line)


def _busy(ports: list[int]) -> list[int]:
    """The ports someone holds: listening, or only bound (a socket with SO_REUSEPORT, as
    HAProxy's, would otherwise let ours join it and share the connections silently)."""
    return [port for port in ports if _answers(port) or not _can_bind(port)]


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _can_bind(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not a holder
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PROBES = ("route=/healthz", "route=/readyz", '"route": "/healthz"', '"route": "/readyz"')


def _is_probe_log(line: str) -> bool:
    # The gateway checks every API every 2 s; those lines would drown the story.
    return any(p in _ANSI.sub("", line) for p in _PROBES)


class _Stop(Exception):
    pass


def _on_signal(signum: int, _: FrameType | None) -> None:
    # Only the first signal interrupts; a second (uv and a terminal both forward Ctrl-C)
    # must not cut the clean-up short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stop(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    """Prepare, start, wait for ready, print the URLs, supervise until told to stop."""
    o = parse(argv, __doc__)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    sup = Supervisor() if o.verbose else Supervisor(hide=_is_probe_log)
    try:
        if busy := _busy(o.ports()):
            raise RuntimeError(f"ports already in use (another stack?): {busy}")
        dev = devkeys.ensure(o.dev_dir)
        log = _logger(sup, "prepare")
        dbs = [o.todos_db, o.budget_db]
        prepare.ensure_infra(dbs, _amqp_url(), log, recreate=o.fresh)
        if o.fresh:
            prepare.reset_broker(
                _amqp_url(), [o.exchange, f"{o.queue}.dlx"], [o.queue, f"{o.queue}.dlq"]
            )
        haproxy = prepare.ensure_haproxy(log)
        gw_env = gateway_env(o, dev)
        prepare.check_gateway_config(haproxy, GATEWAY_CONFIG, gw_env, log)
        prepare.migrate("todos", _db_url(o.todos_db), _logger(sup, "migrate todos"))
        prepare.migrate("budget", _db_url(o.budget_db), _logger(sup, "migrate budget"))
        # budget's queue must exist before the relay's first publish (see declare_topology).
        prepare.declare_topology(_amqp_url(), o.exchange, o.queue, _logger(sup, "topology"))
        start_services(sup, o, dev)
        api_ports = [o.port(p, i) for i in range(o.replicas) for p in (o.todos_port, o.budget_port)]
        ready = [f"http://127.0.0.1:{p}/readyz" for p in api_ports]
        if o.web_port:
            # The UI's files and, in development only, its token endpoint (deploy/local/webdev.py).
            if not (WEB_DIST / "index.html").exists():
                log("the web UI is not built: / answers 503 until `make web` (make run builds it)")
            web = [str(prepare.VENV_BIN / "python"), str(WEBDEV), "--port", str(o.web_port)]
            sup.start("web", [*web, "--dev-dir", str(o.dev_dir)], prepare.child_environ())
            ready.append(f"http://127.0.0.1:{o.web_port}/healthz")
        wait_ready(sup, ready)
        sup.start("gateway", [haproxy, "-db", "-f", str(GATEWAY_CONFIG)], gw_env)
        wait_ready(sup, [f"http://127.0.0.1:{o.admin_port}/healthz"])
        _announce(sup, o)
        while True:  # a child that dies is started again; one that cannot start stops us
            sup.restart_dead()
            time.sleep(0.1)
    except _Stop as stop:
        sup.say("stack", f"{stop}: stopping")
        return 0
    except GaveUp as exc:
        sup.say("stack", f"{exc}: stopping")
        return 1
    except Exception as exc:  # report any start-up failure plainly, then clean up
        sup.say("stack", f"failed: {exc}")
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sup.stop_all()
        sup.say("stack", "stopped")


def _announce(sup: Supervisor, o: Options) -> None:
    web = f"http://127.0.0.1:{o.gateway_port}/" if o.web_port else "off (--web-port 0)"
    lines = [
        f"{READY_MARKER}",
        f"web UI       {web}",
        f"gateway      http://127.0.0.1:{o.gateway_port}/api/todos/  and  /api/budget/",
        f"todos docs   http://127.0.0.1:{o.todos_port}/docs   (direct, not through the gateway)",
        f"budget docs  http://127.0.0.1:{o.budget_port}/docs",
        f"gateway stats http://127.0.0.1:{o.admin_port}/metrics",
        "token        make token OWNER=$(python3 -c 'import uuid; print(uuid.uuid4())') [ADMIN=1]",
        "Ctrl-C stops everything.",
    ]
    if o.tracing:
        endpoint = tracing_env(o)["OTEL_EXPORTER_OTLP_ENDPOINT"]
        lines.insert(-1, f"tracing      OTLP/HTTP to {endpoint}")
    for line in lines:
        sup.say("stack", line, "1;32")


if __name__ == "__main__":
    sys.exit(main())
