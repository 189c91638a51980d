"""The HTTP `HookGate`: calls every before-complete subscription concurrently, signed.

One shared keep-alive client per process (`hook_transport`). Each call is bounded by its
subscription's timeout; connect errors and 5xx are retried inside that budget with the same
`invocation_id` (the subscriber may dedupe on it). Every HTTP request is a new delivery: its
own `delivery_id`, signed afresh with that subscription's own secret, naming that subscription
(a subscriber refuses a replayed delivery and a body meant for another one). Anything but a
valid allow/veto is a failure: a timeout, a refused connection, a 5xx, a malformed reply (bad
status line, truncated or wrong body), or any other exception of the transport; it never
escapes as a 500 of the completion. A call that waited locally for a connection slot is ours
to blame, not the hook's: shed, or not counted by the breaker (see `_ask`).
"""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import structlog

from contracts.hooks import HOOK_DECISION, BeforeCompleteTask, Veto
from contracts.ids import InvocationId, OwnerId, TaskId, new_delivery_id, new_invocation_id
from contracts.signing import SIGNATURE_HEADER, sign
from todos.adapters.circuit_breaker import BreakerState, CircuitBreaker
from todos.adapters.hook_transport import HookConnectError, HookPoster, HttpxPoster
from todos.config import HookSubscription
from todos.domain.hook_verdict import AnswerKind, HookAnswer
from todos.metrics import HOOK_CALLS, HOOK_LATENCY

log = structlog.get_logger(__name__)

# A call that waited locally for more than this share of its timeout before it went out is
# not the hook's fault if it then times out: the breaker hears nothing of it.
QUEUED_FRACTION = 0.05
RETRY_DELAYS = (0.02, 0.05, 0.1, 0.2, 0.4)  # then 0.4 s between tries, while the budget lasts


class _RetryableError(Exception):
    """A connect error or 5xx: worth another try inside the timeout."""


class _Call:
    """One call of one subscription; each `delivery()` is a new body for one HTTP request."""

    __slots__ = ("_fields",)

    def __init__(
        self,
        hook: HookSubscription,
        invocation_id: InvocationId,
        task_id: TaskId,
        owner_id: OwnerId,
        now: datetime,
    ) -> None:
        # The deadline is when we stop waiting for this subscription; the same on every retry.
        self._fields = {
            "subscriber": hook.name,
            "invocation_id": invocation_id,
            "task_id": task_id,
            "owner_id": owner_id,
            "occurred_at": now,
            "deadline": now + timedelta(seconds=hook.timeout),
        }

    def delivery(self) -> bytes:
        """The body of the next HTTP request: the same call, a fresh delivery id."""
        request = BeforeCompleteTask.model_validate(
            {**self._fields, "delivery_id": new_delivery_id()}
        )
        return request.model_dump_json().encode()


class HttpHookGate:
    def __init__(
        self,
        client: HookPoster | httpx.AsyncClient,
        subscriptions: list[HookSubscription],
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        first_reset_timeout: float = 1.0,
        max_connections: int = 100,
    ) -> None:
        self._client = HttpxPoster(client) if isinstance(client, httpx.AsyncClient) else client
        self._subscriptions = subscriptions
        self._urls = {s.name: str(s.url) for s in subscriptions}
        # Calls in flight per hook. Waiting here is our own queueing, not the hook's slowness:
        # a call that cannot start within its timeout is shed, and the breaker is not told.
        self._slots = {s.name: asyncio.Semaphore(max_connections) for s in subscriptions}
        self.breakers = {
            s.name: CircuitBreaker(
                failure_threshold=failure_threshold,
                reset_timeout=reset_timeout,
                first_reset_timeout=first_reset_timeout,
                probe_timeout=2 * s.timeout,  # a probe cannot outlive its own timeout
            )
            for s in subscriptions
        }

    async def before_complete(
        self, task_id: TaskId, owner_id: OwnerId, *, invocation_id: InvocationId | None = None
    ) -> list[HookAnswer]:
        if not self._subscriptions:
            return []
        invocation_id = invocation_id or new_invocation_id()
        now = datetime.now(UTC)
        return list(
            await asyncio.gather(
                *(
                    self._ask(s, _Call(s, invocation_id, task_id, owner_id, now), invocation_id)
                    for s in self._subscriptions
                )
            )
        )

    async def _ask(
        self, hook: HookSubscription, call: _Call, invocation_id: InvocationId
    ) -> HookAnswer:
        breaker = self.breakers[hook.name]
        if not breaker.allow():
            HOOK_CALLS.labels(hook.name, "circuit_open").inc()
            return HookAnswer(hook.name, AnswerKind.FAILED, hook.failure_policy, "circuit open")
        probe = breaker.state is BreakerState.HALF_OPEN
        started = time.perf_counter()
        slots = self._slots[hook.name]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + hook.timeout
        try:
            async with asyncio.timeout_at(deadline):
                await slots.acquire()
        except TimeoutError:
            if probe:
                breaker.record_abandoned()
            HOOK_CALLS.labels(hook.name, AnswerKind.SHED.value).inc()
            return HookAnswer(hook.name, AnswerKind.SHED, hook.failure_policy, "no local capacity")
        # The hook is blamed for a timeout only if it had (nearly) its whole timeout to answer.
        queued = deadline - loop.time() < hook.timeout * (1 - QUEUED_FRACTION)
        try:
            async with asyncio.timeout_at(deadline):
                answer = await self._call_with_retries(hook, call)
        except asyncio.CancelledError:
            if probe:  # our caller went away: free the probe slot, the peer is not to blame
                breaker.record_abandoned()
            raise
        except Exception as exc:  # whatever the transport raised, it is this hook's failure
            if not (queued and isinstance(exc, TimeoutError)):
                breaker.record_failure()
            elif probe:
                breaker.record_abandoned()
            log.warning(
                "hook_failed",
                hook=hook.name,
                invocation_id=str(invocation_id),
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
            answer = HookAnswer(hook.name, AnswerKind.FAILED, hook.failure_policy, str(exc)[:300])
        else:
            breaker.record_success()
        finally:
            slots.release()
        HOOK_LATENCY.labels(hook.name).observe(time.perf_counter() - started)
        HOOK_CALLS.labels(hook.name, answer.kind.value).inc()
        return answer

    async def _call_with_retries(self, hook: HookSubscription, call: _Call) -> HookAnswer:
        secret = hook.secret.get_secret_value()
        url = self._urls[hook.name]
        attempt = 0
        while True:  # the caller's timeout bounds the retries
            body = call.delivery()
            headers = {
                "content-type": "application/json",
                SIGNATURE_HEADER: sign(body, secret, int(time.time())),
            }
            try:
                status, content = await self._client.post(url, body, headers)
                if status >= 500:
                    raise _RetryableError(f"HTTP {status}")
            except (HookConnectError, _RetryableError):
                await asyncio.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
                attempt += 1
                continue
            if status != 200:
                raise ValueError(f"unexpected HTTP {status}")
            decision = HOOK_DECISION.validate_json(content)
            if isinstance(decision, Veto):
                return HookAnswer(hook.name, AnswerKind.VETO, hook.failure_policy, decision.reason)
            return HookAnswer(hook.name, AnswerKind.ALLOW, hook.failure_policy)
