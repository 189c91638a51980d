"""The event consumer: batches of events, each batch applied in one load and one save, every
message acked only after its effect is committed.

A body that cannot be parsed is rejected straight to the DLQ, on its own. Parsed deliveries wait
in arrival order; a batch takes up to `max_batch` of them (after lingering `linger` seconds for
more to arrive), at most one per owner, and no owner that another batch in flight has: so an
owner's events are applied one at a time and in delivery order, and a backlog (after a broker
outage, say) never queues many writes on one account ahead of the user-facing hook. Up to
`max_batches` batches are in flight at once.

A database failure (see `db_errors`: an outage, a restart's "starting up", a serialization
failure) is not the messages' fault: they stay unacked (so their delivery count does not grow)
while the batch is retried with backoff until the database answers again; whatever an earlier
attempt committed is recorded by event id, so the retry does not apply it twice. Any other
failure of a batch splits it: each event is applied on its own, and one that still fails (a bug
or a poison message) is settled alone.

Poison is judged by our own failures only. Each failure of an event applied alone is counted by
its event id in the database (`FailureCounter`, see `event_failures` for why there and not in
memory); below `max_failures` the message is requeued, at `max_failures` it is rejected to the
DLQ. The broker's delivery count is no judge: a quorum queue counts every return of an unacked
message, and each stop, crash or lost channel of a consumer returns everything it holds (up to
the prefetch), so a few restarts with a backlog would dead-letter valid events. The queue's
delivery limit stays only as a far backstop, for what never reaches this code (an event that
kills the process before it fails).
"""

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from tenacity import AsyncRetrying, retry_if_exception, wait_exponential_jitter

from budget.adapters.db_errors import is_transient_db_error
from budget.metrics import CONSUMER_DB_RETRIES, EVENTS_CONSUMED, EVENTS_DEAD_LETTERED
from budget.service_layer.errors import AccountBusyError
from budget.service_layer.events import Outcome
from contracts.envelope import InvalidEventError, ParsedEvent, parse_event

log = structlog.get_logger("consumer")

ApplyBatch = Callable[[Sequence[ParsedEvent]], Awaitable[list[Outcome]]]
DEFAULT_MAX_FAILURES = 5


class FailureCounter(Protocol):
    """Counts the failures of an event in our own code, by event id, across restarts."""

    async def record(self, event_id: UUID, event_type: str, error: str) -> int:
        """Count one more failure; returns the event's failures so far."""
        ...


@dataclass(eq=False, slots=True)
class _Delivery:
    message: AbstractIncomingMessage
    parsed: ParsedEvent
    owner: Hashable
    settled: asyncio.Future[None] = field(default_factory=asyncio.Future)
    # The context the delivery arrived in (its trace span, log bindings): its batch runs in the
    # context of its first delivery.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


