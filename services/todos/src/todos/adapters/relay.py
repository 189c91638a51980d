"""The outbox relay: drains unsent rows to the broker, marking each only after its confirm.

Several relays may run at once (`FOR UPDATE SKIP LOCKED`). A row may be published twice (a
crash between confirm and commit); it is never lost. It wakes on NOTIFY and polls anyway,
because a NOTIFY sent while nobody listens is gone.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import asyncpg  # type: ignore[import-untyped]
import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from contracts.envelope import CloudEvent
from todos.adapters.db import driver_dsn
from todos.adapters.outbox import (
    NOTIFY_CHANNEL,
    backlog,
    claim,
    mark_failed,
    mark_published,
    purge_published,
    release_backoff,
)
from todos.metrics import (
    EVENTS_PARKED,
    EVENTS_PUBLISHED,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PURGED,
    OUTBOX_UNSENT,
    PUBLISH_FAILURES,
)

log = structlog.get_logger(__name__)


class BrokerUnavailableError(Exception):
    """No publish can succeed now (broker down, connection lost): not the row's fault."""


# Returns once the broker confirmed the event. Raises BrokerUnavailableError when the broker
# cannot take anything; any other exception means that this one event was refused.
Publish = Callable[[CloudEvent], Awaitable[None]]
ParkedDepth = Callable[[], Awaitable[int]]

