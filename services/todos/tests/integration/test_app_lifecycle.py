import asyncio
from uuid import uuid4

import httpx
from asgi_lifespan import LifespanManager

from tests.conftest import TEST_DATABASE_URL, KeyPair, alembic_config
from todos.config import Settings
from todos.entrypoints.app import create_app


async def _wait_ready(client: httpx.AsyncClient, seconds: float = 15) -> httpx.Response:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        response = await client.get("/readyz")
        if response.status_code == 200 or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(0.1)


async def test_healthz_answers_without_io(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_200_with_the_database_up(client: httpx.AsyncClient) -> None:
    response = await _wait_ready(client)
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "schema": "ok"}


async def test_readyz_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    down = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/todos"}
    )
    app = create_app(down)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "down"


async def test_readyz_stays_200_and_completions_work_when_the_broker_is_unreachable(
    settings: Settings, migrated_database: str, keys: KeyPair
) -> None:
    down = settings.model_copy(update={"amqp_url": "amqp://guest:guest@127.0.0.1:1/"})
    app = create_app(down)
    headers = {"Authorization": f"Bearer {keys.token(uuid4())}"}
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
            task = await client.post("/api/todos/tasks", json={"title": "t"}, headers=headers)
            done = await client.post(
                f"/api/todos/tasks/{task.json()['id']}/complete", headers=headers
            )
    assert done.status_code == 200, done.text  # the event waits in the outbox
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "schema": "ok"}}


async def test_metrics_are_prometheus_text(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'http_requests_total{method="GET",route="/healthz",status="200"}' in response.text


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
    assert response.headers["x-request-id"] == "req-42"


def test_migrations_upgrade_downgrade_upgrade(migrated_database: str) -> None:
    config = alembic_config(TEST_DATABASE_URL)
    from alembic import command

    command.downgrade(config, "base")
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")
