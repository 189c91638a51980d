"""Hosts on one machine: a network namespace each, wired to one bridge, all made and removed here.

Every namespace is named `<prefix>-<host>` and has one address in the suite's /24; the
bridge holds `.1` so the suite itself (in the machine's namespace) reaches every host. A
partition drops the packets between two hosts silently, as a cut link does (iptables DROP
rules inside each side's namespace, never in the machine's own tables): a sender learns of
it only by its own timeouts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = os.environ.get("CLUSTER_NETNS_PREFIX", "tbclu")
SUBNET = os.environ.get("CLUSTER_SUBNET", "198.18.21")  # only 198.18.0.0/15 is ours to use


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    """`ip ...` (inside `netns` when given); its output."""
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


def iptables(*args: str, netns: str, check: bool = True) -> None:
    """`iptables ...` inside `netns` (that namespace's own tables)."""
    argv = ["ip", "netns", "exec", netns, "iptables", "-w", *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")


@dataclass
class Host:
    """One namespace and its address."""

    name: str
    addr: str

    @property
    def netns(self) -> str:
        return f"{PREFIX}-{self.name}"

    def argv(self, command: Sequence[str], user: str | None = None) -> list[str]:
        """`command` run inside this host (as `user` when given)."""
        as_user = ["runuser", "-u", user, "--"] if user else []
        return ["ip", "netns", "exec", self.netns, *as_user, *command]

    def pids(self) -> list[int]:
        """Every process living in this namespace."""
        out = subprocess.run(
            ["ip", "netns", "pids", self.netns], capture_output=True, text=True, check=False
        ).stdout
        return [int(p) for p in out.split()]

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        """Signal every process of the host (they are all ours: we made the namespace)."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)


@dataclass
class Network:
    """The bridge and the hosts on it; `down()` removes everything `up()`/`add()` made."""

    bridge: str = f"{PREFIX}0"
    hosts: dict[str, Host] = field(default_factory=dict)
    _cut: set[tuple[str, str]] = field(default_factory=set)

    def up(self) -> None:
        """The bridge with the suite's own address `.1` (stale leftovers removed first)."""
        self.sweep()
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{SUBNET}.1/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")

    def add(self, name: str, last_octet: int) -> Host:
        """A namespace joined to the bridge by a veth pair; lo and the link up."""
        host = Host(name, f"{SUBNET}.{last_octet}")
        self.hosts[name] = host
        outer, inner = f"{PREFIX[:3]}-{name}"[:15], "eth0"
        ip("netns", "add", host.netns)
        ip("link", "add", outer, "type", "veth", "peer", "name", f"{outer}-i"[:15])
        ip("link", "set", f"{outer}-i"[:15], "netns", host.netns)
        ip("link", "set", f"{outer}-i"[:15], "name", inner, netns=host.netns)
        ip("addr", "add", f"{host.addr}/24", "dev", inner, netns=host.netns)
        ip("link", "set", "lo", "up", netns=host.netns)
        ip("link", "set", inner, "up", netns=host.netns)
        ip("link", "set", outer, "master", self.bridge)
        ip("link", "set", outer, "up")
        return host

    def partition(self, side: Sequence[str], other: Sequence[str]) -> None:
        """Cut every host of `side` off every host of `other` (both ways)."""
        for a in side:
            for b in other:
                for x, y in ((a, b), (b, a)):
                    if (x, y) in self._cut:
                        continue
                    peer, netns = self.hosts[y].addr, self.hosts[x].netns
                    iptables("-A", "OUTPUT", "-d", peer, "-j", "DROP", netns=netns)
                    iptables("-A", "INPUT", "-s", peer, "-j", "DROP", netns=netns)
                    self._cut.add((x, y))

    def heal(self) -> None:
        """Remove every cut."""
        for x in sorted({c[0] for c in self._cut}):
            iptables("-F", netns=self.hosts[x].netns, check=False)
        self._cut.clear()

    def down(self) -> None:
        """Kill whatever runs in the hosts, remove them and the bridge."""
        for host in self.hosts.values():
            host.kill_all()
        time.sleep(0.2)
        self.sweep()
        self.hosts.clear()

    def sweep(self) -> None:
        """Remove every namespace with our prefix (processes first) and the bridge."""
        names = [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]
        for netns in (n for n in names if n.startswith(f"{PREFIX}-")):
            Host(netns.removeprefix(f"{PREFIX}-"), "").kill_all()
            time.sleep(0.1)
            ip("netns", "delete", netns, check=False)
        if Path(f"/sys/class/net/{self.bridge}").exists():
            ip("link", "delete", self.bridge, check=False)
