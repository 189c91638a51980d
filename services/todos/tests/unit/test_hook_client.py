"""The HTTP hook gate against respx (the HTTP edge), through the real aiohttp-backed client."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest
import respx

from contracts.hooks import BeforeCompleteTask
from contracts.ids import OwnerId, TaskId
from contracts.signing import SIGNATURE_HEADER, verify
from todos.adapters.circuit_breaker import BreakerState, CircuitBreaker
from todos.adapters.hook_client import HttpHookGate
from todos.config import HookSubscription
from todos.domain.hook_verdict import AnswerKind, judge

BUDGET = "http://budget.test/hooks/todos.before_complete_task"
AUDIT = "http://audit.test/hook"
TASK, OWNER = TaskId(uuid4()), OwnerId(uuid4())


def _hook(name: str, url: str, policy: str = "fail", timeout: float = 0.3) -> HookSubscription:
    return HookSubscription.model_validate(
        {
            "name": name,
            "url": url,
            "secret": f"{name}-secret",
            "timeout": timeout,
            "failure_policy": policy,
        }
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    c = httpx.AsyncClient()  # respx mocks the httpx edge (production uses aiohttp)
    yield c
    await c.aclose()


@pytest.fixture
def mock() -> respx.MockRouter:
    # using="httpx" mocks at the client, so it works with the aiohttp transport as well
    with respx.mock(using="httpx", assert_all_called=False) as router:
        yield router


async def test_allow(client: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    mock.post(BUDGET).respond(200, json={"decision": "allow"})
    [answer] = await HttpHookGate(client, [_hook("budget", BUDGET)]).before_complete(TASK, OWNER)
    assert answer.kind is AnswerKind.ALLOW
    assert answer.hook == "budget"


async def test_veto_carries_the_reason(client: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    mock.post(BUDGET).respond(200, json={"decision": "veto", "reason": "Insufficient budget"})
    [answer] = await HttpHookGate(client, [_hook("budget", BUDGET)]).before_complete(TASK, OWNER)
    assert answer.kind is AnswerKind.VETO
    assert answer.reason == "Insufficient budget"


async def test_two_hooks_one_vetoes(client: httpx.AsyncClient, mock: respx.MockRouter) -> None:
    mock.post(BUDGET).respond(200, json={"decision": "allow"})
    mock.post(AUDIT).respond(200, json={"decision": "veto", "reason": "audit says no"})
    gate = HttpHookGate(client, [_hook("budget", BUDGET), _hook("audit", AUDIT)])
    verdict = judge(await gate.before_complete(TASK, OWNER))
    assert verdict.vetoed_by == ("audit",)
    assert verdict.reasons == ("audit says no",)
    assert verdict.may_hold


async def _slow(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(5)
    return httpx.Response(200, json={"decision": "allow"})


FAILURES = {
    "timeout": lambda route: route.mock(side_effect=_slow),
    "refused": lambda route: route.mock(side_effect=httpx.ConnectError("refused")),
    "http-500": lambda route: route.respond(500),
    "garbage": lambda route: route.respond(200, text="<html>not json</html>"),
    "wrong-shape": lambda route: route.respond(200, json={"decision": "maybe"}),
}


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize(("policy", "allowed"), [("fail", False), ("ignore", True)])
async def test_failures_follow_the_policy(
    client: httpx.AsyncClient, mock: respx.MockRouter, failure: str, policy: str, allowed: bool
) -> None:
    FAILURES[failure](mock.post(BUDGET))
    gate = HttpHookGate(client, [_hook("budget", BUDGET, policy, timeout=0.2)])
    started = time.monotonic()
    [answer] = await gate.before_complete(TASK, OWNER)
    assert time.monotonic() - started < 1.0  # retries stay inside the timeout
    assert answer.kind is AnswerKind.FAILED
    verdict = judge([answer])
    assert verdict.allowed is allowed
    assert verdict.unavailable == (() if allowed else ("budget",))


async def test_the_request_is_signed_and_well_formed(
    client: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    route = mock.post(BUDGET).respond(200, json={"decision": "allow"})
    await HttpHookGate(client, [_hook("budget", BUDGET)]).before_complete(TASK, OWNER)
    request = route.calls.last.request
    verify(request.headers[SIGNATURE_HEADER], request.content, "budget-secret", now=time.time())
    body = BeforeCompleteTask.model_validate_json(request.content)
    assert (body.task_id, body.owner_id) == (TASK, OWNER)
    assert json.loads(request.content)["hook"] == "todos.before_complete_task"


async def test_a_retry_reuses_the_invocation_id(
    client: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    route = mock.post(BUDGET)
    route.side_effect = [
        httpx.Response(503),
        httpx.ConnectError("refused"),
        httpx.Response(200, json={"decision": "allow"}),
    ]
    gate = HttpHookGate(client, [_hook("budget", BUDGET, timeout=1.0)])
    [answer] = await gate.before_complete(TASK, OWNER)
    assert answer.kind is AnswerKind.ALLOW
    assert route.call_count == 3
    ids = {json.loads(call.request.content)["invocation_id"] for call in route.calls}
    assert len(ids) == 1


class _Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


async def test_the_breaker_opens_fails_fast_and_closes_after_a_good_probe(
    client: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    route = mock.post(BUDGET).respond(200, text="garbage")
    gate = HttpHookGate(client, [_hook("budget", BUDGET)])
    clock = _Clock()
    gate.breakers["budget"] = CircuitBreaker(
        failure_threshold=2, reset_timeout=30, first_reset_timeout=30, clock=clock
    )

    for _ in range(2):
        [answer] = await gate.before_complete(TASK, OWNER)
        assert answer.kind is AnswerKind.FAILED
    assert gate.breakers["budget"].state is BreakerState.OPEN

    [answer] = await gate.before_complete(TASK, OWNER)
    assert answer.kind is AnswerKind.FAILED
    assert route.call_count == 2  # answered without a request while open

    clock.t = 30
    route.respond(200, json={"decision": "allow"})
    [answer] = await gate.before_complete(TASK, OWNER)
    assert answer.kind is AnswerKind.ALLOW
    assert route.call_count == 3
    assert gate.breakers["budget"].state is BreakerState.CLOSED


async def test_no_subscriptions_means_no_answers(client: httpx.AsyncClient) -> None:
    assert await HttpHookGate(client, []).before_complete(TASK, OWNER) == []


async def test_a_cancelled_probe_does_not_leave_the_breaker_half_open(
    client: httpx.AsyncClient, mock: respx.MockRouter
) -> None:
    route = mock.post(BUDGET).mock(side_effect=_slow)
    gate = HttpHookGate(client, [_hook("budget", BUDGET, timeout=5.0)])
    clock = _Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=30, clock=clock)
    gate.breakers["budget"] = breaker
    breaker.record_failure()
    clock.t = 1
    probe = asyncio.create_task(gate.before_complete(TASK, OWNER))
    await asyncio.sleep(0.05)
    assert breaker.state is BreakerState.HALF_OPEN
    probe.cancel()  # e.g. the client of the completion went away
    with pytest.raises(asyncio.CancelledError):
        await probe
    route.respond(200, json={"decision": "allow"})
    [answer] = await gate.before_complete(TASK, OWNER)
    assert answer.kind is AnswerKind.ALLOW
    assert breaker.state is BreakerState.CLOSED
