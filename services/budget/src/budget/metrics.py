"""Budget's own Prometheus metrics (HTTP metrics live in entrypoints.observability)."""

from prometheus_client import Counter, Gauge, Histogram

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
