"""The consumer's heartbeat: written while it runs, with the broker's state; stale once stopped."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from budget.config import Settings
from budget.heartbeat import problem
from tests.integration.conftest import RunningConsumer


async def test_the_consumer_beats_with_the_broker_connected(
    start_consumer: Callable[[Settings], Awaitable[RunningConsumer]],
    consumer_settings: Settings,
    tmp_path: Path,
) -> None:
    beat = tmp_path / "heartbeat"
    running = await start_consumer(
        consumer_settings.model_copy(update={"heartbeat_file": str(beat)})
    )
    deadline = time.monotonic() + 20
    while problem(beat, 60, {"broker": "ok"}, time.time()) is not None:
        assert time.monotonic() < deadline, problem(beat, 60, {"broker": "ok"}, time.time())
        await asyncio.sleep(0.2)
    running.stop.set()
    async with asyncio.timeout(20):
        await running.task
    # Stopped: nothing writes it any more (it beat every 5 s while running).
    last = beat.read_text()
    await asyncio.sleep(5.5)
    assert beat.read_text() == last
