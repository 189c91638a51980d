"""budget as the consumer of todos' events (message pact): what it reads, with matchers.

Each message in the pact is fed through budget's real consumer path: `EventConsumer.process`
(which calls `contracts.envelope.parse_event`) applying `handle_events` and its handler table,
on the in-memory repositories of the unit tests. The test fails unless the message is acked
and has its effect, so the pact holds exactly what budget needs to do its job.
"""

import asyncio
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import pytest
from pact import Pact, match

from budget.adapters.consumer import EventConsumer
from budget.adapters.topology import BINDING_KEYS
from budget.domain.model import EntryKind, TaskCost, TokenType
from budget.service_layer.events import Outcome, handle_events
from contracts.envelope import CONTENT_TYPE, ParsedEvent
from tests.contract.pacts import PACT_DIR, rfc3339
from tests.unit.fake_failures import FakeFailureCounter
from tests.unit.fakes import FakeClock, FakeRepositories

pytestmark = pytest.mark.consumer

PACT_FILE = PACT_DIR / "budget-todos.json"
COMPLETED = "todos.task.completed.v1"
DELETED = "todos.task.deleted.v1"


@pytest.fixture(scope="module", autouse=True)
def fresh_pact_file() -> Iterator[None]:
    PACT_DIR.mkdir(parents=True, exist_ok=True)
    PACT_FILE.unlink(missing_ok=True)
    yield
    assert PACT_FILE.exists()


@pytest.fixture
def pact() -> Iterator[Pact]:
    pact = Pact("budget", "todos").with_specification("V4")
    yield pact
    pact.write_file(PACT_DIR)


def _envelope(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The CloudEvents attributes budget validates, around `data`."""
    return {
        "specversion": "1.0",
        "id": match.uuid("7a1c9e2b-4d6f-4a8b-9c0d-1e2f3a4b5c6d"),
        "source": match.str("todos-service"),
        "type": event_type,
        "time": rfc3339("2026-01-01T12:00:00.654321Z"),
        "data": data,
    }


def _metadata(event_type: str) -> dict[str, object]:
    return {"contentType": CONTENT_TYPE, "routing_key": event_type}


@dataclass
class _Delivery:
    """The part of an aio-pika incoming message the consumer touches."""

    body: bytes
    message_id: str | None = None
    settled: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.settled.append("ack")

    async def reject(self, requeue: bool = False) -> None:
        self.settled.append("reject")

    async def nack(self, requeue: bool = True) -> None:
        self.settled.append("nack")


def _routed_to_budget(routing_key: str) -> bool:
    """Whether a topic exchange routes `routing_key` to budget's queue (`*` is one word)."""
    words = routing_key.split(".")
    return any(
        len(pattern) == len(words)
        and all(p in ("*", w) for p, w in zip(pattern, words, strict=True))
        for pattern in (key.split(".") for key in BINDING_KEYS)
    )


def _seed_cost(repos: FakeRepositories, owner: UUID, task: UUID, amount: int) -> TaskCost:
    token_type = TokenType(id=uuid4(), code="credits", name="Credits")
    cost = TaskCost(
        id=uuid4(), owner_id=owner, task_id=task, token_type_id=token_type.id, amount=amount
    )
    repos.state.token_types[token_type.id] = token_type
    repos.state.accounts[(owner, token_type.id)] = 10
    repos.state.costs[cost.id] = cost
    return cost


def _consume(repos: FakeRepositories, body: bytes) -> tuple[_Delivery, list[Outcome]]:
    clock, outcomes = FakeClock(), []

    async def apply(batch: Sequence[ParsedEvent]) -> list[Outcome]:
        applied = await handle_events(repos, clock, [(p.envelope.id, p.event) for p in batch])
        outcomes.extend(applied)
        return applied

    delivery = _Delivery(body)
    consumer = EventConsumer(apply, failures=FakeFailureCounter(), max_backoff=0.1)
    asyncio.run(consumer.process(delivery))  # type: ignore[arg-type]
    return delivery, outcomes


def _received(body: str | bytes | None, metadata: dict[str, object], event_type: str) -> bytes:
    assert metadata["contentType"] == CONTENT_TYPE
    assert metadata["routing_key"] == event_type
    assert _routed_to_budget(event_type)
    assert body is not None
    return body.encode() if isinstance(body, str) else body


def test_a_completed_task_is_debited_its_cost(pact: Pact) -> None:
    (
        pact.upon_receiving(f"a {COMPLETED} event", "Async")
        .with_body(
            _envelope(
                COMPLETED,
                {
                    "task_id": match.uuid("3c2d1e0f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"),
                    "owner_id": match.uuid("5b0e8f1c-3a6d-4f2e-9c1a-7d4b2e8f6a01"),
                    "title": match.str("Write the quarterly report"),
                    "completed_at": rfc3339("2026-01-01T12:00:00.654321Z"),
                },
            ),
            content_type=CONTENT_TYPE,
        )
        .with_metadata(_metadata(COMPLETED))
    )

    def handler(body: str | bytes | None, metadata: dict[str, object]) -> None:
        raw = _received(body, metadata, COMPLETED)
        data = json.loads(raw)["data"]
        repos = FakeRepositories()
        cost = _seed_cost(repos, UUID(data["owner_id"]), UUID(data["task_id"]), 4)

        delivery, outcomes = _consume(repos, raw)

        assert delivery.settled == ["ack"]
        # Debited; no hook call held for it in this fixture, and the outcome says so.
        assert outcomes == [Outcome.DEBITED_WITHOUT_HOLD]
        [debit] = repos.state.entries
        assert (debit.kind, debit.amount, debit.reference_id) == (
            EntryKind.DEBIT, -4, str(cost.task_id))  # fmt: skip

    pact.verify(handler, "Async")


def test_a_deleted_task_loses_its_uncharged_cost(pact: Pact) -> None:
    (
        pact.upon_receiving(f"a {DELETED} event", "Async")
        .with_body(
            _envelope(
                DELETED,
                {
                    "task_id": match.uuid("3c2d1e0f-5a6b-4c7d-8e9f-0a1b2c3d4e60"),
                    "owner_id": match.uuid("5b0e8f1c-3a6d-4f2e-9c1a-7d4b2e8f6a01"),
                    "deleted_at": rfc3339("2026-01-01T12:30:00.123456Z"),
                },
            ),
            content_type=CONTENT_TYPE,
        )
        .with_metadata(_metadata(DELETED))
    )

    def handler(body: str | bytes | None, metadata: dict[str, object]) -> None:
        raw = _received(body, metadata, DELETED)
        data = json.loads(raw)["data"]
        repos = FakeRepositories()
        _seed_cost(repos, UUID(data["owner_id"]), UUID(data["task_id"]), 4)

        delivery, outcomes = _consume(repos, raw)

        assert delivery.settled == ["ack"]
        assert outcomes == [Outcome.APPLIED]
        # Gone for the owner; kept as a tombstone in case a `completed` event arrives late.
        assert [c.visible for c in repos.state.costs.values()] == [False]

    pact.verify(handler, "Async")
