"""Budget's own Prometheus metrics (HTTP metrics live in entrypoints.observability)."""

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from prometheus_client import Counter, Gauge, Histogram

from contracts.envelope import ParsedEvent

T = TypeVar("T")

HOOK_DECISIONS = Counter(
    "budget_hook_decisions_total", "before_complete_task answers", ["decision"]
)
HOOK_LATENCY = Histogram(
    "budget_hook_duration_seconds",
    "Time to decide a before_complete_task call",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
HOLDS_ACTIVE = Gauge("budget_holds_active", "Unexpired active holds (refreshed on scrape)")
EVENTS_CONSUMED = Counter(
    "budget_events_consumed_total", "Events handled by the consumer", ["type", "outcome"]
)
EVENTS_DEAD_LETTERED = Counter(
    "budget_events_dead_lettered_total", "Messages the consumer sent to the DLQ", ["reason"]
)
CONSUMER_DB_RETRIES = Counter(
    "budget_consumer_db_retries_total", "Message attempts retried because the database failed"
)
EVENT_LAG = Histogram(
    "budget_event_lag_seconds",
    "From the event's time (todos' commit) to the consumer applying it",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
UNBACKED_DEBITS = Counter(
    "budget_unbacked_debits_total",
    "Debits no live hold backed (the only way a balance goes below zero): the hold's TTL "
    "passed before the completed event was applied, or the cost was set after the hook allowed",
    ["reason"],
)
DLQ_DEPTH = Gauge("budget_dlq_messages", "Messages in the dead-letter queue (polled)")


def observe_lag(
    apply: Callable[[ParsedEvent], Awaitable[T]],
) -> Callable[[ParsedEvent], Awaitable[T]]:
    """`apply`, recording each event's lag when it starts being applied."""

    async def observed(parsed: ParsedEvent) -> T:
        EVENT_LAG.observe(max(time.time() - parsed.envelope.time.timestamp(), 0.0))
        return await apply(parsed)

    return observed


def observe_batch_lag(
    apply: Callable[[Sequence[ParsedEvent]], Awaitable[T]],
) -> Callable[[Sequence[ParsedEvent]], Awaitable[T]]:
    """`apply` of a batch, recording each event's lag when the batch starts being applied."""

    async def observed(batch: Sequence[ParsedEvent]) -> T:
        now = time.time()
        for parsed in batch:
            EVENT_LAG.observe(max(now - parsed.envelope.time.timestamp(), 0.0))
        return await apply(batch)

    return observed
