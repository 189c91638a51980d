"""The consumer applies at most one event per owner at a time, others in parallel."""

import asyncio
from collections import Counter
from datetime import UTC, datetime
from uuid import UUID, uuid4

from budget.adapters.consumer import EventConsumer, KeyedLanes
from budget.service_layer.events import Outcome
from contracts.envelope import ParsedEvent, build_envelope, to_amqp
from contracts.events import TaskCompleted
from contracts.ids import OwnerId, TaskId


class _Delivery:
    """The parts of an aio-pika incoming message the consumer uses."""

    def __init__(self, body: bytes) -> None:
        self.body, self.message_id, self.acked = body, None, False

    async def ack(self) -> None:
        self.acked = True

    async def nack(self, requeue: bool = True) -> None:
        raise AssertionError("not expected")

    async def reject(self, requeue: bool = False) -> None:
        raise AssertionError("not expected")


def _completed(owner: UUID) -> _Delivery:
    event = TaskCompleted(
        task_id=TaskId(uuid4()), owner_id=OwnerId(owner), title="t", completed_at=datetime.now(UTC)
    )
    return _Delivery(to_amqp(build_envelope(event, correlation_id=None)).body)


def test_one_event_per_owner_at_a_time_and_owners_in_parallel() -> None:
    running: Counter[UUID] = Counter()
    most: Counter[UUID] = Counter()
    overall = 0
    peak = 0

    async def apply(parsed: ParsedEvent) -> Outcome:
        nonlocal overall, peak
        owner = parsed.event.owner_id  # type: ignore[attr-defined]
        running[owner] += 1
        overall += 1
        most[owner] = max(most[owner], running[owner])
        peak = max(peak, overall)
        await asyncio.sleep(0.01)
        running[owner] -= 1
        overall -= 1
        return Outcome.APPLIED

    owners = [uuid4() for _ in range(3)]
    deliveries = [_completed(owner) for owner in owners for _ in range(5)]
    consumer = EventConsumer(apply)

    async def main() -> None:
        await asyncio.gather(*(consumer.process(d) for d in deliveries))  # type: ignore[arg-type]

    asyncio.run(main())
    assert all(d.acked for d in deliveries)
    assert set(most.values()) == {1}  # never two of one owner at once
    assert peak == len(owners)  # but the owners in parallel


def test_lanes_are_forgotten_when_idle() -> None:
    lanes = KeyedLanes()

    async def main() -> None:
        async def use(key: str) -> None:
            async with lanes.lane(key):
                await asyncio.sleep(0)

        await asyncio.gather(*(use(k) for k in "aab"))

    asyncio.run(main())
    assert len(lanes) == 0
