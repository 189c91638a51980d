"""The event consumer: one transaction per message, acked only after its effect is committed.

A body that cannot be parsed is rejected straight to the DLQ. A database failure (see
`db_errors`: an outage, a restart's "starting up", a serialization failure) is not the
message's fault: the message stays unacked (so its delivery count does not grow) while the
handler retries with backoff until the database answers again.

Deliveries run concurrently up to the prefetch, but at most one per owner at a time: a backlog
(after a broker outage, say) must not queue many transactions on one account row ahead of the
user-facing hook, which waits at most `DB_LOCK_TIMEOUT` for that lock.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager

import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from tenacity import AsyncRetrying, retry_if_exception, wait_exponential_jitter

from budget.adapters.db_errors import is_transient_db_error
from budget.metrics import CONSUMER_DB_RETRIES, EVENTS_CONSUMED, EVENTS_DEAD_LETTERED
from budget.service_layer.errors import AccountBusy
from budget.service_layer.events import Outcome
from contracts.envelope import InvalidEventError, ParsedEvent, parse_event

log = structlog.get_logger("consumer")

Apply = Callable[[ParsedEvent], Awaitable[Outcome]]


class KeyedLanes:
    """One lane per key: callers with the same key go one at a time, others in parallel."""

    def __init__(self) -> None:
        self._lanes: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def lane(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._lanes.get(key, (asyncio.Lock(), 0))
        self._lanes[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._lanes[key]
            if users == 1:
                del self._lanes[key]
            else:
                self._lanes[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._lanes)


class EventConsumer:
    """Consumes one queue with a bounded prefetch and applies each event through `apply`."""

    def __init__(
        self, apply: Apply, *, max_backoff: float = 5.0, initial_backoff: float = 0.05
    ) -> None:
        self._apply = apply
        self._max_backoff = max_backoff
        self._initial_backoff = initial_backoff
        self._in_flight: set[asyncio.Task[None]] = set()
        self._owners = KeyedLanes()
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None

    async def start(self, channel: AbstractChannel, queue: AbstractQueue, prefetch: int) -> None:
        await channel.set_qos(prefetch_count=prefetch)
        self._queue = queue
        self._tag = await queue.consume(self._on_message)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking messages, then let in-flight ones finish (unacked ones are redelivered)."""
        if self._queue is not None and self._tag is not None:
            try:
                await self._queue.cancel(self._tag)
            except Exception:  # the channel may already be gone; nothing more to cancel then
                log.debug("cancel_failed", exc_info=True)
            self._tag = None
        if self._in_flight:
            _, pending = await asyncio.wait(self._in_flight, timeout=grace)
            for task in pending:
                task.cancel()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await self.process(message)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def process(self, message: AbstractIncomingMessage) -> None:
        """Parse, apply (retrying database failures), then ack; or dead-letter garbage."""
        try:
            parsed = parse_event(message.body)
        except InvalidEventError as exc:
            log.warning("dead_lettered", message_id=message.message_id, reason=str(exc))
            EVENTS_DEAD_LETTERED.labels("invalid").inc()
            await message.reject(requeue=False)
            return
        event_type = parsed.envelope.type
        bound = log.bind(event_id=str(parsed.envelope.id), type=event_type)
        if parsed.envelope.correlationid:
            bound = bound.bind(correlation_id=parsed.envelope.correlationid)
        try:
            async with self._owners.lane(getattr(parsed.event, "owner_id", None)):
                outcome = await self._apply_retrying(parsed)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug or a poison message: requeue; the delivery limit dead-letters it in the end.
            bound.exception("event_failed")
            EVENTS_CONSUMED.labels(event_type, "failed").inc()
            await message.nack(requeue=True)
            return
        await message.ack()
        EVENTS_CONSUMED.labels(event_type, outcome.value).inc()
        bound.info("event_consumed", outcome=outcome.value)

    async def _apply_retrying(self, parsed: ParsedEvent) -> Outcome:
        try:  # the usual case, without building a retry policy per message
            return await self._apply(parsed)
        except Exception as exc:
            if not _is_transient(exc):
                raise
            _note_retry(None)
        await asyncio.sleep(self._initial_backoff)
        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_transient),
            wait=wait_exponential_jitter(multiplier=self._initial_backoff, max=self._max_backoff),
            before_sleep=_note_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._apply(parsed)
        raise AssertionError("unreachable: tenacity retries until success")


def _is_transient(exc: BaseException) -> bool:
    """Worth another try while the message stays unacked: the database, or a busy account."""
    return isinstance(exc, AccountBusy) or is_transient_db_error(exc)


def _note_retry(state: object) -> None:
    CONSUMER_DB_RETRIES.inc()
    log.warning("database_unavailable_retrying", attempt=getattr(state, "attempt_number", None))
