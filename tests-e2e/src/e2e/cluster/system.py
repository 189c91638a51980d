"""The whole system on the cluster's hosts: brokers, databases, services, gateway.

Hosts (198.18.21.0/24 by default, the bridge is .1):
  mq1..mq3  .11-.13  RabbitMQ nodes, clustered; budget's quorum queue has a member on each
  dcs       .20      etcd (Patroni's consensus store)
  pg1, pg2  .21-.22  Patroni + PostgreSQL: a primary and its synchronous standby
  app1/app2 .31-.32  one replica each of todos-api, budget-api, todos-relay, budget-consumer
  gw        .40      the gateway (deploy/gateway/haproxy.cfg) balancing the API replicas, and
                     the in-cluster balancer (AMQP to the broker nodes, budget's hook to the
                     budget-api replicas), as a Kubernetes Service would
The services reach the current primary through the balancer, which follows Patroni's leader
(health check on its REST API). Not a multi-host URL: asyncpg spends one connect timeout on
all the hosts together, so a first host that silently drops packets (a partition) leaves no
time for the next one, and the services could not reach the new primary until the partition
healed (the suite showed it: pg-isolate-primary failed completions for the whole 35 s).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg  # type: ignore[import-untyped]

from e2e.cluster.net import SUBNET, Host, Network
from e2e.cluster.postgres import PG_PORT, REST_PORT, Etcd, PatroniNode, cluster_state, patroni_venv
from e2e.cluster.procs import Keeper, Proc
from e2e.cluster.rabbit import AMQP_PORT, RabbitNode

ROOT = Path(__file__).resolve().parents[4]
LOCAL = ROOT / "deploy" / "local"
if str(LOCAL) not in sys.path:
    sys.path.insert(0, str(LOCAL))
# The launcher's own helpers (dev keys, HAProxy, migrations, commands), not a copy of them.
devkeys = importlib.import_module("devkeys")
prepare = importlib.import_module("prepare")
Log = Callable[[str], None]

VENV_BIN = Path(sys.prefix) / "bin"
TODOS_PORT, BUDGET_PORT, RELAY_METRICS, CONSUMER_METRICS = 8001, 8002, 9101, 9102
GATEWAY_PORT, ADMIN_PORT, LB_ADMIN_PORT = 8080, 8404, 8405
DB_ROLE = "todos_budget"
SERVICES = ("todos-api", "budget-api", "todos-relay", "budget-consumer")

LB_CONFIG = """\
global
    maxconn 4096
defaults
    timeout connect 2s
    timeout client 3h
    timeout server 3h
    timeout check 2s
# AMQP to any live broker node; a node that stops answering (killed, or paused as a minority)
# has its clients cut so they reconnect to another.
listen amqp
    mode tcp
    bind {gw}:{amqp}
    balance leastconn
    option tcpka
    default-server check inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
{amqp_servers}
# PostgreSQL: the node Patroni says is the primary (its REST API answers 200 on /primary
# only there); sessions to a node that stops being it are cut.
listen postgres
    mode tcp
    bind {gw}:{pg}
    option httpchk GET /primary
    http-check expect status 200
    default-server check port {rest} inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
{pg_servers}
# budget's hook, called by todos-api: the budget-api replicas that are ready.
listen budget_hook
    mode http
    bind {gw}:{budget}
    timeout client 15s
    timeout server 15s
    option redispatch
    retries 2
    retry-on conn-failure
    option httpchk GET /readyz
    default-server check inter 1s fall 2 rise 1
{budget_servers}
listen stats
    mode http
    bind {gw}:{admin}
    http-request return status 200 content-type text/plain string ok if {{ path /healthz }}
