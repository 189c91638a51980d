"""The consumer's batches: one event per owner in flight, delivery order kept per owner,
garbage and failing events settled on their own."""

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID, uuid4

from budget.adapters.consumer import EventConsumer
from budget.service_layer.events import Outcome
from contracts.envelope import ParsedEvent, build_envelope, to_amqp
from contracts.events import TaskCompleted
from contracts.ids import OwnerId, TaskId
from tests.unit.fake_failures import FakeFailureCounter


class _Delivery:
    """The parts of an aio-pika incoming message the consumer uses."""

    def __init__(self, body: bytes) -> None:
        self.body, self.message_id = body, None
        self.settled: str | None = None

    async def ack(self) -> None:
        self.settled = "ack"

    async def nack(self, requeue: bool = True) -> None:
        self.settled = f"nack requeue={requeue}"

    async def reject(self, requeue: bool = False) -> None:
        self.settled = f"reject requeue={requeue}"


def _completed(owner: UUID, task: UUID | None = None) -> _Delivery:
    event = TaskCompleted(
        task_id=TaskId(task or uuid4()),
        owner_id=OwnerId(owner),
        title="t",
        completed_at=datetime.now(UTC),
    )
    return _Delivery(to_amqp(build_envelope(event, correlation_id=None)).body)


def _run(consumer: EventConsumer, deliveries: Sequence[_Delivery]) -> None:
    async def main() -> None:
        await asyncio.gather(*(consumer.process(d) for d in deliveries))  # type: ignore[arg-type]

    asyncio.run(main())


def test_one_event_per_owner_in_flight_in_order_and_owners_batched_together() -> None:
    running: Counter[UUID] = Counter()
    most: Counter[UUID] = Counter()
    order: dict[UUID, list[UUID]] = {}
    sizes: list[int] = []

    async def apply(batch: Sequence[ParsedEvent]) -> list[Outcome]:
        owners = [p.event.owner_id for p in batch]  # type: ignore[attr-defined]
        assert len(set(owners)) == len(owners)  # one per owner in a batch
        sizes.append(len(batch))
        for parsed in batch:
            owner = parsed.event.owner_id  # type: ignore[attr-defined]
            running[owner] += 1
            most[owner] = max(most[owner], running[owner])
            order.setdefault(owner, []).append(parsed.event.task_id)  # type: ignore[attr-defined]
        await asyncio.sleep(0.01)
        for owner in owners:
            running[owner] -= 1
        return [Outcome.APPLIED] * len(batch)

    owners = [uuid4() for _ in range(3)]
    tasks = {owner: [uuid4() for _ in range(5)] for owner in owners}
    deliveries = [_completed(owner, tasks[owner][i]) for i in range(5) for owner in owners]
    _run(
        EventConsumer(apply, failures=FakeFailureCounter(), max_batch=10, max_batches=2), deliveries
    )
    assert all(d.settled == "ack" for d in deliveries)
    assert set(most.values()) == {1}  # never two of one owner at once, across batches too
    assert order == tasks  # each owner's events in delivery order
    assert max(sizes) == len(owners)  # but the owners together


def test_garbage_is_dead_lettered_alone_and_a_failing_event_requeued_alone() -> None:
    poison_owner = uuid4()

    async def apply(batch: Sequence[ParsedEvent]) -> list[Outcome]:
        if any(p.event.owner_id == poison_owner for p in batch):  # type: ignore[attr-defined]
            raise ValueError("a bug this event triggers")
        return [Outcome.APPLIED] * len(batch)

    good = [_completed(uuid4()) for _ in range(4)]
    poison = _completed(poison_owner)
    garbage = _Delivery(b"not json")
    failures = FakeFailureCounter()
    consumer = EventConsumer(apply, failures=failures, max_failures=3, max_batch=10)
    _run(consumer, [*good[:2], poison, garbage, *good[2:]])
    assert [d.settled for d in good] == ["ack"] * 4
    assert poison.settled == "nack requeue=True"  # failed once in our code: requeued
    assert garbage.settled == "reject requeue=False"  # straight to the DLQ
    assert sum(failures.failures.values()) == 1  # only the poison event's own failure counts


def test_an_event_is_dead_lettered_after_its_own_failures_only() -> None:
    async def apply(batch: Sequence[ParsedEvent]) -> list[Outcome]:
        raise ValueError("a bug this event triggers")

    poison = _completed(uuid4())
    failures = FakeFailureCounter()
    consumer = EventConsumer(apply, failures=failures, max_failures=3)
    settled = []
    for _ in range(3):  # three deliveries that reach our code and fail there
        _run(consumer, [poison])
        settled.append(poison.settled)
    assert settled == ["nack requeue=True", "nack requeue=True", "reject requeue=False"]


def test_an_uncounted_failure_is_requeued() -> None:
    class Down:
        async def record(self, event_id: UUID, event_type: str, error: str) -> int:
            raise OSError("the database is gone too")

    async def apply(batch: Sequence[ParsedEvent]) -> list[Outcome]:
        raise ValueError("a bug this event triggers")

    poison = _completed(uuid4())
    _run(EventConsumer(apply, failures=Down(), max_failures=1), [poison])
    assert poison.settled == "nack requeue=True"  # the broker's limit still bounds it
