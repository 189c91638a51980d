"""What the hook client sends: the use case's invocation id and a deadline per subscription."""

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import uuid4

import httpx
import pytest
import respx

from contracts.hooks import BeforeCompleteTask
from contracts.ids import InvocationId, OwnerId, TaskId
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
    assert fast_calls[0] == fast_calls[1]  # a retry sends the same body: same id, same deadline
    for call, timeout in ((fast_calls[0], 0.5), (slow_call, 2.0)):
        assert call.invocation_id == invocation
        assert call.deadline is not None
        assert call.deadline - call.occurred_at == timedelta(seconds=timeout)
    assert "deadline" in json.loads(slow.calls.last.request.content)
