"""RabbitMQ nodes, one per host, clustered with `join_cluster`; Debian's rabbitmq-server.

Each node has its own directory (data, logs, config) and the cluster's shared Erlang cookie;
long node names with the host's address (`rabbit@198.18.21.11`), so nothing needs
/etc/hosts; each namespace has its own loopback, so each node runs its own epmd.
`pause_minority`: a node cut off from the majority stops serving (closing its clients'
connections) until the partition heals, so no client is served by a minority.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from e2e.cluster.net import Host
from e2e.cluster.procs import Keeper, Proc

AMQP_PORT = 5672
# A dead peer is noticed within ~net_ticktime (default 60 s): a partition is seen in seconds.
NET_TICKTIME = 8


def sbin() -> Path:
    """Where rabbitmq-server and rabbitmqctl live (the Debian package's own scripts)."""
    for candidate in (Path("/usr/lib/rabbitmq/bin"), Path("/usr/sbin")):
        if (candidate / "rabbitmq-server").exists():
            return candidate
    raise RuntimeError("rabbitmq-server is not installed (apt-get install rabbitmq-server)")


class RabbitNode:
    """One broker node on `host`; `proc` is kept alive by the cluster's keeper once started."""

    def __init__(self, host: Host, root: Path, cookie: str) -> None:
        self.host = host
        self.node = f"rabbit@{host.addr}"
        self.dir = root / f"rabbit-{host.name}"
        self.dir.mkdir(parents=True, exist_ok=True)
        cookie_file = self.dir / ".erlang.cookie"
        cookie_file.write_text(cookie)
        cookie_file.chmod(0o400)
        (self.dir / "rabbitmq-env.conf").write_text("# the suite sets everything itself\n")
        (self.dir / "enabled_plugins").write_text("[rabbitmq_consistent_hash_exchange].\n")
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {host.addr}:{AMQP_PORT}\n"
            "loopback_users.guest = false\n"
            "cluster_partition_handling = pause_minority\n"
            # No disk alarm on a busy shared box: the suite's data is small.
            "disk_free_limit.absolute = 50MB\n"
        )
        (self.dir / "advanced.config").write_text(
            f"[{{kernel, [{{net_ticktime, {NET_TICKTIME}}}]}}].\n"
        )
        self.proc: Proc | None = None

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@{self.host.addr}:{AMQP_PORT}/"

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(self.dir),  # its cookie: .erlang.cookie here
            "RABBITMQ_USE_LONGNAME": "true",
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_PID_FILE": str(self.dir / "pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            # Not the machine's /etc/rabbitmq/rabbitmq-env.conf (it may pin epmd and the
            # distribution to loopback): this node's peers reach it on its address.
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "rabbitmq-env.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.dir / "advanced.config"),
            # No busy-waiting schedulers: three nodes must not eat a 2-core box's CPU.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "+sbwt none +sbwtdcpu none +sbwtdio none",
        }

    def start(self, keeper: Keeper) -> None:
        """Start the host's epmd, then the node (both kept alive by `keeper`)."""
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        keeper.add(Proc(f"epmd-{self.host.name}", self.host, [epmd], self.env(),
                        self.dir / "epmd.log"))  # fmt: skip
        argv = [str(sbin() / "rabbitmq-server")]
        self.proc = keeper.add(
            Proc(
                f"rabbit-{self.host.name}",
                self.host,
                argv,
                self.env(),
                self.dir / "server.log",
                cwd=self.dir,
            )
        )

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """`rabbitmqctl -n <node> ...` from inside the node's host; its output."""
        argv = self.host.argv([str(sbin() / "rabbitmqctl"), "-n", self.node, *args])
        done = subprocess.run(
            argv, env=self.env(), capture_output=True, text=True, timeout=timeout, cwd=self.dir,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} on {self.node}: {done.stderr[-400:]}")
        return done.stdout

    def await_startup(self, timeout: float = 120) -> None:
        """Until the broker runs (its app started)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.ctl("await_startup", "--timeout", "20", timeout=30)
                return
            except (RuntimeError, subprocess.TimeoutExpired):
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def join(self, seed: RabbitNode) -> None:
        """Join `seed`'s cluster (stop_app, join_cluster, start_app)."""
        self.ctl("stop_app")
        self.ctl("join_cluster", seed.node)
        self.ctl("start_app")

    def queues(self) -> list[dict[str, object]]:
        """name, type, leader and members of every queue, as this node sees them."""
        out = self.ctl("list_queues", "-q", "--formatter", "json", "name", "type", "leader",
                       "members", "messages", timeout=30)  # fmt: skip
        return list(json.loads(out or "[]"))

    def cluster_status(self) -> dict[str, object]:
        """`rabbitmqctl cluster_status` as JSON."""
        return dict(json.loads(self.ctl("cluster_status", "--formatter", "json", timeout=30)))

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
