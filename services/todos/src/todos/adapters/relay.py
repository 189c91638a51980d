"""The outbox relay: drains unsent rows to the broker, marking each only after its confirm.

Several relays may run at once (`FOR UPDATE SKIP LOCKED`). A row may be published twice (a
crash between confirm and commit); it is never lost. It wakes on NOTIFY and polls anyway,
because a NOTIFY sent while nobody listens is gone.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg  # type: ignore[import-untyped]
import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from contracts.envelope import CloudEvent
from todos.adapters.outbox import NOTIFY_CHANNEL, backlog, claim, mark_failed, mark_published
from todos.metrics import EVENTS_PUBLISHED, OUTBOX_OLDEST_AGE, OUTBOX_UNSENT, PUBLISH_FAILURES

log = structlog.get_logger(__name__)

Publish = Callable[[CloudEvent], Awaitable[None]]
DB_ERRORS = (SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
MAX_BACKOFF_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class DrainResult:
    published: int
    failed: int
    claimed: int


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        publish: Publish,
        *,
        batch_size: int = 100,
        poll_interval: float = 1.0,
    ) -> None:
        self._engine = engine
        self._publish = publish
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Finish the batch in hand, then return from `run`."""
        self._stop.set()
        self._wake.set()

    async def drain_once(self) -> DrainResult:
        """Claim one batch, publish it with confirms in flight together, mark what was confirmed."""
        async with self._engine.connect() as conn, conn.begin():
            rows = await claim(conn, self._batch_size)
            if not rows:
                return DrainResult(0, 0, 0)
            results = await asyncio.gather(
                *(self._publish(row.envelope) for row in rows), return_exceptions=True
            )
            done = [row for row, r in zip(rows, results, strict=True) if r is None]
            await mark_published(conn, [row.id for row in done])
            for row, result in zip(rows, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, Exception):
                        raise result  # cancellation and the like are not publish failures
                    await mark_failed(conn, row.id, f"{type(result).__name__}: {result}")
        for row in done:
            EVENTS_PUBLISHED.labels(row.envelope.type).inc()
        failed = len(rows) - len(done)
        if failed:
            PUBLISH_FAILURES.inc(failed)
            log.warning("outbox_publish_failed", failed=failed, published=len(done))
        return DrainResult(len(done), failed, len(rows))

    async def run(self) -> None:
        """Drain until `stop()`: on NOTIFY, on every poll interval, with backoff on failures."""
        listener = asyncio.create_task(self._listen(), name="outbox-listen")
        backoff = 0.0
        try:
            while not self._stop.is_set():
                self._wake.clear()
                result = await self._drain_retrying_db()
                if result is None:
                    break
                await self._update_backlog()
                if result.failed and not result.published:  # the broker itself is in trouble
                    backoff = min(max(backoff * 2, 0.2), MAX_BACKOFF_SECONDS)
                    await self._sleep(backoff, wake_on_notify=False)
                elif result.claimed < self._batch_size:
                    backoff = 0.0
                    await self._sleep(self._poll_interval, wake_on_notify=True)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _drain_retrying_db(self) -> DrainResult | None:
        """One drain; database outages are waited out with jittered exponential backoff."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(DB_ERRORS),
            wait=wait_exponential_jitter(multiplier=0.1, max=MAX_BACKOFF_SECONDS, jitter=0.1),
            stop=lambda _: self._stop.is_set(),
            sleep=lambda seconds: self._sleep(seconds, wake_on_notify=False),
            before_sleep=lambda state: log.warning(
                "outbox_database_unavailable",
                error=repr(state.outcome and state.outcome.exception()),
            ),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self.drain_once()
        except DB_ERRORS:
            return None  # stopping while the database is down
        return None

    async def _update_backlog(self) -> None:
        with contextlib.suppress(*DB_ERRORS):
            async with self._engine.connect() as conn:
                count, age = await backlog(conn)
            OUTBOX_UNSENT.set(count)
            OUTBOX_OLDEST_AGE.set(age)

    async def _sleep(self, seconds: float, *, wake_on_notify: bool) -> None:
        event = self._wake if wake_on_notify else self._stop
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()

    async def _listen(self) -> None:
        """LISTEN for new rows, reconnecting after losing the database."""
        dsn = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        delay = 0.2
        while True:
            try:
                conn = await asyncpg.connect(dsn, timeout=5)
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
