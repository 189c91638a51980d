"""Settings of every budget-service process, read from the environment."""

from datetime import timedelta
from itertools import chain
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from budget import secrets_policy
from budget.adapters.db import DbLimits
from contracts.envelope import EXCHANGE

ENV_PREFIX = "BUDGET_"
DEV_HOOK_SECRET = "dev-hook-secret"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    """Every setting of the budget processes, from `BUDGET_<NAME>` environment variables."""

    # Errors name the field, never its value: a value may be a secret (BUDGET_HOOK_SECRETS, URLs).
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=None, extra="ignore", hide_input_in_errors=True
    )

    environment: Literal["development", "test", "production"] = Field(
        default="production",
        description="development and test accept the development key and secrets; production "
        "(the default: only the launcher and the tests say otherwise) refuses them at start",
    )
    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/budget",
        description="budget's PostgreSQL database (SQLAlchemy URL, asyncpg driver)",
    )
    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        description="the RabbitMQ broker the consumer reads todos' events from",
    )
    events_exchange: str = Field(
        default=EXCHANGE, description="the topic exchange todos publishes its events on"
    )
    db_pool_size: int = Field(default=10, ge=1, description="database connections per process")
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
        default=5.0,
        ge=0,
        description="seconds a transaction may sit idle before the server ends it (0: no limit)",
    )
    db_lock_timeout: float = Field(
        default=0.5,
        ge=0,
        description="seconds the API's transactions (the hook's) wait for a row lock, then 503 "
        "`unavailable`, which todos counts as a failed hook call; keep it a fraction of todos' "
        "hook timeout (1 s); 0 turns it off; the consumer waits without this bound",
    )

    jwt_public_key: str | None = Field(
        default=None, description="the identity provider's RS256 public key (PEM), inline"
    )
    jwt_public_key_file: str | None = Field(
        default=None,
        description="a file holding that key (used when BUDGET_JWT_PUBLIC_KEY is unset)",
    )
    jwt_audience: str = Field(
        default="todos-budget", description="the `aud` claim a token must carry"
    )

    hook_secrets: list[SecretStr] = Field(
        default=[SecretStr(DEV_HOOK_SECRET)],
        description="the secrets accepted on `X-Hook-Signature`, a JSON list (several during a "
        "rotation); budget's own: todos gives every subscriber its own secret",
    )
    hook_subscriber: str = Field(
        default="budget",
        min_length=1,
        description="the name todos' TODOS_HOOKS gives budget; a call signed for another "
        "subscriber is refused",
    )
    hook_tolerance_seconds: int = Field(
        default=60,
        ge=1,
        le=600,
        description="how far the signer's clock may be from ours; a delivery is remembered this "
        "long after its signature's time, and refused as a replay while remembered",
    )
    hold_ttl: timedelta = Field(
        default=timedelta(minutes=10),
        description="how long a hold reserves tokens before it expires: an ISO 8601 duration "
        "(PT10M)",
    )

    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1,
        description="the largest request body this process reads, in bytes (the gateway's limit "
        "too)",
    )

    host: str = Field(default="127.0.0.1", description="the address the API and /metrics bind")
    port: int = Field(default=8002, description="the API's HTTP port")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_json: bool = Field(
        default=True, description="one JSON object per log line (false: readable lines)"
    )

    queue: str = Field(
        default="budget.todos-events", description="budget's queue of todos' events (quorum)"
    )
    consumer_max_failures: int = Field(
        default=5,
        ge=1,
        description="failures in our own code (counted by event id in the database) after which "
        "an event is poison: the consumer rejects it to the DLQ",
    )
    queue_delivery_limit: int = Field(
        default=100,
        ge=1,
        description="the queue's delivery limit, a far backstop for what never reaches our code "
        "(the broker counts every return, restarts included); an existing queue's limit cannot "
        "be raised in place (see adapters/topology.py)",
    )
    consumer_prefetch: int = Field(
        default=400,
        ge=1,
        le=1000,
        description="unacknowledged messages the broker sends ahead; cover "
        "BUDGET_CONSUMER_BATCH x BUDGET_CONSUMER_BATCHES or batches stay small",
    )
    consumer_batch: int = Field(
        default=100, ge=1, le=1000, description="events the consumer applies per statement"
    )
    consumer_batches: int = Field(
        default=4, ge=1, le=16, description="batches the consumer applies at once"
    )
    consumer_linger: float = Field(
        default=0.002,
        ge=0,
        le=1,
        description="seconds the consumer lingers for a burst to gather into a batch",
    )
    consumer_metrics_port: int = Field(
        default=9102, ge=0, le=65535, description="the consumer's /metrics port (0: none)"
    )
    heartbeat_file: str | None = Field(
        default=None,
        description="a file the consumer writes on every turn of its loop; "
        "`python -m budget.heartbeat` probes it",
    )

    @model_validator(mode="after")
    def _refuse_dev_secrets_outside_development(self) -> Self:
        hook_secrets = (s.get_secret_value() for s in self.hook_secrets)
        secrets_policy.refuse(
            self.environment,
            chain(
                secrets_policy.url_problems(f"{ENV_PREFIX}DATABASE_URL", self.database_url),
                secrets_policy.url_problems(f"{ENV_PREFIX}AMQP_URL", self.amqp_url),
                secrets_policy.key_problems(
                    self.jwt_public_key, self.jwt_public_key_file, prefix=ENV_PREFIX
                ),
                secrets_policy.secret_problems(f"{ENV_PREFIX}HOOK_SECRETS", hook_secrets),
            ),
            prefix=ENV_PREFIX,
        )
        return self

    def db_limits(self, *, lock_timeout: bool = True) -> DbLimits:
        return DbLimits(
            pool_timeout=self.db_pool_timeout,
            connect_timeout=self.db_connect_timeout,
            command_timeout=self.db_command_timeout,
            lock_timeout=self.db_lock_timeout if lock_timeout else 0.0,
            idle_in_transaction_timeout=self.db_idle_in_transaction_timeout,
        )

    def public_key_pem(self) -> str | None:
        if self.jwt_public_key:
            return self.jwt_public_key
        if self.jwt_public_key_file:
            with open(self.jwt_public_key_file) as f:
                return f.read()
        return None
