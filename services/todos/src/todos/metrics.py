"""Prometheus metrics of todos-service's own work (HTTP metrics live with the middleware)."""

from collections.abc import Callable, Mapping
from typing import Protocol

from prometheus_client import Counter, Gauge, Histogram

HOOK_CALLS = Counter(
    "todos_hook_calls_total",
    "Before-complete hook calls by hook and outcome (allow, veto, failed, circuit_open)",
    ["hook", "outcome"],
)
HOOK_LATENCY = Histogram(
    "todos_hook_call_duration_seconds",
    "Before-complete hook call latency, retries included",
    ["hook"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_UNSENT = Gauge("todos_outbox_unsent_rows", "Outbox rows not yet published")
OUTBOX_OLDEST_AGE = Gauge(
    "todos_outbox_oldest_unsent_age_seconds", "Age of the oldest unpublished outbox row"
)
EVENTS_PUBLISHED = Counter(
    "todos_events_published_total", "Events confirmed by the broker", ["type"]
)
PUBLISH_FAILURES = Counter(
    "todos_event_publish_failures_total", "Publishes not confirmed (returned, nacked, timed out)"
)
EVENTS_PARKED = Gauge(
    "todos_events_parked_messages",
    "Events in the parking queue `<exchange>.unrouted`: published, but no queue was bound for them",
)
OUTBOX_PURGED = Counter(
    "todos_outbox_purged_rows_total", "Published outbox rows deleted after the retention"
)
HOOK_BREAKER_STATE = Gauge(
    "todos_hook_breaker_state",
    "Circuit breaker of each hook subscription: 0 closed, 1 half-open, 2 open (read on scrape)",
    ["hook"],
)
_BREAKER_VALUES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


class _Breaker(Protocol):
    @property
    def state(self) -> str: ...


def watch_breakers(breakers: Mapping[str, _Breaker]) -> None:
    """Export each breaker's state, read at scrape time (nothing on the hook's path)."""
    for name, breaker in breakers.items():
        HOOK_BREAKER_STATE.labels(name).set_function(_reader(breaker))


def _reader(breaker: _Breaker) -> Callable[[], float]:
    return lambda: _BREAKER_VALUES.get(str(breaker.state), -1.0)