class EventConsumer:
    """Consumes one queue with a bounded prefetch and applies events in batches via `apply`."""

    def __init__(
        self,
        apply: ApplyBatch,
        *,
        failures: FailureCounter,
        max_failures: int = DEFAULT_MAX_FAILURES,
        max_batch: int = 100,
        max_batches: int = 2,
        linger: float = 0.002,
        max_backoff: float = 5.0,
        initial_backoff: float = 0.05,
    ) -> None:
        self._apply = apply
        self._failures = failures
        self._max_failures = max_failures
        self._max_batch = max_batch
        self._max_batches = max_batches
        self._linger = linger
        self._max_backoff = max_backoff
        self._initial_backoff = initial_backoff
        self._waiting: list[_Delivery] = []
        self._owners_in_flight: set[Hashable] = set()
        self._batches: set[asyncio.Task[None]] = set()
        self._dispatching: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
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
        for task in [*self._batches, *filter(None, [self._dispatching])]:
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
        """Parse, then wait until the message's batch is applied and it is acked (or requeued);
        garbage is dead-lettered at once."""
        try:
            parsed = parse_event(message.body)
        except InvalidEventError as exc:
            log.warning("dead_lettered", message_id=message.message_id, reason=str(exc))
            EVENTS_DEAD_LETTERED.labels("invalid").inc()
            await message.reject(requeue=False)
            return
        delivery = _Delivery(message, parsed, getattr(parsed.event, "owner_id", None))
        self._waiting.append(delivery)
        if self._dispatching is None or self._dispatching.done():
            self._dispatching = asyncio.create_task(self._dispatch())
        await asyncio.shield(delivery.settled)

    async def _dispatch(self) -> None:
        """Start batches while deliveries wait and fewer than `max_batches` are in flight."""
        if self._linger and len(self._waiting) < self._max_batch:
            await asyncio.sleep(self._linger)  # let a burst's next deliveries join this batch
        while self._waiting and len(self._batches) < self._max_batches:
            batch = self._take()
            if not batch:
                return  # every waiting owner has a batch in flight; its end dispatches again
            task = asyncio.create_task(self._run(batch), context=batch[0].context)
            self._batches.add(task)

    def _take(self) -> list[_Delivery]:
        """Up to `max_batch` waiting deliveries in order, one per owner, none of an owner in
        flight; an owner passed over once is passed over for the rest (its order is kept)."""
        batch: list[_Delivery] = []
        left: list[_Delivery] = []
        busy = set(self._owners_in_flight)
        for delivery in self._waiting:
            if len(batch) < self._max_batch and delivery.owner not in busy:
                batch.append(delivery)
            else:
                left.append(delivery)
            busy.add(delivery.owner)
        self._waiting = left
        self._owners_in_flight.update(d.owner for d in batch)
        return batch

    async def _run(self, batch: list[_Delivery]) -> None:
        try:
            await self._apply_batch(batch)
        except Exception:  # an ack or nack that could not be sent: the broker redelivers
            log.warning("settling_failed", size=len(batch), exc_info=True)
        finally:
            for delivery in batch:
                self._owners_in_flight.discard(delivery.owner)
                if not delivery.settled.done():
                    delivery.settled.set_result(None)
            task = asyncio.current_task()
            if task is not None:
                self._batches.discard(task)
            if self._waiting and (self._dispatching is None or self._dispatching.done()):
                self._dispatching = asyncio.create_task(self._dispatch())

    async def _apply_batch(self, batch: list[_Delivery]) -> None:
        try:
            outcomes = await self._apply_retrying([d.parsed for d in batch])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if len(batch) == 1:
                await self._failed(batch[0], exc)
                return
            # Not the database: some event in it fails. Find which, one at a time.
            log.warning("batch_failed_applying_one_by_one", size=len(batch), exc_info=True)
            for delivery in batch:
                await self._apply_batch([delivery])
            return
        for delivery, outcome in zip(batch, outcomes, strict=True):
            await delivery.message.ack()
            EVENTS_CONSUMED.labels(delivery.parsed.envelope.type, outcome.value).inc()
        log.debug("batch_consumed", size=len(batch))

    async def _failed(self, delivery: _Delivery, exc: Exception) -> None:
        """A bug or a poison message: counted; requeued until it failed `max_failures` times."""
        envelope = delivery.parsed.envelope
        log.exception(
            "event_failed",
            event_id=str(envelope.id),
            type=envelope.type,
            correlation_id=envelope.correlationid,
        )
        EVENTS_CONSUMED.labels(envelope.type, "failed").inc()
        try:
            failures = await self._failures.record(envelope.id, envelope.type, repr(exc))
        except Exception:  # uncounted: requeued; the broker's delivery limit still bounds it
            log.warning("failure_not_counted", event_id=str(envelope.id), exc_info=True)
            failures = 0
        if failures < self._max_failures:
            await delivery.message.nack(requeue=True)
            return
        log.error(
            "dead_lettered",
            event_id=str(envelope.id),
            type=envelope.type,
            reason="failed",
            failures=failures,
        )
        EVENTS_DEAD_LETTERED.labels("failed").inc()
        await delivery.message.reject(requeue=False)

    async def _apply_retrying(self, batch: Sequence[ParsedEvent]) -> list[Outcome]:
        try:  # the usual case, without building a retry policy per batch
            return await self._apply(batch)
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
                return await self._apply(batch)
        raise AssertionError("unreachable: tenacity retries until success")


def _is_transient(exc: BaseException) -> bool:
    """Worth another try while the messages stay unacked: the database, or a busy account."""
    return isinstance(exc, AccountBusyError) or is_transient_db_error(exc)


def _note_retry(state: object) -> None:
    CONSUMER_DB_RETRIES.inc()
    log.warning("database_unavailable_retrying", attempt=getattr(state, "attempt_number", None))
