"""Settings of every budget-service process, read from the environment."""

from datetime import timedelta
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.envelope import EXCHANGE

DEV_HOOK_SECRET = "dev-hook-secret"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/budget"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    events_exchange: str = EXCHANGE
    db_pool_size: int = Field(default=10, ge=1)

    jwt_public_key: str | None = None
    jwt_public_key_file: str | None = None
    jwt_audience: str = "todos-budget"

    # Secrets accepted on `X-Hook-Signature`; several during a rotation.
    hook_secrets: list[SecretStr] = [SecretStr(DEV_HOOK_SECRET)]
    hook_tolerance_seconds: int = Field(default=300, ge=1)
    hold_ttl: timedelta = timedelta(minutes=10)

    host: str = "127.0.0.1"
    port: int = 8002
    log_level: str = "INFO"
    log_json: bool = True

    queue: str = "budget.todos-events"
    queue_delivery_limit: int = Field(default=5, ge=1)
    consumer_prefetch: int = Field(default=32, ge=1, le=1000)
    # Port of the consumer's /metrics (Prometheus); 0 turns it off.
    consumer_metrics_port: int = Field(default=9102, ge=0, le=65535)

    @model_validator(mode="after")
    def _refuse_dev_secrets_outside_development(self) -> Self:
        if self.environment == "production":
            if not (self.jwt_public_key or self.jwt_public_key_file):
                raise ValueError("JWT_PUBLIC_KEY or JWT_PUBLIC_KEY_FILE is required in production")
            if any(s.get_secret_value() in ("", DEV_HOOK_SECRET) for s in self.hook_secrets):
                raise ValueError("HOOK_SECRETS holds the development secret")
        return self

    def public_key_pem(self) -> str | None:
        if self.jwt_public_key:
            return self.jwt_public_key
        if self.jwt_public_key_file:
            with open(self.jwt_public_key_file) as f:
                return f.read()
        return None
