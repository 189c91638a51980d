"""Fixtures shared by every tier: signing keys and tokens, settings, the migrated test database."""

import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import jwt
import pytest
from alembic import command
from alembic.config import Config
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from budget.config import Settings
from budget.entrypoints.app import create_app

# Production is the services' default; the tests (and what they start) say otherwise.
os.environ.setdefault("BUDGET_ENVIRONMENT", "test")
SERVICE_DIR = Path(__file__).resolve().parents[1]
TEST_DATABASE_URL = os.environ.get(
    "BUDGET_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/budget_test"
)
TEST_AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str

    def token(
        self,
        sub: UUID | str | None = None,
        *,
        roles: object = None,
        expires_in: int = 300,
        aud: str = "todos-budget",
        alg: str = "RS256",
        **extra: object,
    ) -> str:
        claims: dict[str, object] = {
            "sub": str(sub or uuid4()),
            "aud": aud,
            "exp": int(time.time()) + expires_in,
            **extra,
        }
        if roles is not None:
            claims["roles"] = roles
        return jwt.encode(claims, self.private_pem, algorithm=alg)


def _key_pair() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(private, public)


@pytest.fixture(scope="session")
def keys() -> KeyPair:
    return _key_pair()


@pytest.fixture(scope="session")
def other_keys() -> KeyPair:
    return _key_pair()


def alembic_config(database_url: str) -> Config:
    config = Config(str(SERVICE_DIR / "alembic.ini"))
    config.attributes["database_url"] = database_url
    return config


@pytest.fixture(scope="session")
def migrated_database() -> Iterator[str]:
    """The test database rebuilt at `head` (once per session; the schema may have changed)."""
    config = alembic_config(TEST_DATABASE_URL)
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    return TEST_DATABASE_URL


@pytest.fixture
def settings(keys: KeyPair) -> Settings:
    return Settings(
        environment="test",
        database_url=TEST_DATABASE_URL,
        amqp_url=TEST_AMQP_URL,
        jwt_public_key=keys.public_pem,
        log_level="WARNING",
    )


@pytest.fixture
async def app(settings: Settings, migrated_database: str) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://budget.test") as c:
        yield c
