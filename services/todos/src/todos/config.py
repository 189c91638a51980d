"""Settings of every todos-service process, read from the environment."""

from itertools import chain
from typing import Literal, Self

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.envelope import EXCHANGE
from contracts.hooks import SUBSCRIBER_NAME
from todos import secrets_policy
from todos.adapters.db import DbLimits

DEV_HOOK_SECRET = "dev-hook-secret"  # noqa: S105 - refused outside development (secrets_policy)


class HookSubscription(BaseModel):
    """One subscriber of `todos.before_complete_task`."""

    model_config = ConfigDict(hide_input_in_errors=True)  # an entry holds its secret

    name: str = Field(pattern=SUBSCRIBER_NAME)  # signed into every call it gets
    url: AnyHttpUrl
    secret: SecretStr
    timeout: float = Field(default=1.0, gt=0, le=30)
    failure_policy: Literal["fail", "ignore"] = "fail"


class Settings(BaseSettings):
    # Errors name the field, never its value: a value may be a secret (HOOKS, URLs).
    model_config = SettingsConfigDict(env_file=None, extra="ignore", hide_input_in_errors=True)

    # Production unless told otherwise: only the launcher and the tests say development.
    environment: Literal["development", "test", "production"] = "production"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/todos"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    events_exchange: str = EXCHANGE
    # A fixed pool (no overflow): sized to the work, its connections and statements kept.
    db_pool_size: int = Field(default=10, ge=1)
    # Completion-aborted rows get their own small pool: never starved by the completions.
    db_abort_pool_size: int = Field(default=2, ge=1)
    # Completions in flight per API process; one more is answered 503 `overloaded` at once.
    completions_max_in_flight: int = Field(default=64, ge=1)
    # Bounds on database waits (see adapters/db.py): an answer, not a hang, while it is down.
    db_pool_timeout: float = Field(default=5.0, gt=0)
    db_connect_timeout: float = Field(default=3.0, gt=0)
    db_command_timeout: float = Field(default=10.0, gt=0)
    db_idle_in_transaction_timeout: float = Field(default=15.0, ge=0)  # > relay_publish_timeout

    jwt_public_key: str | None = None
    jwt_public_key_file: str | None = None
    jwt_audience: str = "todos-budget"

    hooks: list[HookSubscription] = []

    # The largest request body this process reads (the gateway's limit too), in bytes.
    max_body_bytes: int = Field(default=1_048_576, ge=1)

    host: str = "127.0.0.1"
    port: int = 8001
    log_level: str = "INFO"
    log_json: bool = True

    relay_batch_size: int = Field(default=100, ge=1, le=1000)
    relay_poll_interval: float = Field(default=1.0, gt=0)
    relay_publish_timeout: float = Field(default=5.0, gt=0)
    relay_metrics_port: int = Field(default=9101, ge=0, le=65535)  # 0: no metrics endpoint
    relay_metrics_interval: float = Field(default=5.0, gt=0)  # backlog and parked gauges
    # Published rows are deleted this many seconds after publication (0: kept for ever).
    relay_retention: float = Field(default=86400.0, ge=0)
    relay_purge_interval: float = Field(default=60.0, gt=0)
    # The worker writes it on every turn of its loop; `python -m todos.heartbeat` probes it.
    heartbeat_file: str | None = None

    # The breaker opens on mostly-failing calls; it probes again after a cool-down that starts
    # at `first_reset` and doubles per failed probe up to `reset` (see circuit_breaker).
    hook_breaker_failures: int = Field(default=5, ge=1)
    hook_breaker_first_reset_seconds: float = Field(default=1.0, gt=0)
    hook_breaker_reset_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _refuse_dev_secrets_outside_development(self) -> Self:
        hook_secrets = (h.secret.get_secret_value() for h in self.hooks)
        secrets_policy.refuse(
            self.environment,
            chain(
                secrets_policy.url_problems("DATABASE_URL", self.database_url),
                secrets_policy.url_problems("AMQP_URL", self.amqp_url),
                secrets_policy.key_problems(self.jwt_public_key, self.jwt_public_key_file),
                secrets_policy.secret_problems("HOOKS", hook_secrets),
            ),
        )
        return self

    def db_limits(self) -> DbLimits:
        return DbLimits(
            pool_timeout=self.db_pool_timeout,
            connect_timeout=self.db_connect_timeout,
            command_timeout=self.db_command_timeout,
            idle_in_transaction_timeout=self.db_idle_in_transaction_timeout,
        )

    def public_key_pem(self) -> str | None:
        if self.jwt_public_key:
            return self.jwt_public_key
        if self.jwt_public_key_file:
            with open(self.jwt_public_key_file) as f:
                return f.read()
        return None