DB_ERRORS = (SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
MAX_BACKOFF_SECONDS = 10.0
# While the broker is away every attempt waits for the publish timeout anyway; a short cap
# keeps the lag after it returns to about this much.
MAX_BROKER_BACKOFF_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class DrainResult:
    published: int
    failed: int
    claimed: int
    broker_down: bool = False


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        publish: Publish,
        *,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        metrics_interval: float = 5.0,
        parked_depth: ParkedDepth | None = None,
        retention: timedelta | None = None,
        purge_interval: float = 60.0,
        listen_ssl: str | bool | None = None,  # the listener's `ssl` (see db.tls_mode)
        purge_batch: int = 1000,
        on_iteration: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._listen_ssl = listen_ssl
        self._publish = publish
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._metrics_interval = metrics_interval
        self._parked_depth = parked_depth
        self._retention = retention
        self._purge_interval = purge_interval
        self._purge_batch = purge_batch
        # Called after every turn of the loop, also while the database is waited for: liveness.
        self._on_iteration = on_iteration or (lambda: None)
        self._broker_was_down = False
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Finish the batch in hand, then return from `run`."""
        self._stop.set()
        self._wake.set()

    async def drain_once(self) -> DrainResult:
        """Claim one batch, publish it with confirms in flight together, mark what was confirmed.

        A broker outage marks no row: the whole relay backs off instead (see `run`). A row the
        broker refused waits on its own; that bookkeeping runs in a savepoint, so whatever
        goes wrong with it can never undo the marks of the rows that were confirmed.
        """
        async with self._engine.connect() as conn, conn.begin():
            rows = await claim(conn, self._batch_size)
            if not rows:
                return DrainResult(0, 0, 0)
            results = await asyncio.gather(
                *(self._publish(row.envelope) for row in rows), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, Exception):
                    raise result  # cancellation and the like are not publish failures
            done = [row for row, r in zip(rows, results, strict=True) if r is None]
            await mark_published(conn, [row.id for row in done])
            refused = [
                (row, r)
                for row, r in zip(rows, results, strict=True)
                if isinstance(r, Exception) and not isinstance(r, BrokerUnavailableError)
            ]
            broker_down = any(isinstance(r, BrokerUnavailableError) for r in results)
            if refused:
                try:
                    async with conn.begin_nested():
                        for row, exc in refused:
                            await mark_failed(conn, row.id, f"{type(exc).__name__}: {exc}")
                except SQLAlchemyError as exc:
                    log.error("outbox_failure_bookkeeping_failed", error=repr(exc))
        for row in done:
            EVENTS_PUBLISHED.labels(row.envelope.type).inc()
        failed = len(rows) - len(done)
        if failed:
            PUBLISH_FAILURES.inc(failed)
            log.warning(
                "outbox_publish_failed", failed=failed, published=len(done), broker_down=broker_down
            )
        return DrainResult(len(done), failed, len(rows), broker_down)

    async def run(self) -> None:
        """Drain until `stop()`: on NOTIFY, on every poll interval, with backoff on failures."""
        listener = asyncio.create_task(self._listen(), name="outbox-listen")
        maintenance = asyncio.create_task(self._maintain(), name="outbox-maintenance")
        backoff = 0.0
        try:
            while not self._stop.is_set():
                self._wake.clear()
                result = await self._drain_retrying_db()
                self._on_iteration()
                if result is None:
                    break
                if result.published and self._broker_was_down:
                    await self._broker_is_back()
                if result.broker_down and not result.published:
                    self._broker_was_down = True
                    backoff = min(max(backoff * 2, 0.2), MAX_BROKER_BACKOFF_SECONDS)
                    await self._sleep(backoff, wake_on_notify=False)
                elif result.claimed < self._batch_size:
                    backoff = 0.0
                    await self._sleep(self._poll_interval, wake_on_notify=True)
        finally:
            for task in (listener, maintenance):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _broker_is_back(self) -> None:
        """Rows that backed off on their own during the outage are due again at once."""
        with contextlib.suppress(*DB_ERRORS):
            async with self._engine.begin() as conn:
                released = await release_backoff(conn)
            self._broker_was_down = False
            log.info("outbox_broker_back", released=released)

    async def _drain_retrying_db(self) -> DrainResult | None:
        """One drain; database outages are waited out with jittered exponential backoff."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(DB_ERRORS),
            wait=wait_exponential_jitter(multiplier=0.1, max=MAX_BACKOFF_SECONDS, jitter=0.1),
            stop=lambda _: self._stop.is_set(),
            sleep=lambda seconds: self._sleep(seconds, wake_on_notify=False),
            before_sleep=self._database_unavailable,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self.drain_once()
        except DB_ERRORS:
            return None  # stopping while the database is down
        return None

    def _database_unavailable(self, state: RetryCallState) -> None:
        self._on_iteration()  # still turning, only waiting: alive
        log.warning(
            "outbox_database_unavailable", error=repr(state.outcome and state.outcome.exception())
        )

    async def _maintain(self) -> None:
        """Every metrics interval: the backlog and parking gauges; now and then, the purge."""
        next_purge = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await self.update_gauges()
            if self._retention is not None and loop.time() >= next_purge:
                await self.purge()
                next_purge = loop.time() + self._purge_interval
            await asyncio.sleep(self._metrics_interval)

    async def update_gauges(self) -> None:
        """Set the backlog gauges (two index reads) and the parked-events gauge."""
        try:
            async with self._engine.connect() as conn:
                count, age = await backlog(conn)
            OUTBOX_UNSENT.set(count)
            OUTBOX_OLDEST_AGE.set(age)
        except DB_ERRORS as exc:
            log.debug("outbox_backlog_unknown", error=repr(exc))
        if self._parked_depth is not None:
            try:
                EVENTS_PARKED.set(await self._parked_depth())
            except Exception as exc:  # a gauge must never stop the relay
                log.debug("parked_depth_unknown", error=repr(exc))

    async def purge(self) -> int:
        """Delete rows published longer ago than the retention, batch by batch; how many."""
        if self._retention is None:
            return 0
        purged = 0
        try:
            while not self._stop.is_set():
                async with self._engine.begin() as conn:
                    n = await purge_published(conn, self._retention, self._purge_batch)
                purged += n
                if n < self._purge_batch:
                    break
        except DB_ERRORS as exc:
            log.warning("outbox_purge_failed", error=repr(exc))
        if purged:
            OUTBOX_PURGED.inc(purged)
            log.info("outbox_purged", rows=purged)
        return purged

    async def _sleep(self, seconds: float, *, wake_on_notify: bool) -> None:
        event = self._wake if wake_on_notify else self._stop
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()

    async def _listen(self) -> None:
        """LISTEN for new rows, reconnecting after losing the database."""
        dsn = driver_dsn(self._engine.url)
        delay = 0.2
        while True:
            try:
                conn = await asyncpg.connect(dsn, timeout=5, ssl=self._listen_ssl)
            except (*DB_ERRORS, TimeoutError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)
                continue
            lost = asyncio.Event()
            try:
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
                delay = 0.2
                self._wake.set()  # rows may have arrived while we were not listening
                await lost.wait()
            except DB_ERRORS:
                pass
            finally:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=1)
