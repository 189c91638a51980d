"""todos as the consumer of budget's `todos.before_complete_task` hook (HTTP pact).

Each test drives todos' real hook client (`HttpHookGate`, signed, through the aiohttp-backed
client) against Pact's mock server and records what todos sends and relies on in return.
The module starts from an empty pact file; each test merges its interaction into it.
"""

from collections.abc import AsyncIterator, Iterator
from uuid import UUID

import httpx
import pytest
from pact import Pact, match

from contracts.hooks import HOOK_PATH
from contracts.ids import OwnerId, TaskId
from contracts.signing import SIGNATURE_HEADER
from tests.contract.pacts import PACT_DIR, rfc3339
from todos.adapters.hook_client import HttpHookGate
from todos.bootstrap import make_hook_client
from todos.config import HookSubscription
from todos.domain.hook_verdict import AnswerKind, HookAnswer

pytestmark = pytest.mark.consumer

PACT_FILE = PACT_DIR / "todos-budget.json"
# Fixed ids: the provider states carry the same values, so budget sets up exactly this owner.
OWNER = OwnerId(UUID("5b0e8f1c-3a6d-4f2e-9c1a-7d4b2e8f6a01"))
FREE_TASK = TaskId(UUID("0f6c2a1e-8b3d-4c5f-a7e9-1d2b3c4d5e01"))
COSTLY_TASK = TaskId(UUID("0f6c2a1e-8b3d-4c5f-a7e9-1d2b3c4d5e02"))
SECRET = "pact-hook-secret"
WRONG_SECRET = "not-a-secret-budget-accepts"
# The signature depends on the time and the body, so the pact keeps only its shape;
# budget's verification re-signs at replay time (see its ResigningApp).
SIGNATURE = match.regex(f"t=1767225600,v1={'0' * 64}", regex=r"^t=\d+,v1=[0-9a-f]{64}$")


@pytest.fixture(scope="module", autouse=True)
def fresh_pact_file() -> Iterator[None]:
    PACT_DIR.mkdir(parents=True, exist_ok=True)
    PACT_FILE.unlink(missing_ok=True)
    yield
    assert PACT_FILE.exists()


@pytest.fixture
def pact() -> Iterator[Pact]:
    pact = Pact("todos", "budget").with_specification("V4")
    yield pact
    pact.write_file(PACT_DIR)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    c = make_hook_client()
    yield c
    await c.aclose()


def _hook_request(pact: Pact, description: str, state: str, params: dict[str, object], task: UUID):
    return (
        pact.upon_receiving(description)
        .given(state, params)
        .with_request("POST", HOOK_PATH)
        .with_header("Content-Type", "application/json")
        .with_header(SIGNATURE_HEADER, SIGNATURE)
        .with_body(
            {
                "hook": "todos.before_complete_task",
                # Whom the signature is for: budget refuses a body for another subscriber.
                "subscriber": "budget",
                # New on every request (a retry too): budget refuses one it has seen.
                "delivery_id": match.uuid("3c5e7a9b-1d2f-4a6c-8e0b-2f4a6c8e0b13"),
                "invocation_id": match.uuid("9d1b7c3e-2f4a-4b6d-8e0f-1a2b3c4d5e6f"),
                "task_id": match.uuid(str(task)),
                "owner_id": match.uuid(str(OWNER)),
                "occurred_at": rfc3339("2026-01-01T12:00:00.123456Z"),
                # Replayed as written: an example still ahead, so budget does not see a call
                # whose caller already gave up (it would veto that, holding nothing).
                "deadline": rfc3339("2099-01-01T12:00:05.123456Z"),
            },
            content_type="application/json",
        )
    )


async def _ask(client: httpx.AsyncClient, url: str, task: TaskId, secret: str) -> HookAnswer:
    subscription = HookSubscription.model_validate(
        {"name": "budget", "url": f"{url}{HOOK_PATH}", "secret": secret, "timeout": 5.0}
    )
    [answer] = await HttpHookGate(client, [subscription]).before_complete(task, OWNER)
    return answer


async def test_a_task_without_a_cost_is_allowed(pact: Pact, client: httpx.AsyncClient) -> None:
    state = {"owner_id": str(OWNER), "task_id": str(FREE_TASK)}
    _hook_request(
        pact,
        "a before-complete call for a task without a cost",
        "no cost is set for the task",
        state,
        FREE_TASK,
    ).will_respond_with(200).with_body({"decision": "allow"}, content_type="application/json")

    with pact.serve() as srv:
        answer = await _ask(client, str(srv.url), FREE_TASK, SECRET)

    assert answer.kind is AnswerKind.ALLOW


async def test_an_owner_who_cannot_afford_the_cost_is_vetoed_with_a_reason(
    pact: Pact, client: httpx.AsyncClient
) -> None:
    state = {"owner_id": str(OWNER), "task_id": str(COSTLY_TASK), "cost": 5, "balance": 2}
    _hook_request(
        pact,
        "a before-complete call the owner cannot afford",
        "the owner cannot afford the task's cost",
        state,
        COSTLY_TASK,
    ).will_respond_with(200).with_body(
        {"decision": "veto", "reason": match.str("Insufficient budget: need 5 credits, have 2")},
        content_type="application/json",
    )

    with pact.serve() as srv:
        answer = await _ask(client, str(srv.url), COSTLY_TASK, SECRET)

    assert answer.kind is AnswerKind.VETO
    assert answer.reason == "Insufficient budget: need 5 credits, have 2"


async def test_a_bad_signature_is_refused_and_counts_as_a_failure(
    pact: Pact, client: httpx.AsyncClient
) -> None:
    state = {"owner_id": str(OWNER), "task_id": str(FREE_TASK), "secret": WRONG_SECRET}
    _hook_request(
        pact,
        "a before-complete call with a bad signature",
        "the request is signed with a secret budget does not accept",
        state,
        FREE_TASK,
    ).will_respond_with(401)

    with pact.serve() as srv:
        answer = await _ask(client, str(srv.url), FREE_TASK, WRONG_SECRET)

    # todos never treats a refusal as an allow: under policy `fail` it answers 503.
    assert answer.kind is AnswerKind.FAILED
    assert "401" in (answer.reason or "")
