"""Outside development the settings refuse placeholders and development values."""

import pytest
from pydantic import ValidationError

from budget.config import DEV_HOOK_SECRET, Settings
from contracts.identity import DEV_KEY_MARKER

REAL_KEY = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOC\n-----END PUBLIC KEY-----"
REAL = {
    "environment": "production",
    "database_url": "postgresql+asyncpg://budget:Vb7nQ2xL9pK4sT1w@postgres:5432/budget",
    "amqp_url": "amqp://budget:Hj5kM8nR2tW6yZ3c@rabbitmq:5672/",
    "jwt_public_key": REAL_KEY,
    "hook_secrets": ["Zq8w3Xr0Lk2Vn6Tp9Ys4"],
}

HOOK_FIELD = "hook_secrets"


def HOOK_VALUE(secret: str) -> object:
    return [secret]


def test_production_accepts_real_secrets() -> None:
    assert Settings(**REAL).environment == "production"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        (
            "database_url",
            "postgresql+asyncpg://budget:CHANGE-ME-budget-db@postgres:5432/budget",
            "DATABASE_URL holds a placeholder",
        ),
        (
            "database_url",
            "postgresql+asyncpg://postgres@127.0.0.1:5432/budget",
            "DATABASE_URL has no password",
        ),
        ("amqp_url", "amqp://guest:guest@127.0.0.1:5672/", "AMQP_URL holds a placeholder"),
        (
            "jwt_public_key",
            "-----BEGIN PUBLIC KEY-----\nCHANGE-ME\n-----END PUBLIC KEY-----",
            "JWT public key is a placeholder",
        ),
        ("hook_secrets", ["CHANGE-ME-hook-secret"], "HOOK_SECRETS holds a placeholder"),
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
    monkeypatch.delenv("BUDGET_ENVIRONMENT", raising=False)
    assert Settings.model_fields["environment"].default == "production"
    with pytest.raises(
        ValidationError, match="refusing to start with BUDGET_ENVIRONMENT=production"
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