"""


@dataclass
class Replica:
    """The four service processes of one application host."""

    host: Host
    procs: dict[str, Proc] = field(default_factory=dict)


@dataclass
class Cluster:
    """Everything started; `down()` stops and removes all of it."""

    name: str
    root: Path
    net: Network = field(default_factory=Network)
    keeper: Keeper = field(default_factory=Keeper)
    rabbits: list[RabbitNode] = field(default_factory=list)
    etcd: Etcd | None = None
    pgs: list[PatroniNode] = field(default_factory=list)
    replicas: list[Replica] = field(default_factory=list)
    gateway: Proc | None = None
    balancer: Proc | None = None
    password: str = field(default_factory=lambda: secrets.token_hex(12))
    dev: Any = None  # the launcher's DevSecrets

    # --- addresses
    @property
    def gw(self) -> Host:
        return self.net.hosts["gw"]

    @property
    def gateway_url(self) -> str:
        return f"http://{self.gw.addr}:{GATEWAY_PORT}"

    @property
    def amqp_url(self) -> str:
        """The broker through the in-cluster balancer (what the services use)."""
        return f"amqp://guest:guest@{self.gw.addr}:{AMQP_PORT}/"

    @property
    def exchange(self) -> str:
        return f"{self.name}.events"

    @property
    def queue(self) -> str:
        return f"{self.name}.budget"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dlq"

    def db_url(self, database: str, user: str = DB_ROLE) -> str:
        """The current primary, through the balancer that follows Patroni's leader (what a
        Kubernetes Service selecting the primary does); `read-write` refuses a node caught
        mid-demotion."""
        auth = f"{quote(user, safe='')}:{quote(self.password, safe='')}"
        return (
            f"postgresql+asyncpg://{auth}@{self.gw.addr}:{PG_PORT}/{database}"
            "?target_session_attrs=read-write"
        )

    @property
    def todos_db(self) -> str:
        return f"todos_{self.name}"

    @property
    def budget_db(self) -> str:
        return f"budget_{self.name}"

    # --- bring-up
    def up(self, log: Log) -> None:
        """Hosts, brokers, databases, services, gateway; ready when it returns."""
        self.root.chmod(0o755)  # the postgres account reads its own directories below
        self.net.up()
        for i in range(3):
            self.net.add(f"mq{i + 1}", 11 + i)
        self.net.add("dcs", 20)
        for i in range(2):
            self.net.add(f"pg{i + 1}", 21 + i)
        for i in range(2):
            self.net.add(f"app{i + 1}", 31 + i)
        self.net.add("gw", 40)
        self.keeper.run()
        with ThreadPoolExecutor(4) as pool:
            venv = pool.submit(patroni_venv, self.root)
            brokers = pool.submit(self._brokers, log)
            self.etcd = Etcd(self.net.hosts["dcs"], self.root)
            self.etcd.start(self.keeper)
            self.etcd.wait()
            log("etcd up")
            venv_bin = venv.result()
            self.pgs = [
                PatroniNode(self.net.hosts[f"pg{i + 1}"], self.root, self.etcd, self.password)
                for i in range(2)
            ]
            for pg in self.pgs:
                pg.start(self.keeper, venv_bin)
            self.wait_sync_standby(180)
            log(f"postgres up: {self.pg_roles()}")
            brokers.result()
        haproxy = prepare.ensure_haproxy(log)
        self._balancer(haproxy)
        self._databases(log)
        self.dev = devkeys.ensure(self.root / "dev")
        env = {**prepare.child_environ(), **prepare.DEVELOPMENT}
        env.update(
            prepare.settings(
                "budget", amqp_url=self.amqp_url, events_exchange=self.exchange, queue=self.queue
            )
        )
        prepare.run([str(VENV_BIN / "budget-topology"), "declare"], log, env=env)
        for i in range(2):
            self.replicas.append(self._replica(self.net.hosts[f"app{i + 1}"]))
        self.wait_ready(self.api_urls(), 120)
        self._gateway(haproxy)
        self.wait_ready([f"http://{self.gw.addr}:{ADMIN_PORT}/healthz"], 30)
        log(f"cluster ready: gateway {self.gateway_url}")

    def _brokers(self, log: Log) -> None:
        cookie = secrets.token_hex(16)
        self.rabbits = [
            RabbitNode(self.net.hosts[f"mq{i + 1}"], self.root, cookie) for i in range(3)
        ]
        for node in self.rabbits:
            node.start(self.keeper)
        for node in self.rabbits:
            node.await_startup()
        for node in self.rabbits[1:]:
            node.join(self.rabbits[0])
        log(f"rabbitmq up: {self.rabbits[0].cluster_status().get('running_nodes')}")

    def wait_sync_standby(self, timeout: float) -> None:
        """Until Patroni reports a leader and a synchronous standby, streaming."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            roles = self.pg_roles()
            if sorted(roles.values()) == ["leader", "sync_standby"]:
                return
            time.sleep(1)
        raise RuntimeError(f"no primary with a synchronous standby: {self.pg_roles()}")

    def pg_roles(self) -> dict[str, str]:
        """member -> role (`leader`, `sync_standby`, `replica`) with state `running`/`streaming`."""
        state = cluster_state(self.pgs)
        return {
            str(m["name"]): str(m["role"])
            for m in state.get("members", [])
            if m.get("state") in ("running", "streaming")
        }

    def primary(self) -> PatroniNode | None:
        """The database host Patroni names leader."""
        leaders = [pg for pg in self.pgs if self.pg_roles().get(pg.host.name) == "leader"]
        return leaders[0] if leaders else None

    def sync_ok(self) -> bool:
        """A primary and a streaming synchronous standby."""
        return sorted(self.pg_roles().values()) == ["leader", "sync_standby"]

    def queue_leader(self) -> str:
        """The node leading budget's quorum queue, asked of any node that answers."""
        for node in self.rabbits:
            try:
                for q in node.queues():
                    if q["name"] == self.queue:
                        return str(q["leader"])
            except (RuntimeError, subprocess.TimeoutExpired):
                continue
        raise RuntimeError("no broker node answers")

    def rabbits_running(self) -> int:
        """How many nodes the cluster counts as running (asked of the first that answers)."""
        for node in self.rabbits:
            try:
                return len(list(node.cluster_status().get("running_nodes", [])))  # type: ignore[call-overload]
            except (RuntimeError, subprocess.TimeoutExpired, ValueError):
                continue
        return 0

    def api_urls(self) -> list[str]:
        """Every API replica's readiness URL."""
        return [
            f"http://{r.host.addr}:{p}/readyz"
            for r in self.replicas
            for p in (TODOS_PORT, BUDGET_PORT)
        ]

    def _databases(self, log: Log) -> None:
        async def make() -> None:
            conn = await asyncpg.connect(
                host=[pg.host.addr for pg in self.pgs], port=[PG_PORT] * len(self.pgs),
                user="postgres", password=self.password, database="postgres",
                target_session_attrs="read-write", ssl=False, timeout=10,
            )  # fmt: skip
            try:
                await conn.execute(f"CREATE ROLE {DB_ROLE} LOGIN PASSWORD '{self.password}'")
                for db in (self.todos_db, self.budget_db):
                    await conn.execute(f'CREATE DATABASE "{db}" OWNER {DB_ROLE}')
            finally:
                await conn.close()

        asyncio.run(make())
        for service, db in (("todos", self.todos_db), ("budget", self.budget_db)):
            prepare.migrate(service, self.db_url(db), lambda line, s=service: log(f"{s}: {line}"))

    def _balancer(self, haproxy: str) -> None:
        amqp = "\n".join(
            f"    server {n.host.name} {n.host.addr}:{AMQP_PORT}" for n in self.rabbits
        )
        budget = "\n".join(
            f"    server app{i + 1} {SUBNET}.{31 + i}:{BUDGET_PORT}" for i in range(2)
        )
        pg = "\n".join(f"    server {n.host.name} {n.host.addr}:{PG_PORT}" for n in self.pgs)
        config = self.root / "balancer.cfg"
        config.write_text(
            LB_CONFIG.format(gw=self.gw.addr, amqp=AMQP_PORT, budget=BUDGET_PORT, pg=PG_PORT,
                             rest=REST_PORT, admin=LB_ADMIN_PORT, amqp_servers=amqp,
                             budget_servers=budget, pg_servers=pg)
        )  # fmt: skip
        argv = [haproxy, "-db", "-f", str(config)]
        self.balancer = self.keeper.add(
            Proc("balancer", self.gw, argv, dict(os.environ), self.root / "balancer.log")
        )

    def service_env(self) -> dict[str, dict[str, str]]:
        """The environment of each service process (as deploy/local/stack.py sets it)."""
        assert self.dev is not None
        base = {**prepare.child_environ(), "PYTHONUNBUFFERED": "1", "OTEL_SDK_DISABLED": "true"}
        common = {
            "environment": "development",  # the services default to production
            "amqp_url": self.amqp_url,
            "events_exchange": self.exchange,
            "jwt_public_key_file": str(self.dev.public_key_file),
            "host": "0.0.0.0",
            "log_json": "false",
            "log_level": "INFO",
        }
        hook = {
            "name": "budget",
            "url": f"http://{self.gw.addr}:{BUDGET_PORT}/hooks/todos.before_complete_task",
            "secret": self.dev.hook_secret,
            "timeout": 1,
            "failure_policy": "fail",
        }
        todos = {
            **base,
            **prepare.settings(
                "todos",
                **common,
                database_url=self.db_url(self.todos_db),
                hooks=json.dumps([hook]),
            ),
        }
        budget = {
            **base,
            **prepare.settings(
                "budget",
                **common,
                database_url=self.db_url(self.budget_db),
                hook_secrets=json.dumps([self.dev.hook_secret]),
                hold_ttl="PT10M",
                queue=self.queue,
            ),
        }
        return {
            "todos-api": {**todos, "TODOS_PORT": str(TODOS_PORT)},
            "budget-api": {**budget, "BUDGET_PORT": str(BUDGET_PORT)},
            "todos-relay": {**todos, "TODOS_RELAY_METRICS_PORT": str(RELAY_METRICS)},
            "budget-consumer": {
                **budget,
                "BUDGET_CONSUMER_METRICS_PORT": str(CONSUMER_METRICS),
            },
        }

    def _replica(self, host: Host) -> Replica:
        replica = Replica(host)
        for name, env in self.service_env().items():
            log = self.root / f"{name}-{host.name}.log"
            proc = Proc(f"{name}@{host.name}", host, [str(VENV_BIN / name)], env, log, cwd=ROOT)
            replica.procs[name] = self.keeper.add(proc)
        return replica

    def _gateway(self, haproxy: str) -> None:
        assert self.dev is not None
        env = {
            **os.environ,
            "GATEWAY_BIND": f"{self.gw.addr}:{GATEWAY_PORT}",
            "GATEWAY_ADMIN_BIND": f"{self.gw.addr}:{ADMIN_PORT}",
            "JWT_PUBLIC_KEY_FILE": str(self.dev.public_key_file),
            "RATE_LIMIT_OWNER": "1000000",
        }
        for i, r in enumerate(self.replicas):
            env[f"TODOS_API_{i + 1}"] = f"{r.host.addr}:{TODOS_PORT}"
            env[f"BUDGET_API_{i + 1}"] = f"{r.host.addr}:{BUDGET_PORT}"
        for name in ("TODOS_API_DNS", "BUDGET_API_DNS", "WEB_DNS", "WEB_1"):
            env.pop(name, None)
        config = ROOT / "deploy" / "gateway" / "haproxy.cfg"
        argv = [haproxy, "-db", "-f", str(config)]
        self.gateway = self.keeper.add(
            Proc("gateway", self.gw, argv, env, self.root / "gateway.log")
        )

    @staticmethod
    def wait_ready(urls: list[str], timeout: float) -> None:
        """Until every URL answers 200."""
        deadline = time.monotonic() + timeout
        for url in urls:
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} not ready within {timeout:.0f}s")
                time.sleep(0.5)

    def down(self) -> None:
        """Stop every process, remove the hosts, the bridge and the directory."""
        try:
            self.keeper.stop_all()
        finally:
            self.net.heal()
            self.net.down()
            if os.environ.get("CLUSTER_KEEP_LOGS"):
                print(f"# cluster logs kept in {self.root}")
            else:
                shutil.rmtree(self.root, ignore_errors=True)


def new_cluster(name: str) -> Cluster:
    """A cluster description with its own temp directory (nothing started yet)."""
    return Cluster(name, Path(tempfile.mkdtemp(prefix=f"{name}-")))


def ensure_tools(log: Log) -> None:
    """Install what the cluster needs and this machine lacks (Debian packages)."""
    wanted = {
        "etcd": "etcd-server",
        "iptables": "iptables",
        "haproxy": "haproxy",
        "rabbitmq-server": "rabbitmq-server",
    }
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    missing = sorted({pkg for tool, pkg in wanted.items() if not shutil.which(tool, path=path)})
    if not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")):
        missing.append("postgresql")
    if not missing:
        return
    log(f"installing {' '.join(missing)} (apt-get install -y)")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        prepare.run([*sudo, "apt-get", "install", "-y", "-qq", *missing], log, env=env)
    except RuntimeError:
        prepare.run([*sudo, "apt-get", "update", "-qq"], log, env=env)
        prepare.run([*sudo, "apt-get", "install", "-y", "-qq", *missing], log, env=env)
    # The packages' own services may have been started by the install: the suite runs its own.
    subprocess.run([*sudo, "systemctl", "stop", "etcd"], capture_output=True, check=False)
