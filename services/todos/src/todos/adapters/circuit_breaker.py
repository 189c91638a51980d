"""A per-hook circuit breaker: fail fast while a peer is broken, probe again soon after.

Closed: calls pass. It opens when the recent outcomes are mostly failures: at least
`failure_threshold` failures among the last `window` calls, and at least half of them. A few
timeouts among many answers (our own queueing under a burst) do not open it; a peer that is
down does, after `failure_threshold` calls.
Open: calls are refused for a cool-down that starts short (`first_reset_timeout`) and doubles
after each failed probe up to `reset_timeout`, so a peer that restarts in a few seconds is
probed again within about a second of coming back, while a peer that stays down is not hammered.
Half-open: one probe goes out. Its success closes the breaker, its failure opens it again; a
probe that never reports (its caller was cancelled) frees the slot, and one that is still out
after `probe_timeout` no longer blocks the next probe, so the breaker never stays half-open.
"""

import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        first_reset_timeout: float = 1.0,
        probe_timeout: float = 30.0,
        window: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = failure_threshold
        self._max_cool_down = reset_timeout
        self._first_cool_down = min(first_reset_timeout, reset_timeout)
        self._probe_timeout = probe_timeout
        self._clock = clock
        self._outcomes: deque[bool] = deque(maxlen=max(window, failure_threshold))
        self._cool_down = self._first_cool_down
        self._opened_at = 0.0
        self._probe_started = 0.0
        self._state = BreakerState.CLOSED

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def cool_down(self) -> float:
        """How long the breaker stays open this time."""
        return self._cool_down

    def allow(self) -> bool:
        """Whether a call may go out now (at most one probe while half-open)."""
        if self._state is BreakerState.CLOSED:
            return True
        now = self._clock()
        if self._state is BreakerState.OPEN:
            if now - self._opened_at >= self._cool_down:
                return self._start_probe(now)
        elif now - self._probe_started >= self._probe_timeout:
            return self._start_probe(now)  # the last probe was lost: do not wait for it forever
        return False  # open and cooling down, or a probe is already out

    def record_success(self) -> None:
        self._outcomes.append(True)
        if self._state is not BreakerState.CLOSED:
            self._state = BreakerState.CLOSED
            self._outcomes.clear()
            self._cool_down = self._first_cool_down

    def record_failure(self) -> None:
        if self._state is BreakerState.HALF_OPEN:
            self._cool_down = min(self._cool_down * 2, self._max_cool_down)
            self._open()
            return
        if self._state is BreakerState.OPEN:
            return  # a call let through before it opened: the cool-down already runs
        self._outcomes.append(False)
        failures = self._outcomes.count(False)
        if failures >= self._threshold and failures * 2 >= len(self._outcomes):
            self._cool_down = self._first_cool_down
            self._open()

    def record_abandoned(self) -> None:
        """The probe was cancelled before it had an outcome: no verdict on the peer."""
        if self._state is BreakerState.HALF_OPEN:
            self._state = BreakerState.OPEN  # let the next caller probe at once
            self._opened_at = self._clock() - self._cool_down

    def _start_probe(self, now: float) -> bool:
        self._state = BreakerState.HALF_OPEN
        self._probe_started = now
        return True

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._outcomes.clear()
