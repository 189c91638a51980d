"""Every row of the tasks API table through the ASGI app on the real PostgreSQL.

See docs/architecture.md#tasks-api.
"""

from collections.abc import AsyncIterator
from datetime import datetime
from uuid import uuid4

import httpx
import pytest
import respx
from asgi_lifespan import LifespanManager
from sqlalchemy import select

from tests.conftest import KeyPair
from todos.adapters.hook_transport import HttpxPoster
from todos.adapters.tables import outbox
from todos.bootstrap import Container, bootstrap
from todos.config import HookSubscription, Settings
from todos.entrypoints.app import create_app

HOOK_URL = "http://budget.test/hooks/todos.before_complete_task"
PROBLEM = "application/problem+json"


def _auth(keys: KeyPair, owner: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.token(owner)}"}  # type: ignore[arg-type]


@pytest.fixture
def owner() -> str:
    return str(uuid4())


@pytest.fixture
def headers(keys: KeyPair, owner: str) -> dict[str, str]:
    return _auth(keys, owner)


async def _create(client: httpx.AsyncClient, headers: dict[str, str], **body: object) -> dict:  # type: ignore[type-arg]
    response = await client.post("/api/todos/tasks", json={"title": "t", **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _events_for(container: Container, task_id: str) -> list[str]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.event_type)
            .where(outbox.c.envelope["data"]["task_id"].astext == task_id)
            .order_by(outbox.c.id)
        )
        return [r.event_type for r in rows]


async def test_create_returns_the_task(
    client: httpx.AsyncClient, headers: dict[str, str], owner: str
) -> None:
    response = await client.post(
        "/api/todos/tasks", json={"title": "  Buy milk ", "description": "2 l"}, headers=headers
    )
    assert response.status_code == 201
    task = response.json()
    assert set(task) == {
        "id",
        "owner_id",
        "title",
        "description",
        "status",
        "created_at",
        "completed_at",
    }
    assert (task["title"], task["owner_id"], task["status"]) == ("Buy milk", owner, "open")
    assert task["completed_at"] is None
    assert datetime.fromisoformat(task["created_at"]).utcoffset() is not None


