"""`python -m e2e.faults [--short] [--seed N] [--cases a,b]`: run the fault cases, one line each.

Stacks come from the same launcher as `make run`, on their own ports, databases, exchange and
queue. The RabbitMQ and PostgreSQL outages run against private servers this command starts
in a temp dir and always stops; the machine's servers are never stopped.
Exit status 1 when any case broke a promise (see e2e.faults.checker).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import FrameType

from e2e import broker
from e2e.faults.cases import CASES, Params, Target
from e2e.faults.checker import Verdict
from e2e.faults.hooks import HookServer
from e2e.faults.infra import PrivatePostgres, PrivateRabbit
from e2e.identity import TokenMaker
from e2e.stack import RunningStack, StackConfig, listening

# Like the e2e suite: E2E_PORT_OFFSET shifts the stacks' ports, E2E_DB_SUFFIX their databases.
# The private servers and hook subscribers listen from FAULTS_PORT_BASE (default 35400).
PORT_OFFSET = int(os.environ.get("E2E_PORT_OFFSET", "0"))
DB_SUFFIX = os.environ.get("E2E_DB_SUFFIX", "")
PORT_BASE = int(os.environ.get("FAULTS_PORT_BASE", "35400"))
STACK_BASES = {"local": 18400, "rabbitmq": 18600, "postgres": 18800}
CASE_TIMEOUT = 420.0


def stack_config(kind: str, hooks: dict[str, HookServer], warm_spares: bool) -> StackConfig:
    """Ports from this kind's base, names unique to this run (e2e conftest's layout)."""
    base = STACK_BASES[kind] + PORT_OFFSET
    name = f"faults_{kind}{DB_SUFFIX}"
    run = uuid.uuid4().hex[:8]
    extra = {
        # Slow subscriber: within its timeout when "slow" (3 s), beyond it when "first-slow".
        "slow": "policy=fail,timeout=5",
        # Garbage answers count as a failure: `ignore` makes them an allow.
        "garbage": "policy=ignore,timeout=1",
    }
    return StackConfig(
        name=name,
        gateway_port=base + 80,
        admin_port=base + 404,
        todos_port=base + 1,
        budget_port=base + 2,
        metrics_port=base + 1101,
        todos_db=f"todos_{name}",
        budget_db=f"budget_{name}",
        exchange=f"{name}.{run}.events",
        queue=f"{name}.{run}.budget",
        rate_limit_owner=1_000_000,  # the workload, not the gateway's limit, sets the pace
        extra_hooks=tuple(f"name={n},url={h.url},{extra[n]}" for n, h in hooks.items()),
        warm_spares=warm_spares,
    )


@contextlib.asynccontextmanager
async def target(kind: str, workdir: Path, warm_spares: bool) -> AsyncIterator[Target]:
    """A stack of `kind` (and its private server, hook subscribers), stopped afterwards."""
    hooks: dict[str, HookServer] = {}
    rabbit: PrivateRabbit | None = None
    postgres: PrivatePostgres | None = None
    running: RunningStack | None = None
    env: dict[str, str] = {}
    amqp_url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    try:
        if kind == "local":
            hooks = {"slow": HookServer(PORT_BASE + 1), "garbage": HookServer(PORT_BASE + 2)}
            for h in hooks.values():
                await h.start()
        if kind == "rabbitmq":
            rabbit = PrivateRabbit(PORT_BASE + 72)
            await asyncio.to_thread(rabbit.start)
            amqp_url = env["AMQP_URL"] = rabbit.amqp_url
        if kind == "postgres":
            postgres = PrivatePostgres(PORT_BASE + 32)
            await asyncio.to_thread(postgres.start)
            env.update(postgres.env)
        config = stack_config(kind, hooks, warm_spares)
        running = RunningStack(config, workdir / "dev", workdir / f"{config.name}.log", env)
        await asyncio.to_thread(running.wait_ready)
        pg_env = {"PGHOST": "127.0.0.1", "PGPORT": "5432", "PGUSER": "postgres"}
        pg_env.update(postgres.env if postgres else {})
        yield Target(
            running, TokenMaker(running.dev_dir), amqp_url, pg_env, rabbit, postgres, hooks
        )
    finally:
        if running is not None:
            code = await asyncio.to_thread(running.stop)
            left = listening(running.config.ports())
            if code != 0 or left:
                print(f"# {kind} stack: launcher exited {code}, still listening {left}")
            if rabbit is None:
                c = running.config
                with contextlib.suppress(Exception):
                    await _delete_broker_objects(amqp_url, c)
        for h in hooks.values():
            await h.stop()
        if rabbit is not None:
            await asyncio.to_thread(rabbit.stop)
        if postgres is not None:
            await asyncio.to_thread(postgres.stop)


async def _delete_broker_objects(amqp_url: str, c: StackConfig) -> None:
    broker.AMQP_URL = amqp_url
    await broker.delete(
        [c.exchange, f"{c.queue}.dlx"],
        [c.queue, c.dead_letter_queue, f"{c.exchange}.unrouted"],
    )


async def run(
    names: list[str], params: Params, seed: int, workdir: Path, warm_spares: bool = False
) -> list[Verdict]:
    """Run the cases grouped by the stack they need; print each line as it comes."""
    verdicts: list[Verdict] = []
    kinds = sorted({CASES[n][1] for n in names}, key=list(STACK_BASES).index)
    for kind in kinds:
        print(f"# starting the {kind} stack (logs in {workdir})", flush=True)
        async with target(kind, workdir, warm_spares) as t:
            for name in (n for n in names if CASES[n][1] == kind):
                case, _ = CASES[name]
                rng = random.Random(f"{seed}:{name}")
                started = time.monotonic()
                try:
                    async with asyncio.timeout(CASE_TIMEOUT):
                        verdict = await case(t, params, rng)
                except Exception as exc:  # a case that cannot finish is a failed case
                    verdict = Verdict(name, seconds=time.monotonic() - started)
                    verdict.failures.append(f"did not finish: {type(exc).__name__}: {exc}")
                verdicts.append(verdict)
                print(verdict.line(), flush=True)
    return verdicts


def _terminate(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)  # unwinds every `finally`


def main(argv: list[str] | None = None) -> int:
    """Parse, run, summarise; 1 when any case failed."""
    p = argparse.ArgumentParser(prog="python -m e2e.faults", description=__doc__)
    p.add_argument("--short", action="store_true", help="the seeded subset `make test` runs")
    p.add_argument("--seed", type=int, default=int(os.environ.get("FAULTS_SEED", "9")))
    p.add_argument(
        "--cases",
        default="",
        help=f"comma-separated names or stack kinds ({','.join(STACK_BASES)}); default all: "
        f"{','.join(CASES)}",
    )
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument(
        "--cold-restarts",
        action="store_true",
        help="start the stacks without the launcher's --warm-spares (a killed worker then "
        "comes back only after a full start-up)",
    )
    p.add_argument("--workdir", type=Path, help="where the stack logs go (default: a temp dir)")
    a = p.parse_args(argv)
    if a.list:
        for name, (case, kind) in CASES.items():
            print(f"{name:<28} [{kind}] {(case.__doc__ or '').splitlines()[0]}")
        return 0
    asked = [n for n in a.cases.split(",") if n] or list(CASES)
    names = [c for n in asked for c in ([k for k, v in CASES.items() if v[1] == n] or [n])]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        p.error(f"unknown case(s) {unknown}; known: {list(CASES)}")
    workdir = a.workdir or Path(tempfile.mkdtemp(prefix="faults-"))
    workdir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _terminate)
    params = Params.short() if a.short else Params()
    started = time.monotonic()
    try:
        verdicts = asyncio.run(run(names, params, a.seed, workdir, not a.cold_restarts))
    except KeyboardInterrupt as stop:  # everything started was stopped on the way out
        print(f"# interrupted ({stop or 'Ctrl-C'}): stacks and private servers stopped")
        return 130
    failed = [v.case for v in verdicts if not v.passed]
    print(
        f"# {len(verdicts) - len(failed)}/{len(verdicts)} cases passed "
        f"in {time.monotonic() - started:.0f}s (seed {a.seed}); failed: {failed or 'none'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
