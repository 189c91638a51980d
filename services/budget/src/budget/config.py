"""Settings of every budget-service process, read from the environment."""

from datetime import timedelta
from itertools import chain
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from budget import secrets_policy
from budget.adapters.db import DbLimits
from contracts.envelope import EXCHANGE

DEV_HOOK_SECRET = "dev-hook-secret"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    # Errors name the field, never its value: a value may be a secret (HOOKS, URLs).
    model_config = SettingsConfigDict(env_file=None, extra="ignore", hide_input_in_errors=True)

    # Production unless told otherwise: only the launcher and the tests say development.
    environment: Literal["development", "test", "production"] = "production"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/budget"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    events_exchange: str = EXCHANGE
    db_pool_size: int = Field(default=10, ge=1)
    # Bounds on database waits (see adapters/db.py): an answer, not a hang, while it is down.
    db_pool_timeout: float = Field(default=5.0, gt=0)
    db_connect_timeout: float = Field(default=3.0, gt=0)
    db_command_timeout: float = Field(default=10.0, gt=0)
    db_idle_in_transaction_timeout: float = Field(default=5.0, ge=0)
    # A row lock is waited for at most this long by the API's transactions (the hook's): then
    # 503 `unavailable`, which todos counts as a failure of that hook call. Keep it a fraction
    # of todos' hook timeout (1 s); 0 turns it off. The consumer waits without this bound.
    db_lock_timeout: float = Field(default=0.5, ge=0)

    jwt_public_key: str | None = None
    jwt_public_key_file: str | None = None
    jwt_audience: str = "todos-budget"

    # Secrets accepted on `X-Hook-Signature`; several during a rotation. Budget's own: todos
    # gives every subscriber its own secret.
    hook_secrets: list[SecretStr] = [SecretStr(DEV_HOOK_SECRET)]
    # The name todos' HOOKS gives budget; a call signed for another subscriber is refused.
    hook_subscriber: str = Field(default="budget", min_length=1)
    # How far the signer's clock may be from ours; a delivery is remembered this long after
    # its signature's time, and refused as a replay while remembered.
    hook_tolerance_seconds: int = Field(default=60, ge=1, le=600)
    hold_ttl: timedelta = timedelta(minutes=10)

    # The largest request body this process reads (the gateway's limit too), in bytes.
    max_body_bytes: int = Field(default=1_048_576, ge=1)

    host: str = "127.0.0.1"
    port: int = 8002
    log_level: str = "INFO"
    log_json: bool = True

    queue: str = "budget.todos-events"
    # An event is poison after CONSUMER_MAX_FAILURES failures in our own code, counted by event
    # id in the database; then the consumer rejects it to the DLQ. The queue's delivery limit
    # (the broker counts every return of an unacked message, restarts included) is only a far
    # backstop for what never reaches our code: keep it well above the restarts a backlog may
    # see (a quorum queue's existing limit cannot be raised in place: see adapters/topology.py).
    consumer_max_failures: int = Field(default=5, ge=1)
    queue_delivery_limit: int = Field(default=100, ge=1)
    # The consumer applies up to CONSUMER_BATCH events per statement, up to CONSUMER_BATCHES
    # batches at once, after lingering CONSUMER_LINGER seconds for a burst to gather; the
    # prefetch should cover them all (batch x batches) or batches stay small.
    consumer_prefetch: int = Field(default=400, ge=1, le=1000)
    consumer_batch: int = Field(default=100, ge=1, le=1000)
    consumer_batches: int = Field(default=4, ge=1, le=16)
    consumer_linger: float = Field(default=0.002, ge=0, le=1)
    # Port of the consumer's /metrics (Prometheus); 0 turns it off.
    consumer_metrics_port: int = Field(default=9102, ge=0, le=65535)
    # The worker writes it on every turn of its loop; `python -m budget.heartbeat` probes it.
    heartbeat_file: str | None = None

    @model_validator(mode="after")
    def _refuse_dev_secrets_outside_development(self) -> Self:
        hook_secrets = (s.get_secret_value() for s in self.hook_secrets)
        secrets_policy.refuse(
            self.environment,
            chain(
                secrets_policy.url_problems("DATABASE_URL", self.database_url),
                secrets_policy.url_problems("AMQP_URL", self.amqp_url),
                secrets_policy.key_problems(self.jwt_public_key, self.jwt_public_key_file),
                secrets_policy.secret_problems("HOOK_SECRETS", hook_secrets),
            ),
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
