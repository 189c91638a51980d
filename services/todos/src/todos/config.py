"""Settings of every todos-service process, read from the environment."""

from itertools import chain
from typing import Literal, Self

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.envelope import EXCHANGE
from contracts.hooks import SUBSCRIBER_NAME
from todos import secrets_policy
from todos.adapters.db import DbLimits

ENV_PREFIX = "TODOS_"
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
    """Every setting of the todos processes, from `TODOS_<NAME>` environment variables."""

    # Errors name the field, never its value: a value may be a secret (TODOS_HOOKS, URLs).
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=None, extra="ignore", hide_input_in_errors=True
    )

    environment: Literal["development", "test", "production"] = Field(
        default="production",
        description="development and test accept the development key and secrets; production "
        "(the default: only the launcher and the tests say otherwise) refuses them at start",
    )
    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/todos",
        description="todos' PostgreSQL database (SQLAlchemy URL, asyncpg driver)",
    )
    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        description="the RabbitMQ broker the relay publishes to",
    )
    events_exchange: str = Field(
        default=EXCHANGE, description="the topic exchange the events are published on"
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        description="database connections per process: a fixed pool (no overflow), its "
        "connections and prepared statements kept",
    )
    db_abort_pool_size: int = Field(
        default=2,
        ge=1,
        description="a small pool of its own for completion-aborted rows, never starved by the "
        "completions",
    )
    completions_max_in_flight: int = Field(
        default=64,
        ge=1,
        description="completions in flight per API process; one more is answered 503 "
        "`overloaded` at once",
    )
    db_pool_timeout: float = Field(
        default=5.0, gt=0, description="seconds to wait for a pooled connection, then 503"
    )
    db_connect_timeout: float = Field(
        default=3.0, gt=0, description="seconds to open a database connection"
    )
    db_command_timeout: float = Field(
        default=10.0, gt=0, description="seconds one statement may take"
    )
    db_idle_in_transaction_timeout: float = Field(
        default=15.0,
        ge=0,
        description="seconds a transaction may sit idle before the server ends it; keep it above "
        "TODOS_RELAY_PUBLISH_TIMEOUT (0: no limit)",
    )

    jwt_public_key: str | None = Field(
        default=None, description="the identity provider's RS256 public key (PEM), inline"
    )
    jwt_public_key_file: str | None = Field(
        default=None,
        description="a file holding that key (used when TODOS_JWT_PUBLIC_KEY is unset)",
    )
    jwt_audience: str = Field(
        default="todos-budget", description="the `aud` claim a token must carry"
    )

    hooks: list[HookSubscription] = Field(
        default=[],
        description="the subscribers of `todos.before_complete_task`: a JSON list of "
        '{"name", "url", "secret", "timeout" (s, default 1), "failure_policy" ("fail" or '
        '"ignore")}',
    )

    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1,
        description="the largest request body this process reads, in bytes (the gateway's limit "
        "too)",
    )

    host: str = Field(default="127.0.0.1", description="the address the API and /metrics bind")
    port: int = Field(default=8001, description="the API's HTTP port")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_json: bool = Field(
        default=True, description="one JSON object per log line (false: readable lines)"
    )

    relay_batch_size: int = Field(
        default=100, ge=1, le=1000, description="outbox rows the relay publishes per turn"
    )
    relay_poll_interval: float = Field(
        default=1.0,
        gt=0,
        description="seconds between the relay's polls of the outbox when no notification comes",
    )
    relay_publish_timeout: float = Field(
        default=5.0, gt=0, description="seconds the relay waits for the broker's confirm"
    )
    relay_metrics_port: int = Field(
        default=9101, ge=0, le=65535, description="the relay's /metrics port (0: none)"
    )
    relay_metrics_interval: float = Field(
        default=5.0, gt=0, description="seconds between updates of the backlog and parked gauges"
    )
    relay_retention: float = Field(
        default=86400.0,
        ge=0,
        description="seconds published outbox rows are kept before deletion (0: kept for ever)",
    )
    relay_purge_interval: float = Field(
        default=60.0, gt=0, description="seconds between deletions of expired outbox rows"
    )
    heartbeat_file: str | None = Field(
        default=None,
        description="a file the relay writes on every turn of its loop; "
        "`python -m todos.heartbeat` probes it",
    )

    hook_breaker_failures: int = Field(
        default=5,
        ge=1,
        description="failed calls that open a subscriber's circuit breaker (it opens on "
        "mostly-failing calls)",
    )
    hook_breaker_first_reset_seconds: float = Field(
        default=1.0,
        gt=0,
        description="the first cool-down before an open breaker probes again; it doubles per "
        "failed probe",
    )
    hook_breaker_reset_seconds: float = Field(
        default=30.0, gt=0, description="the longest cool-down of an open breaker"
    )

    @model_validator(mode="after")
    def _refuse_dev_secrets_outside_development(self) -> Self:
        hook_secrets = (h.secret.get_secret_value() for h in self.hooks)
        secrets_policy.refuse(
            self.environment,
            chain(
                secrets_policy.url_problems(f"{ENV_PREFIX}DATABASE_URL", self.database_url),
                secrets_policy.url_problems(f"{ENV_PREFIX}AMQP_URL", self.amqp_url),
                secrets_policy.key_problems(
                    self.jwt_public_key, self.jwt_public_key_file, prefix=ENV_PREFIX
                ),
                secrets_policy.secret_problems(f"{ENV_PREFIX}HOOKS", hook_secrets),
            ),
            prefix=ENV_PREFIX,
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
