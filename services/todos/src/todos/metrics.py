"""Prometheus metrics of todos-service's own work (HTTP metrics live with the middleware)."""

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
