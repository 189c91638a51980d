"""`budget-dlq`: listing leaves the DLQ as it was; replaying applies a message once."""

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import aio_pika
import pytest
from prometheus_client import REGISTRY

from budget.adapters.dead_letters import watch_depth
from budget.config import Settings
from budget.entrypoints.dlq import main, run
from contracts.envelope import build_envelope, to_amqp
from contracts.events import TaskCompleted
from contracts.ids import OwnerId, TaskId
from tests.integration.conftest import Broker, Budget, RunningConsumer, eventually


async def _dead_letter(broker: Broker, body: bytes, message_id: str, type_: str) -> None:
    """Put a message in the DLQ the way the broker does: through the dead-letter exchange."""
    dlx = await broker.channel.get_exchange(broker.topology.dead_letter_exchange)
    message = aio_pika.Message(
        body, message_id=message_id, type=type_, delivery_mode=aio_pika.DeliveryMode.PERSISTENT
    )
    await dlx.publish(message, routing_key=type_)


async def test_list_shows_dead_letters_and_keeps_them(
    broker: Broker,
    consumer: RunningConsumer,
    consumer_settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await broker.publish_raw(b"garbage", "todos.task.completed.v1", message_id="bad-1")

    async def dead() -> bool:
        return await broker.dead_letter_count() == 1

    await eventually(dead)
    assert await run(consumer_settings, "list", None) == 1
    out = capsys.readouterr().out
    assert "bad-1" in out
    assert "todos.task.completed.v1" in out
    assert "rejected: not a CloudEvents 1.0 envelope" in out
    assert await broker.dead_letter_count() == 1


async def test_replay_applies_once_and_again_changes_nothing(
    budget: Budget, broker: Broker, consumer: RunningConsumer, consumer_settings: Settings
) -> None:
    owner, task, tt = uuid4(), uuid4(), await budget.token_type()
    await budget.credit(owner, tt, 10)
    await budget.cost(owner, task, tt, 4)
    event = TaskCompleted(
        task_id=TaskId(task), owner_id=OwnerId(owner), title="t", completed_at=datetime.now(UTC)
    )
    message = to_amqp(build_envelope(event))
    await _dead_letter(broker, message.body, message.message_id, message.type)
    await _dead_letter(broker, b"{}", "other", "todos.task.completed.v1")

    assert await run(consumer_settings, "replay", [message.message_id]) == 1

    async def applied() -> bool:
        return await budget.balance(owner, tt) == (6, 0)

    await eventually(applied)
    assert await broker.dead_letter_count() == 1  # the other one stayed

    duplicates = _duplicates()
    await _dead_letter(broker, message.body, message.message_id, message.type)
    assert await run(consumer_settings, "replay", [message.message_id]) == 1

    async def seen_as_duplicate() -> bool:
        return _duplicates() == duplicates + 1

    await eventually(seen_as_duplicate)
    assert await budget.balance(owner, tt) == (6, 0)
    assert await budget.debits(owner) == 1


def test_the_cli_reports_an_unreachable_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDGET_AMQP_URL", "amqp://guest:guest@127.0.0.1:1/")
    with pytest.raises(SystemExit) as exit_info:
        main(["list"])
    assert exit_info.value.code == 2


def _duplicates() -> float:
    labels = {"type": "todos.task.completed.v1", "outcome": "duplicate"}
    return REGISTRY.get_sample_value("budget_events_consumed_total", labels) or 0.0


async def test_the_dlq_depth_gauge_follows_the_queue(broker: Broker) -> None:
    """`budget_dlq_messages` (what BudgetDlqNotEmpty alerts on) counts the dead letters."""
    watcher = asyncio.create_task(watch_depth(broker.connection, broker.topology, 0.05))
    try:
        await _dead_letter(broker, b"garbage", "bad-depth", "todos.task.completed.v1")
        await _dead_letter(broker, b"garbage", "bad-depth-2", "todos.task.completed.v1")

        async def two() -> bool:
            return REGISTRY.get_sample_value("budget_dlq_messages") == 2

        await eventually(two)
    finally:
        watcher.cancel()
