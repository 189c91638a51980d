"""`python -m e2e.cluster [--smoke] [--cases a,b] [--seed N]`: the system on a cluster of
network namespaces, a nemesis case at a time, one checker line each.

Needs root (namespaces, a bridge, iptables inside the namespaces); installs what is missing
(etcd-server, iptables, haproxy; Patroni from the lockfile). Everything it starts or makes is
removed at the end, whatever happens (CLUSTER_KEEP_LOGS=1 keeps the temp directory with every
node's and process's log). Exit status 1 when any case broke a promise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import time
from types import FrameType

from e2e.cluster import scaling
from e2e.cluster.cases import CASES, ClusterVerdict, Params
from e2e.cluster.system import Cluster, ensure_tools, new_cluster
from e2e.faults.checker import Verdict

DB_SUFFIX = os.environ.get("E2E_DB_SUFFIX", "")
SMOKE = ("story", "rabbit-leader-kill")


def _say(line: str) -> None:
    print(f"# {line}", flush=True)


async def run(c: Cluster, names: list[str], params: Params, seed: int) -> list[ClusterVerdict]:
    """Each case in turn; a case that cannot finish is a failed case."""
    verdicts = []
    for name in names:
        started = time.monotonic()
        try:
            async with asyncio.timeout(600):
                verdict = await CASES[name](c, params, random.Random(f"{seed}:{name}"))
        except Exception as exc:
            v = Verdict(name, seconds=time.monotonic() - started)
            v.failures.append(f"did not finish: {type(exc).__name__}: {exc}")
            verdict = ClusterVerdict(v)
        verdicts.append(verdict)
        print(verdict.line(), flush=True)
    return verdicts


def _terminate(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)  # unwinds every `finally`


def main(argv: list[str] | None = None) -> int:
    """Up, cases, down; 1 when any case failed."""
    p = argparse.ArgumentParser(prog="python -m e2e.cluster", description=__doc__)
    p.add_argument("--smoke", action="store_true", help=f"CI's short run: {', '.join(SMOKE)}")
    p.add_argument("--cases", default="", help=f"comma-separated; default all: {','.join(CASES)}")
    p.add_argument(
        "--no-scaling",
        action="store_true",
        help="skip the one-replica-versus-two measurement (the smoke never runs it)",
    )
    p.add_argument("--scale-rate", type=float, default=20.0, help="completions/s of that load")
    p.add_argument("--seed", type=int, default=int(os.environ.get("FAULTS_SEED", "9")))
    a = p.parse_args(argv)
    names = [n for n in a.cases.split(",") if n and n != "none"]
    if not a.cases:
        names = list(SMOKE) if a.smoke else list(CASES)
    if unknown := [n for n in names if n not in CASES]:
        p.error(f"unknown case(s) {unknown}; known: {list(CASES)}")
    if os.geteuid() != 0:
        p.error("needs root: it makes network namespaces and a bridge")
    params = Params.smoke() if a.smoke else Params()
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    ensure_tools(_say)
    cluster = new_cluster(f"cluster{DB_SUFFIX}")
    verdicts: list[ClusterVerdict] = []
    try:
        cluster.up(_say)
        _say(f"cluster up in {time.monotonic() - started:.0f}s (logs in {cluster.root})")
        verdicts = asyncio.run(run(cluster, names, params, a.seed))
        if not (a.smoke or a.no_scaling):
            runs = asyncio.run(scaling.compare(cluster, a.scale_rate, 30.0, owners=4))
            if not all(r.passed for r in runs):
                verdicts.append(ClusterVerdict(Verdict("scaling", failures=["not exact"])))
    except KeyboardInterrupt as stop:
        _say(f"interrupted ({stop or 'Ctrl-C'}): tearing the cluster down")
        return 130
    finally:
        cluster.down()
    failed = [v.verdict.case for v in verdicts if not v.passed]
    _say(
        f"{len(verdicts) - len(failed)}/{len(names)} cases passed in "
        f"{time.monotonic() - started:.0f}s (seed {a.seed}); failed: {failed or 'none'}"
    )
    return 1 if failed or len(verdicts) < len(names) else 0


if __name__ == "__main__":
    sys.exit(main())
