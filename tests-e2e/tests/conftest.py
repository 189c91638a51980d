"""One stack per session, started by the same launcher as `make run`, on its own ports,
databases, exchange and queue; the tests talk only to its gateway and to RabbitMQ."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from e2e import broker
from e2e.api import Caller
from e2e.identity import TokenMaker
from e2e.stack import RunningStack, StackConfig, listening

pytestmark = pytest.mark.e2e


# Two suites may run side by side on one machine (e.g. two checkouts): E2E_PORT_OFFSET shifts
# every port, E2E_DB_SUFFIX every database name.
PORT_OFFSET = int(os.environ.get("E2E_PORT_OFFSET", "0"))
DB_SUFFIX = os.environ.get("E2E_DB_SUFFIX", "")


def stack_config(name: str, base: int, replicas: int = 1) -> StackConfig:
    """Ports from `base` (gateway base+80 ...), names unique to this session."""
    run = uuid.uuid4().hex[:8]
    base += PORT_OFFSET
    name += DB_SUFFIX
    return StackConfig(
        name=name,
        gateway_port=base + 80,
        admin_port=base + 404,
        todos_port=base + 1,
        budget_port=base + 2,
        metrics_port=base + 1101,
        web_port=base + 3,
        todos_db=f"todos_{name}",
        budget_db=f"budget_{name}",
        exchange=f"{name}.{run}.events",
        queue=f"{name}.{run}.budget",
        replicas=replicas,
    )


def start_stack(
    config: StackConfig, tmp: Path, env: dict[str, str] | None = None
) -> Iterator[RunningStack]:
    """Start, yield when ready, stop; then delete the broker objects it declared."""
    running = RunningStack(config, tmp / "dev", tmp / f"{config.name}.log", env)
    try:
        running.wait_ready()
        yield running
    finally:
        code = running.stop()
        asyncio.run(
            broker.delete(
                [config.exchange, f"{config.queue}.dlx"], [config.queue, config.dead_letter_queue]
            )
        )
        assert code == 0, f"launcher exited with {code}:\n{running.tail()}"
        # Stopping the launcher (as Ctrl-C does) leaves no listener of ours behind.
        assert listening(config.ports()) == [], running.tail()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The session's stack: one replica of each process on ports 18xxx."""
    yield from start_stack(stack_config("e2e", 18000), tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="session")
def tokens(stack: RunningStack) -> TokenMaker:
    """Signs tokens with the stack's development key."""
    return TokenMaker(stack.dev_dir)


CallerFactory = Callable[..., Awaitable[Caller]]


@pytest.fixture
async def caller(stack: RunningStack, tokens: TokenMaker) -> AsyncIterator[CallerFactory]:
    """Make callers (fresh owner ids; `admin=True` for an admin), closed after the test."""
    made: list[Caller] = []

    async def make(*, admin: bool = False) -> Caller:
        made.append(Caller(stack.config.gateway_url, tokens, admin=admin))
        return made[-1]

    yield make
    for c in made:
        await c.aclose()