async def test_create_writes_created_to_the_outbox_with_the_request_id(
    app,
    client: httpx.AsyncClient,
    headers: dict[str, str],  # type: ignore[no-untyped-def]
) -> None:
    response = await client.post(
        "/api/todos/tasks", json={"title": "x"}, headers={**headers, "X-Request-ID": "req-abc"}
    )
    task_id = response.json()["id"]
    container: Container = app.state.container
    async with container.engine.connect() as conn:
        envelope = (
            await conn.execute(
                select(outbox.c.envelope).where(
                    outbox.c.envelope["data"]["task_id"].astext == task_id
                )
            )
        ).scalar_one()
    assert envelope["type"] == "todos.task.created.v1"
    assert envelope["correlationid"] == "req-abc"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 201},
        {"title": 5},
        {"title": "ok", "description": "d" * 2001},
        {"title": "ok", "status": "completed"},
        [],
        "just a string",
    ],
)
async def test_create_refuses_bad_bodies(
    client: httpx.AsyncClient, headers: dict[str, str], body: object
) -> None:
    response = await client.post("/api/todos/tasks", json=body, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "validation_error"


async def test_create_refuses_non_json(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.post(
        "/api/todos/tasks",
        content=b"{nope",
        headers={**headers, "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_title_of_exactly_200_is_accepted(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    assert (await _create(client, headers, title="x" * 200))["title"] == "x" * 200


async def test_tasks_need_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/todos/tasks")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM


async def test_list_pages_newest_first_and_filters(
    client: httpx.AsyncClient, headers: dict[str, str], keys: KeyPair
) -> None:
    made = [(await _create(client, headers, title=f"t{i}"))["id"] for i in range(5)]
    await _create(client, _auth(keys, uuid4()), title="someone else's")
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/todos/tasks", params=params, headers=headers)).json()
        seen += [t["id"] for t in page["items"]]
        if cursor is None:
            await _create(client, headers, title="inserted while paging")  # must not shift pages
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))

    await client.post(f"/api/todos/tasks/{made[0]}/complete", headers=headers)
    done = (await client.get("/api/todos/tasks?status=completed", headers=headers)).json()
    assert [t["id"] for t in done["items"]] == [made[0]]
    assert done["next_cursor"] is None
    open_ = (await client.get("/api/todos/tasks?status=open&limit=100", headers=headers)).json()
    assert made[0] not in [t["id"] for t in open_["items"]]
    assert len(open_["items"]) == 5


async def test_list_default_limit_is_20(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for i in range(21):
        await _create(client, headers, title=f"t{i}")
    page = (await client.get("/api/todos/tasks", headers=headers)).json()
    assert len(page["items"]) == 20
    assert page["next_cursor"] is not None


@pytest.mark.parametrize(
    "query",
    ["status=done", "limit=0", "limit=101", "limit=abc", "cursor=garbage", "cursor=WzEsMl0"],
)
async def test_list_refuses_bad_queries(
    client: httpx.AsyncClient, headers: dict[str, str], query: str
) -> None:
    response = await client.get(f"/api/todos/tasks?{query}", headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_get_own_task_and_404_for_others(
    client: httpx.AsyncClient, headers: dict[str, str], keys: KeyPair
) -> None:
    task = await _create(client, headers)
    assert (await client.get(f"/api/todos/tasks/{task['id']}", headers=headers)).json() == task
    stranger = _auth(keys, uuid4())
    for response in (
        await client.get(f"/api/todos/tasks/{task['id']}", headers=stranger),
        await client.patch(f"/api/todos/tasks/{task['id']}", json={"title": "x"}, headers=stranger),
        await client.delete(f"/api/todos/tasks/{task['id']}", headers=stranger),
        await client.post(f"/api/todos/tasks/{task['id']}/complete", headers=stranger),
        await client.get(f"/api/todos/tasks/{uuid4()}", headers=headers),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["code"] == "not_found"
    assert (await client.get(f"/api/todos/tasks/{task['id']}", headers=headers)).json() == task


async def test_a_malformed_id_is_a_4xx_problem(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get("/api/todos/tasks/not-a-uuid", headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_patch_edits_an_open_task(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    task = await _create(client, headers, description="old")
    url = f"/api/todos/tasks/{task['id']}"
    response = await client.patch(url, json={"title": " new "}, headers=headers)
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["description"]) == ("new", "old")
    response = await client.patch(url, json={"description": None}, headers=headers)
    assert response.json()["description"] is None
    assert (await client.get(url, headers=headers)).json()["title"] == "new"


@pytest.mark.parametrize(
    "body", [{"title": ""}, {"title": None}, {"title": "x" * 201}, {"owner_id": str(uuid4())}]
)
async def test_patch_refuses_bad_bodies(
    client: httpx.AsyncClient, headers: dict[str, str], body: object
) -> None:
    task = await _create(client, headers)
    response = await client.patch(f"/api/todos/tasks/{task['id']}", json=body, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_patch_a_completed_task_is_409(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    task = await _create(client, headers)
    await client.post(f"/api/todos/tasks/{task['id']}/complete", headers=headers)
    response = await client.patch(
        f"/api/todos/tasks/{task['id']}", json={"title": "x"}, headers=headers
    )
    assert response.status_code == 409
    assert response.json()["code"] == "task_completed"


async def test_delete_open_and_completed_tasks(
    app,
    client: httpx.AsyncClient,
    headers: dict[str, str],  # type: ignore[no-untyped-def]
) -> None:
    for complete_first in (False, True):
        task = await _create(client, headers)
        if complete_first:
            await client.post(f"/api/todos/tasks/{task['id']}/complete", headers=headers)
        response = await client.delete(f"/api/todos/tasks/{task['id']}", headers=headers)
        assert response.status_code == 204
        assert response.content == b""
        assert (
            await client.get(f"/api/todos/tasks/{task['id']}", headers=headers)
        ).status_code == 404
        assert (await _events_for(app.state.container, task["id"]))[-1] == "todos.task.deleted.v1"
    again = await client.delete(f"/api/todos/tasks/{task['id']}", headers=headers)
    assert again.status_code == 404


async def test_complete_without_hooks_and_again(
    app,
    client: httpx.AsyncClient,
    headers: dict[str, str],  # type: ignore[no-untyped-def]
) -> None:
    task = await _create(client, headers)
    url = f"/api/todos/tasks/{task['id']}/complete"
    first = await client.post(url, headers=headers)
    assert first.status_code == 200
    assert first.json()["status"] == "completed"
    assert first.json()["completed_at"] is not None
    second = await client.post(url, headers=headers)
    assert second.status_code == 200
    assert second.json() == first.json()
    events = await _events_for(app.state.container, task["id"])
    assert events == ["todos.task.created.v1", "todos.task.completed.v1"]


# --- with hooks: the real HTTP gate, the hook's HTTP edge mocked by respx ---------------------


@pytest.fixture
async def hooked(
    settings: Settings, migrated_database: str, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[httpx.AsyncClient, respx.MockRouter, Container]]:
    policy = getattr(request, "param", "fail")
    hooks = [
        HookSubscription.model_validate(
            {
                "name": "budget",
                "url": HOOK_URL,
                "secret": "s",
                "timeout": 0.3,
                "failure_policy": policy,
            }
        )
    ]
    # respx mocks the httpx edge, so this app's hook client is the httpx one
    container = bootstrap(
        settings.model_copy(update={"hooks": hooks}), http_client=HttpxPoster(httpx.AsyncClient())
    )
    application = create_app(container=container)
    with respx.mock(using="httpx", assert_all_called=False) as mock:
        mock.route(host="todos.test").pass_through()
        async with LifespanManager(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://todos.test") as c:
                yield c, mock, container


async def test_a_veto_is_409_and_publishes_nothing(hooked, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    client, mock, container = hooked
    mock.post(HOOK_URL).respond(
        200, json={"decision": "veto", "reason": "Insufficient budget: need 5 TOK, have 0"}
    )
    task = await _create(client, headers)
    response = await client.post(f"/api/todos/tasks/{task['id']}/complete", headers=headers)
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "vetoed"
    assert body["reasons"] == ["Insufficient budget: need 5 TOK, have 0"]
    assert body["vetoed_by"] == ["budget"]
    assert (await client.get(f"/api/todos/tasks/{task['id']}", headers=headers)).json()[
        "status"
    ] == "open"
    assert await _events_for(container, task["id"]) == ["todos.task.created.v1"]


async def test_an_allow_completes(hooked, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    client, mock, _ = hooked
    route = mock.post(HOOK_URL).respond(200, json={"decision": "allow"})
    task = await _create(client, headers)
    response = await client.post(f"/api/todos/tasks/{task['id']}/complete", headers=headers)
    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    assert route.call_count == 1
    again = await client.post(f"/api/todos/tasks/{task['id']}/complete", headers=headers)
    assert again.status_code == 200
    assert route.call_count == 1  # already completed: no hook call


async def test_an_unavailable_hook_under_fail_is_503(hooked, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    client, mock, container = hooked
    mock.post(HOOK_URL).respond(500)
    task = await _create(client, headers)
    response = await client.post(f"/api/todos/tasks/{task['id']}/complete", headers=headers)
    assert response.status_code == 503
    assert response.json()["code"] == "hook_unavailable"
    assert (await client.get(f"/api/todos/tasks/{task['id']}", headers=headers)).json()[
        "status"
    ] == "open"
    # its outcome is unknown (it may have held budget): hooks are told the completion aborted
    assert await _events_for(container, task["id"]) == [
        "todos.task.created.v1",
        "todos.task.completion-aborted.v1",
    ]


@pytest.mark.parametrize("hooked", ["ignore"], indirect=True)
async def test_an_unavailable_hook_under_ignore_allows(hooked, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    client, mock, _ = hooked
    mock.post(HOOK_URL).respond(200, text="garbage")
    task = await _create(client, headers)
    response = await client.post(f"/api/todos/tasks/{task['id']}/complete", headers=headers)
    assert response.status_code == 200
    assert response.json()["status"] == "completed"
