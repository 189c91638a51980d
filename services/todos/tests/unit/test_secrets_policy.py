"""Outside development the settings refuse placeholders and development values."""

import json

import pytest
from pydantic import ValidationError

from contracts.identity import DEV_KEY_MARKER
from todos.config import DEV_HOOK_SECRET, Settings

REAL_KEY = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOC\n-----END PUBLIC KEY-----"
REAL = {
    "environment": "production",
    "database_url": "postgresql+asyncpg://todos:Vb7nQ2xL9pK4sT1w@postgres:5432/todos",
    "amqp_url": "amqp://todos:Hj5kM8nR2tW6yZ3c@rabbitmq:5672/",
    "jwt_public_key": REAL_KEY,
    "hooks": [
        {"name": "budget", "url": "http://budget-api:8002/h", "secret": "Zq8w3Xr0Lk2Vn6Tp9Ys4"}
    ],
}

HOOK_FIELD = "hooks"


def HOOK_VALUE(secret: str) -> object:
    return [{"name": "budget", "url": "http://budget-api:8002/h", "secret": secret}]


def test_production_accepts_real_secrets() -> None:
    assert Settings(**REAL).environment == "production"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        (
            "database_url",
            "postgresql+asyncpg://todos:CHANGE-ME-todos-db@postgres:5432/todos",
            "DATABASE_URL holds a placeholder",
        ),
        (
            "database_url",
            "postgresql+asyncpg://postgres@127.0.0.1:5432/todos",
            "DATABASE_URL has no password",
        ),
        ("amqp_url", "amqp://guest:guest@127.0.0.1:5672/", "AMQP_URL holds a placeholder"),
        (
            "jwt_public_key",
            "-----BEGIN PUBLIC KEY-----\nCHANGE-ME\n-----END PUBLIC KEY-----",
            "JWT public key is a placeholder",
        ),
        (
            "hooks",
            [
                {
                    "name": "budget",
                    "url": "http://budget-api:8002/hooks/todos.before_complete_task",
                    "secret": "CHANGE-ME-hook-secret",
                }
            ],
            "HOOKS holds a placeholder",
        ),
    ],
)
def test_production_refuses_a_placeholder(field: str, value: object, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Settings(**{**REAL, field: value})  # type: ignore[arg-type]


def test_production_refuses_the_development_key_file() -> None:
    settings = {**REAL, "jwt_public_key": None, "jwt_public_key_file": "/repo/.dev/jwt-public.pem"}
    with pytest.raises(ValidationError, match="development key"):
        Settings(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("environment", ["development", "test"])
def test_development_environments_accept_the_defaults(environment: str) -> None:
    assert Settings(environment=environment).environment == environment  # type: ignore[arg-type]


def test_production_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TODOS_ENVIRONMENT", raising=False)
    assert Settings.model_fields["environment"].default == "production"
    with pytest.raises(
        ValidationError, match="refusing to start with TODOS_ENVIRONMENT=production"
    ):
        Settings()


def test_production_refuses_the_development_key_by_its_content(tmp_path) -> None:
    # Where compose mounts it: nothing in the path says development, the content does.
    mounted = tmp_path / "run" / "secrets" / "jwt_public_key"
    mounted.parent.mkdir(parents=True)
    mounted.write_text(f"{DEV_KEY_MARKER}\n{REAL_KEY}\n")
    settings = {**REAL, "jwt_public_key": None, "jwt_public_key_file": str(mounted)}
    with pytest.raises(ValidationError, match="development key"):
        Settings(**settings)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="development key"):
        Settings(**{**REAL, "jwt_public_key": mounted.read_text()})  # type: ignore[arg-type]


def test_production_refuses_an_unreadable_key_file(tmp_path) -> None:
    missing = str(tmp_path / "nowhere.pem")
    settings = {**REAL, "jwt_public_key": None, "jwt_public_key_file": missing}
    with pytest.raises(ValidationError, match="cannot be read"):
        Settings(**settings)  # type: ignore[arg-type]


def test_production_refuses_the_committed_hook_secret() -> None:
    with pytest.raises(ValidationError, match="development secret"):
        Settings(**{**REAL, HOOK_FIELD: HOOK_VALUE(DEV_HOOK_SECRET)})  # type: ignore[arg-type]


SECRET = "Zq8w3Xr0Lk2Vn6Tp9Ys4-keep-this-private"


def _assert_no_part_of_the_secret_in(message: str) -> None:
    for i in range(len(SECRET) - 4):
        assert SECRET[i : i + 5] not in message, message


@pytest.mark.parametrize(
    "hook",
    [
        {"name": "budget", "secret": SECRET},  # no url: pydantic shows the entry
        {"name": "budget", "url": "not a url", "secret": SECRET},
        {"name": "", "url": "http://budget-api:8002/h", "secret": SECRET},
        ["budget", "http://budget-api:8002/h", SECRET],
    ],
)
def test_a_malformed_hooks_entry_does_not_echo_its_secret(
    hook: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(**{**REAL, "hooks": [hook]})  # type: ignore[arg-type]
    assert "hooks.0" in str(caught.value)
    _assert_no_part_of_the_secret_in(str(caught.value))
    # The same from the environment, as the processes read it.
    monkeypatch.setenv("TODOS_HOOKS", json.dumps([hook]))
    with pytest.raises(ValidationError) as caught:
        Settings(environment="test")
    _assert_no_part_of_the_secret_in(str(caught.value))
