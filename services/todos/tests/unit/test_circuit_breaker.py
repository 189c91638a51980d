from todos.adapters.circuit_breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _open(breaker: CircuitBreaker, failures: int) -> None:
    for _ in range(failures):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN


def test_opens_after_threshold_and_probes_after_cool_down() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=10, clock=clock)
    _open(breaker, 3)
    assert not breaker.allow()
    clock.t = 1  # the first cool-down is short
    assert breaker.allow()  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()  # only one probe at a time
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()


def test_the_cool_down_doubles_per_failed_probe_up_to_the_cap_and_resets_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker(
        failure_threshold=1, first_reset_timeout=1, reset_timeout=5, clock=clock
    )
    _open(breaker, 1)
    waits = []
    for _ in range(5):
        waits.append(breaker.cool_down)
        clock.t += breaker.cool_down - 0.01
        assert not breaker.allow()
        clock.t += 0.01
        assert breaker.allow()
        breaker.record_failure()  # the probe fails: open again, longer
    assert waits == [1, 2, 4, 5, 5]
    clock.t += 5
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    _open(breaker, 1)
    assert breaker.cool_down == 1  # a fresh outage starts short again


def test_a_peer_back_after_a_short_restart_is_probed_within_about_a_second() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=5, reset_timeout=30, clock=clock)
    _open(breaker, 5)  # t=0: the peer restarts for 3.5 s
    probes = []
    while clock.t < 10:
        clock.t = round(clock.t + 0.1, 1)
        if breaker.allow():
            probes.append(clock.t)
            if clock.t < 3.5:
                breaker.record_failure()
            else:
                breaker.record_success()
                break
    assert breaker.state is BreakerState.CLOSED
    assert probes[-1] <= 3.5 + 4  # not 30 s of refusals


def test_a_few_timeouts_among_many_answers_do_not_open_it() -> None:
    breaker = CircuitBreaker(failure_threshold=5, reset_timeout=30, window=20, clock=Clock())
    for i in range(200):  # one call in three times out under a burst
        assert breaker.allow()
        if i % 3 == 0:
            breaker.record_failure()
        else:
            breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_mostly_failures_open_it() -> None:
    breaker = CircuitBreaker(failure_threshold=5, reset_timeout=30, window=20, clock=Clock())
    for i in range(20):
        if breaker.state is BreakerState.OPEN:
            break
        breaker.allow()
        if i % 4 == 0:
            breaker.record_success()
        else:
            breaker.record_failure()
    assert breaker.state is BreakerState.OPEN


def test_a_cancelled_probe_frees_the_slot_at_once() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=30, clock=clock)
    _open(breaker, 1)
    clock.t = 1
    assert breaker.allow()
    assert not breaker.allow()
    breaker.record_abandoned()
    assert breaker.allow()  # the next caller probes; the breaker is not stuck half-open
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_a_probe_that_never_reports_stops_blocking_after_the_probe_timeout() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=30, probe_timeout=2, clock=clock)
    _open(breaker, 1)
    clock.t = 1
    assert breaker.allow()  # this probe is lost
    clock.t = 2.9
    assert not breaker.allow()
    clock.t = 3
    assert breaker.allow()
    assert breaker.state is BreakerState.HALF_OPEN


def test_failures_must_be_at_least_half_of_the_recent_calls() -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=5, clock=Clock())
    breaker.record_failure()
    for _ in range(3):
        breaker.record_success()
    breaker.record_failure()  # 2 failures of 5 calls
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()  # 3 of 6
    assert breaker.state is BreakerState.OPEN
