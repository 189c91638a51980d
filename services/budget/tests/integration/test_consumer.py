"""The consumer against real RabbitMQ and PostgreSQL (docs/architecture.md#the-consumer)."""

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID, uuid4

from prometheus_client import REGISTRY

from budget.config import Settings
from budget.domain.model import TokenType
from contracts.envelope import build_envelope
from contracts.events import TaskCompleted, TaskCompletionAborted, TaskDeleted
from contracts.ids import OwnerId, TaskId
from tests.integration.conftest import (
    Broker,
    Budget,
    DatabaseProxy,
    RunningConsumer,
    eventually,
)


def completed(owner: UUID, task: UUID) -> TaskCompleted:
    return TaskCompleted(
        task_id=TaskId(task), owner_id=OwnerId(owner), title="t", completed_at=datetime.now(UTC)
    )


async def _costed_task(budget: Budget, credit: int, cost: int) -> tuple[UUID, UUID, TokenType]:
    owner, task, token_type = uuid4(), uuid4(), await budget.token_type()
    if credit:
        await budget.credit(owner, token_type, credit)
    await budget.cost(owner, task, token_type, cost)
    return owner, task, token_type


async def test_completed_debits_once_and_captures_the_hold(
    budget: Budget, broker: Broker, consumer: RunningConsumer
) -> None:
    owner, task, tt = await _costed_task(budget, credit=10, cost=6)
    assert await budget.hold(owner, task)
    assert await budget.balance(owner, tt) == (10, 6)
    await broker.publish_event(completed(owner, task))

    async def debited() -> bool:
        return await budget.balance(owner, tt) == (4, 0)

    await eventually(debited)
    assert await budget.debits(owner) == 1


async def test_the_same_event_twice_and_two_event_ids_debit_once(
    budget: Budget, broker: Broker, consumer: RunningConsumer
) -> None:
    owner, task, tt = await _costed_task(budget, credit=10, cost=3)
    event = completed(owner, task)
    event_id = await broker.publish_event(event)
    await broker.publish_event(event, event_id=event_id)  # redelivery of the same event
    await broker.publish_event(completed(owner, task))  # another event id for the task
    # A marker event on another task: once it is applied, the three before it were handled.
    marker_owner, marker_task, _ = await _costed_task(budget, credit=0, cost=1)
    await broker.publish_event(completed(marker_owner, marker_task))

    async def marker_applied() -> bool:
        return await budget.debits(marker_owner) == 1

    await eventually(marker_applied)
    await eventually(lambda: _queue_drained(broker))
    assert await budget.debits(owner) == 1
    assert await budget.balance(owner, tt) == (7, 0)


async def _queue_drained(broker: Broker) -> bool:
    return await broker.queue_count() == 0


async def test_a_debit_is_never_refused_and_may_go_negative(
    budget: Budget, broker: Broker, consumer: RunningConsumer
) -> None:
    owner, task, tt = await _costed_task(budget, credit=2, cost=5)
    await broker.publish_event(completed(owner, task))

    async def negative() -> bool:
        return await budget.balance(owner, tt) == (-3, 0)

    await eventually(negative)


async def test_deleted_removes_the_cost_and_keeps_the_hold_for_its_completion(
    budget: Budget, broker: Broker, consumer: RunningConsumer
) -> None:
    owner, task, tt = await _costed_task(budget, credit=10, cost=4)
    assert await budget.hold(owner, task)
    deleted = TaskDeleted(
        task_id=TaskId(task), owner_id=OwnerId(owner), deleted_at=datetime.now(UTC)
    )
    await broker.publish_event(deleted)

    async def retired() -> bool:
        return await budget.costs_of(owner) == 0

    await eventually(retired)
    assert await budget.balance(owner, tt) == (10, 4)


async def test_completion_aborted_releases_the_hold_only(
    budget: Budget, broker: Broker, consumer: RunningConsumer
) -> None:
    owner, task, tt = await _costed_task(budget, credit=10, cost=4)
    assert await budget.hold(owner, task)
    aborted = TaskCompletionAborted(
        task_id=TaskId(task), owner_id=OwnerId(owner), aborted_at=datetime.now(UTC), reason="veto"
    )
    await broker.publish_event(aborted)

    async def released() -> bool:
        return await budget.balance(owner, tt) == (10, 0)

    await eventually(released)
    assert await budget.costs_of(owner) == 1


async def test_unusable_messages_are_dead_lettered_and_consuming_goes_on(
    budget: Budget, broker: Broker, consumer: RunningConsumer
) -> None:
    owner, task, tt = await _costed_task(budget, credit=10, cost=1)
    await broker.publish_raw(b"{not json", "todos.task.completed.v1")
    unknown = build_envelope(completed(owner, task)).model_copy(
        update={"type": "todos.task.completed.v9"}
    )
    # Routed with a key budget binds (a .v9 key is not routed here at all: it is parked).
    await broker.publish_raw(unknown.model_dump_json().encode(), "todos.task.completed.v1")
    invalid = json.loads(build_envelope(completed(owner, task)).model_dump_json())
    invalid["data"]["owner_id"] = "not-a-uuid"
    await broker.publish_raw(json.dumps(invalid).encode(), "todos.task.completed.v1")
    await broker.publish_event(completed(owner, task))

    async def three_dead() -> bool:
        return await broker.dead_letter_count() == 3

    await eventually(three_dead)

    async def applied() -> bool:
        return await budget.balance(owner, tt) == (9, 0)

    await eventually(applied)


async def test_a_database_outage_dead_letters_nothing_and_loses_nothing(
    budget: Budget,
    broker: Broker,
    consumer_settings: Settings,
    db_proxy: DatabaseProxy,
    start_consumer: Callable[[Settings], Awaitable[RunningConsumer]],
) -> None:
    url = consumer_settings.database_url.replace("127.0.0.1:5432", f"127.0.0.1:{db_proxy.port}")
    await start_consumer(consumer_settings.model_copy(update={"database_url": url}))
    tasks = [await _costed_task(budget, credit=5, cost=2) for _ in range(6)]
    await broker.publish_event(completed(tasks[0][0], tasks[0][1]))

    async def first_applied() -> bool:
        return await budget.balance(tasks[0][0], tasks[0][2]) == (3, 0)

    await eventually(first_applied)
    await db_proxy.cut()
    for owner, task, _ in tasks[1:]:
        await broker.publish_event(completed(owner, task))
    # The five messages are being retried (unacked), far more often than the delivery limit
    # of 2 would allow had they been nacked.
    retries_before = _db_retries()

    async def retrying() -> bool:
        return _db_retries() >= retries_before + 10

    await eventually(retrying)
    assert await broker.dead_letter_count() == 0
    await db_proxy.start()

    async def all_applied() -> bool:
        return all([await budget.balance(o, tt) == (3, 0) for o, _, tt in tasks])

    await eventually(all_applied, seconds=15)
    assert await broker.dead_letter_count() == 0
    for owner, _, _ in tasks:
        assert await budget.debits(owner) == 1


def _db_retries() -> float:
    return REGISTRY.get_sample_value("budget_consumer_db_retries_total") or 0.0
