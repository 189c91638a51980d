"""budget-api while PostgreSQL is away or a row lock is held: a quick 503, not a 500 or a hang."""

import asyncio
import time
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from budget.adapters.db import DbLimits, make_engine
from budget.adapters.db_errors import is_transient_db_error
from budget.config import Settings
from budget.entrypoints.app import create_app
from tests.conftest import KeyPair
from tests.integration.conftest import Budget, DatabaseProxy
from tests.support import add_cost, balance_of, bearer, call_hook, credit, new_token_type

PROBLEM = "application/problem+json"


@pytest.fixture
async def proxied_client(
    settings: Settings, migrated_database: str, db_proxy: DatabaseProxy
) -> AsyncIterator[httpx.AsyncClient]:
    url = migrated_database.replace("127.0.0.1:5432", f"127.0.0.1:{db_proxy.port}")
    assert url != migrated_database  # the test database is on 127.0.0.1:5432
    app = create_app(settings.model_copy(update={"database_url": url, "db_connect_timeout": 1.0}))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://budget.test") as c:
            yield c


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "1"
    assert response.json()["code"] == "unavailable"


async def test_a_database_outage_is_a_503_problem(
    proxied_client: httpx.AsyncClient, db_proxy: DatabaseProxy, keys: KeyPair
) -> None:
    client = proxied_client
    tt = await new_token_type(client, keys)
    owner, task = uuid4(), uuid4()
    await credit(client, keys, owner, tt["id"], 10)
    await add_cost(client, keys, owner, tt["id"], 3, task)
    await db_proxy.cut()  # the pooled connections drop, new ones are refused

    hook = await call_hook(client, owner, task)
    balances = await client.get("/api/budget/balances", headers=bearer(keys, owner))
    again = await call_hook(client, owner, task)
    for response in (hook, balances, again):
        _assert_unavailable(response)


async def test_a_pooled_connection_that_got_the_shutdown_notice_is_a_503_not_a_500(
    proxied_client: httpx.AsyncClient, db_proxy: DatabaseProxy, keys: KeyPair
) -> None:
    # postgres-restart fault case: the FATAL reached an idle connection of the account steps'
    # pool just before the socket closed; the next statement on it raised asyncpg's
    # InternalClientError ("cannot switch to state 12; another operation (2) is in progress").
    client = proxied_client
    tt = await new_token_type(client, keys)
    owner, task = uuid4(), uuid4()
    await credit(client, keys, owner, tt["id"], 10)  # the steps' pool holds an idle connection
    await add_cost(client, keys, owner, tt["id"], 3, task)
    db_proxy.announce_shutdown()
    await asyncio.sleep(0.2)  # the driver reads the notice; the socket is still open
    _assert_unavailable(await call_hook(client, owner, task))


async def test_a_database_that_does_not_answer_gets_a_503_within_the_connect_timeout(
    settings: Settings, migrated_database: str, keys: KeyPair
) -> None:
    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)  # accepts, never speaks: a frozen or unreachable server
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = migrated_database.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
    assert url != migrated_database  # the test database is on 127.0.0.1:5432
    app = create_app(settings.model_copy(update={"database_url": url, "db_connect_timeout": 0.5}))
    try:
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                started = time.monotonic()
                response = await client.get("/api/budget/balances", headers=bearer(keys))
                elapsed = time.monotonic() - started
    finally:
        server.close()
    _assert_unavailable(response)
    assert elapsed < 3


async def _hold_account_lock(
    engine: AsyncEngine,
    owner: UUID,
    token_type: UUID,
    locked: asyncio.Event,
    release: asyncio.Event,
) -> None:
    """A second connection holds the owner's account row, as a frozen consumer would."""
    async with engine.begin() as conn:
        await conn.execute(
            text("SELECT 1 FROM accounts WHERE owner_id = :o AND token_type_id = :t FOR UPDATE"),
            {"o": owner, "t": token_type},
        )
        locked.set()
        await release.wait()


async def test_a_held_account_lock_makes_the_hook_a_quick_503_not_a_long_wait(
    client: httpx.AsyncClient, engine: AsyncEngine, keys: KeyPair, settings: Settings
) -> None:
    assert settings.db_lock_timeout == 0.5  # the default: half of todos' 1 s hook timeout
    tt = await new_token_type(client, keys)
    owner, task = uuid4(), uuid4()
    await credit(client, keys, owner, tt["id"], 10)
    await add_cost(client, keys, owner, tt["id"], 3, task)
    locked, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold_account_lock(engine, owner, UUID(tt["id"]), locked, release))
    await locked.wait()
    try:
        started = time.monotonic()
        async with asyncio.timeout(5):  # without a lock timeout it would wait for the holder
            response = await call_hook(client, owner, task)
        elapsed = time.monotonic() - started
        other, other_task = uuid4(), uuid4()  # another owner's account is not held up
        await add_cost(client, keys, other, tt["id"], 1, other_task)
        assert (await call_hook(client, other, other_task)).json()["decision"] == "veto"
    finally:
        release.set()
        await holder
    _assert_unavailable(response)
    assert elapsed < 2
    retried = await call_hook(client, owner, task)  # once the lock is gone, it holds
    assert retried.json() == {"decision": "allow"}
    assert (await balance_of(client, keys, owner, tt["id"]))["held"] == 3


async def test_a_frozen_transaction_loses_its_locks_after_the_idle_in_transaction_timeout(
    migrated_database: str, engine: AsyncEngine, budget: Budget
) -> None:
    tt = await budget.token_type()
    owner = uuid4()
    await budget.credit(owner, tt, 5)
    frozen_engine = make_engine(migrated_database, limits=DbLimits(idle_in_transaction_timeout=0.5))
    lock = text("SELECT 1 FROM accounts WHERE owner_id = :o AND token_type_id = :t FOR UPDATE")
    params = {"o": owner, "t": tt.id}
    try:
        async with frozen_engine.connect() as frozen:
            await frozen.begin()
            await frozen.execute(lock, params)
            # The process freezes (SIGSTOP) with the row locked; another transaction waits.
            started = time.monotonic()
            async with asyncio.timeout(5), engine.begin() as other:
                await other.execute(lock, params)
            assert time.monotonic() - started < 3  # the server ended the frozen session
            with pytest.raises(Exception) as thawed:  # noqa: PT011 - any error, classified below
                await frozen.execute(text("SELECT 1"))
            assert is_transient_db_error(thawed.value)  # the consumer retries its message
    finally:
        await frozen_engine.dispose()


async def test_a_storm_on_one_account_with_bounded_lock_waits_never_over_allows(
    client: httpx.AsyncClient, keys: KeyPair
) -> None:
    tt = await new_token_type(client, keys)
    owner = uuid4()
    await credit(client, keys, owner, tt["id"], 50)
    tasks = [uuid4() for _ in range(50)]
    for task in tasks:
        await add_cost(client, keys, owner, tt["id"], 10, task)
    answers = await asyncio.gather(*(call_hook(client, owner, task) for task in tasks))
    allowed = [a for a in answers if a.status_code == 200 and a.json()["decision"] == "allow"]
    vetoed = [a for a in answers if a.status_code == 200 and a.json()["decision"] == "veto"]
    for waited_too_long in (a for a in answers if a.status_code != 200):
        _assert_unavailable(waited_too_long)  # a lock wait over the bound: a hook failure
    assert len(allowed) <= 5
    assert (await balance_of(client, keys, owner, tt["id"]))["held"] == 10 * len(allowed)
    assert len(allowed) + len(vetoed) + sum(a.status_code == 503 for a in answers) == 50
