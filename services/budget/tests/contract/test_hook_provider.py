"""budget as the provider of the hook: todos' pact replayed against budget's real app.

The app runs under uvicorn on a free loopback port with the real PostgreSQL (`budget_test`,
migrated by alembic), behind `ResigningApp`. State handlers set up token types, credits and
costs through budget's own use cases.
"""

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
import uvicorn
from pact import Verifier
from pydantic import SecretStr

from budget.config import Settings
from budget.entrypoints.app import create_app
from tests.conftest import TEST_AMQP_URL
from tests.contract import provider_states
from tests.contract.pacts import PACT_DIR
from tests.contract.resigning import ResigningApp

pytestmark = pytest.mark.provider

PACT_FILE = PACT_DIR / "todos-budget.json"
HOOK_SECRET = "pact-provider-secret"
STARTUP_DEADLINE = 15.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def provider(migrated_database: str) -> Iterator[tuple[str, ResigningApp]]:
    settings = Settings(
        environment="test",
        database_url=migrated_database,
        amqp_url=TEST_AMQP_URL,
        hook_secrets=[SecretStr(HOOK_SECRET)],
        log_level="WARNING",
    )
    app = ResigningApp(create_app(settings), HOOK_SECRET)
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="on", log_level="warning", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="budget-provider", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_DEADLINE
    while not server.started:
        assert thread.is_alive(), "budget's server stopped during start-up"
        assert time.monotonic() < deadline, "budget did not start in time"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=STARTUP_DEADLINE)


def _state_handlers(database_url: str, app: ResigningApp) -> dict[str, Any]:
    def no_cost(action: str, parameters: dict[str, Any]) -> None:
        owner = UUID(parameters["owner_id"])
        provider_states.run(database_url, provider_states.forget_owner, owner)

    def cannot_afford(action: str, parameters: dict[str, Any]) -> None:
        owner, task = UUID(parameters["owner_id"]), UUID(parameters["task_id"])
        if action == "setup":
            cost, balance = int(parameters["cost"]), int(parameters["balance"])
            assert balance < cost, "the state promises an owner who cannot afford the cost"
            provider_states.run(
                database_url, provider_states.owner_with_cost, owner, task, cost, balance
            )
        else:
            provider_states.run(database_url, provider_states.forget_owner, owner)

    def bad_signature(action: str, parameters: dict[str, Any]) -> None:
        # Signed now with a secret budget does not hold: the HMAC refuses it, not the clock.
        app.secret = parameters["secret"] if action == "setup" else app.default_secret

    return {
        "no cost is set for the task": no_cost,
        "the owner cannot afford the task's cost": cannot_afford,
        "the request is signed with a secret budget does not accept": bad_signature,
    }


def test_budget_honours_todos_hook_pact(
    provider: tuple[str, ResigningApp], migrated_database: str
) -> None:
    url, app = provider
    verifier = (
        Verifier("budget", host="127.0.0.1")
        .add_transport(url=url)
        .add_source(PACT_FILE)
        .state_handler(_state_handlers(migrated_database, app), teardown=True)
        .set_error_on_empty_pact(enabled=True)
        .set_coloured_output(enabled=False)
    )
    verifier.verify()  # raises with Pact's report on any mismatch

    outcomes = {r["description"]: r["result"] for r in verifier.results["interactionResults"]}
    assert len(outcomes) == 3, outcomes  # every interaction of the pact was replayed
    assert set(outcomes.values()) == {"OK"}, verifier.output(strip_ansi=True)
