"""`todos_hook_breaker_state` (what TodosHookBreakerOpen alerts on) reads each breaker on scrape."""

from prometheus_client import REGISTRY

from todos.adapters.circuit_breaker import BreakerState
from todos.metrics import watch_breakers


class _Breaker:
    state = BreakerState.CLOSED


def test_the_gauge_reads_the_breaker_state_at_scrape_time() -> None:
    breaker = _Breaker()
    watch_breakers({"metric-test": breaker})

    def value() -> float | None:
        return REGISTRY.get_sample_value("todos_hook_breaker_state", {"hook": "metric-test"})

    assert value() == 0
    breaker.state = BreakerState.OPEN
    assert value() == 2
    breaker.state = BreakerState.HALF_OPEN
    assert value() == 1
