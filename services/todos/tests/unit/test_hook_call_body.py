"""What the hook client sends: the use case's invocation id and a deadline per subscription,
each delivery named for its subscriber and signed with that subscriber's secret only."""

import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import uuid4

import httpx
import pytest
import respx

from contracts.hooks import BeforeCompleteTask
from contracts.ids import InvocationId, OwnerId, TaskId
from contracts.signing import SIGNATURE_HEADER, SignatureError, verify
from todos.adapters.hook_client import HttpHookGate
from todos.config import HookSubscription

FAST = "http://fast.test/hook"
SLOW = "http://slow.test/hook"
TASK, OWNER = TaskId(uuid4()), OwnerId(uuid4())


def _hook(name: str, url: str, timeout: float) -> HookSubscription:
    return HookSubscription.model_validate(
        {"name": name, "url": url, "secret": f"{name}-secret", "timeout": timeout}
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    c = httpx.AsyncClient()  # respx mocks the httpx edge (production uses aiohttp)
    yield c
    await c.aclose()


async def test_each_subscription_gets_the_invocation_id_and_its_own_deadline(
    client: httpx.AsyncClient,
) -> None:
    invocation = InvocationId(uuid4())
    with respx.mock(using="httpx") as mock:
        fast = mock.post(FAST)
        fast.side_effect = [httpx.Response(503), httpx.Response(200, json={"decision": "allow"})]
        slow = mock.post(SLOW).respond(200, json={"decision": "allow"})
        gate = HttpHookGate(client, [_hook("fast", FAST, 0.5), _hook("slow", SLOW, 2.0)])
        await gate.before_complete(TASK, OWNER, invocation_id=invocation)
    fast_calls = [BeforeCompleteTask.model_validate_json(c.request.content) for c in fast.calls]
    [slow_call] = [BeforeCompleteTask.model_validate_json(c.request.content) for c in slow.calls]
    assert len(fast_calls) == 2
    # A retry is the same call (same invocation, same deadline) as a new delivery.
    first, retry = fast_calls
    assert first.model_copy(update={"delivery_id": retry.delivery_id}) == retry
    assert first.delivery_id != retry.delivery_id
    for call, timeout in ((fast_calls[0], 0.5), (slow_call, 2.0)):
        assert call.invocation_id == invocation
        assert call.deadline is not None
        assert call.deadline - call.occurred_at == timedelta(seconds=timeout)
    assert "deadline" in json.loads(slow.calls.last.request.content)


async def test_each_delivery_names_its_subscriber_and_is_signed_with_its_secret_only(
    client: httpx.AsyncClient,
) -> None:
    with respx.mock(using="httpx") as mock:
        fast = mock.post(FAST)
        fast.side_effect = [httpx.Response(503), httpx.Response(200, json={"decision": "allow"})]
        slow = mock.post(SLOW).respond(200, json={"decision": "allow"})
        gate = HttpHookGate(client, [_hook("fast", FAST, 0.5), _hook("slow", SLOW, 2.0)])
        await gate.before_complete(TASK, OWNER)
    requests = {"fast": [c.request for c in fast.calls], "slow": [c.request for c in slow.calls]}
    deliveries = set()
    for name, sent in requests.items():
        other = "slow" if name == "fast" else "fast"
        for request in sent:
            call = BeforeCompleteTask.model_validate_json(request.content)
            assert call.subscriber == name
            deliveries.add(call.delivery_id)
            header = request.headers[SIGNATURE_HEADER]
            verify(header, request.content, f"{name}-secret", now=time.time())
            with pytest.raises(SignatureError):
                verify(header, request.content, f"{other}-secret", now=time.time())
    assert len(deliveries) == 3  # every request its own delivery, retries included
