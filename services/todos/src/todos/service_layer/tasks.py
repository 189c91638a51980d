"""Use cases of todos-service. Every one is scoped to the calling owner."""

import asyncio
from contextlib import nullcontext
from dataclasses import dataclass

import structlog

from contracts.events import TaskCompleted, TaskCompletionAborted
from contracts.ids import InvocationId, OwnerId, TaskId, new_invocation_id
from todos.domain.hook_verdict import Verdict, judge
from todos.domain.model import Task, TaskStatus
from todos.service_layer.capacity import Capacity
from todos.service_layer.errors import (
    CompletionVetoedError,
    HookUnavailableError,
    OverloadedError,
    TaskNotFoundError,
)
from todos.service_layer.pagination import decode_cursor, encode_cursor
from todos.service_layer.ports import (
    Clock,
    CompletionStore,
    HookGate,
    TaskRepository,
    UnitOfWorkFactory,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Task]
    next_cursor: str | None


async def create_task(
    uow: UnitOfWorkFactory, clock: Clock, owner_id: OwnerId, title: str, description: str | None
) -> Task:
    """Create an open task; `TaskCreated` goes to the outbox in the same transaction."""
    task = Task.create(owner_id, title, description, clock())
    async with uow() as tx:
        await tx.tasks.add(task)
        tx.record(task.pull_events())
        await tx.commit()
    return task


async def get_task(uow: UnitOfWorkFactory, owner_id: OwnerId, task_id: TaskId) -> Task:
    """The owner's task, or `TaskNotFoundError`."""
    async with uow() as tx:
        return await _load(tx.tasks, owner_id, task_id)


async def list_tasks(
    uow: UnitOfWorkFactory,
    owner_id: OwnerId,
    *,
    status: TaskStatus | None,
    limit: int,
    cursor: str | None,
) -> Page:
    """One newest-first page of the owner's tasks (`InvalidCursorError` on a bad cursor)."""
    after = decode_cursor(cursor) if cursor else None
    async with uow() as tx:
        rows = await tx.tasks.list(owner_id, status=status, limit=limit + 1, after=after)
    items = rows[:limit]
    more = len(rows) > limit
    return Page(items, encode_cursor((items[-1].created_at, items[-1].id)) if more else None)


async def edit_task(
    uow: UnitOfWorkFactory,
    clock: Clock,
    owner_id: OwnerId,
    task_id: TaskId,
    *,
    title: str | None,
    description: str | None,
    clear_description: bool = False,
) -> Task:
    """Edit an open task (`TaskAlreadyCompletedError` once completed)."""
    async with uow() as tx:
        task = await _load(tx.tasks, owner_id, task_id, for_update=True)
        task.edit(title=title, description=description, clear_description=clear_description)
        task.updated_at = clock()
        await tx.tasks.save_edits(task)
        await tx.commit()
    return task


async def delete_task(
    uow: UnitOfWorkFactory, clock: Clock, owner_id: OwnerId, task_id: TaskId
) -> None:
    """Delete a task, open or completed; `TaskDeleted` goes to the outbox with it."""
    async with uow() as tx:
        task = await _load(tx.tasks, owner_id, task_id, for_update=True)
        task.delete(clock())
        if not await tx.tasks.delete(task):
            raise TaskNotFoundError(str(task_id))
        tx.record(task.pull_events())
        await tx.commit()


async def complete_task(
    store: CompletionStore,
    clock: Clock,
    hooks: HookGate,
    owner_id: OwnerId,
    task_id: TaskId,
    *,
    capacity: Capacity | None = None,
) -> Task:
    """Ask the hooks, then complete the task exactly once, as one attempt's one outcome.

    Round trips: one read, the hook calls, one statement that completes and writes the outbox
    row; no transaction is open across the hooks. Past `capacity` it is `OverloadedError`.
    """
    with capacity.slot() if capacity else nullcontext():
        return await _complete(store, clock, hooks, owner_id, task_id)


async def _complete(
    store: CompletionStore, clock: Clock, hooks: HookGate, owner_id: OwnerId, task_id: TaskId
) -> Task:
    task = await store.load(owner_id, task_id)
    if task is None:
        raise TaskNotFoundError(str(task_id))
    if task.is_completed:
        return task

    # One id per attempt: the hooks hold under it, and an abort names it, so a subscriber
    # releases only this attempt's hold, never one a later retry relies on.
    attempt = new_invocation_id()
    verdict = judge(await hooks.before_complete(task.id, owner_id, invocation_id=attempt))
    if not verdict.allowed:
        if verdict.may_hold:
            await _abort(store, clock, task, attempt, _why(verdict))
        if verdict.vetoed_by:
            raise CompletionVetoedError(list(verdict.vetoed_by), list(verdict.reasons))
        if verdict.unavailable:
            raise HookUnavailableError(list(verdict.unavailable))
        raise OverloadedError("hook calls could not be sent in time")

    task.complete(clock())
    [event] = [e for e in task.pull_events() if isinstance(e, TaskCompleted)]
    try:
        if await store.complete(task, event, attempt):
            return task
        # Someone else changed it first: a concurrent completion won, or it was deleted.
        current = await store.load(owner_id, task_id)
    except Exception:
        # The error may have come after the commit (a reset connection, a client timeout): the
        # abort's statement finds out, and then the completion stands.
        if verdict.may_hold and not await _abort(
            store, clock, task, attempt, "the completion could not be stored"
        ):
            return task
        raise
    if current is None:
        if verdict.may_hold:
            await _abort(store, clock, task, attempt, "the task was deleted during completion")
        raise TaskNotFoundError(str(task_id))
    return current


async def _load(
    tasks: TaskRepository, owner_id: OwnerId, task_id: TaskId, *, for_update: bool = False
) -> Task:
    task = await tasks.get(owner_id, task_id, for_update=for_update)
    if task is None:
        raise TaskNotFoundError(str(task_id))
    return task


async def _abort(
    store: CompletionStore, clock: Clock, task: Task, attempt: InvocationId, reason: str
) -> bool:
    """Tell the hooks that allowed that this completion will not happen; False when the
    database says the attempt's completion committed (then nothing is told)."""
    event = TaskCompletionAborted(
        task_id=task.id,
        owner_id=task.owner_id,
        aborted_at=clock(),
        reason=reason[:500],
        invocation_id=attempt,
    )
    recorded = await _record(store, event)
    if recorded is not None:
        return recorded
    # The database is away (often the very reason the completion failed): keep trying in the
    # background, so the hold is released soon after it is back rather than at its TTL.
    retry = asyncio.create_task(_record_later(store, event), name=f"abort-{task.id}")
    _ABORTS_PENDING.add(retry)
    retry.add_done_callback(_ABORTS_PENDING.discard)
    return True


# Delays between background tries of an abort (about a minute in all); after them, or if the
# process stops first, the hold's TTL is the safety net.
ABORT_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
_ABORTS_PENDING: set[asyncio.Task[None]] = set()


async def _record(store: CompletionStore, event: TaskCompletionAborted) -> bool | None:
    """Try once: True, the abort is recorded; False, the attempt's completion committed (no
    abort may follow it); None, the database did not answer."""
    try:
        recorded = await store.record_abort(event)
    except Exception as exc:  # the caller's error matters more; we try again later
        log.warning("completion_aborted_not_recorded", task_id=str(event.task_id), error=repr(exc))
        return None
    if not recorded:
        log.info("completion_committed_despite_error", task_id=str(event.task_id))
    return recorded


async def _record_later(store: CompletionStore, event: TaskCompletionAborted) -> None:
    for delay in ABORT_RETRY_DELAYS:
        await asyncio.sleep(delay)
        if await _record(store, event) is not None:
            log.info("completion_attempt_settled_late", task_id=str(event.task_id))
            return


def _why(verdict: Verdict) -> str:
    if verdict.vetoed_by:
        return "vetoed by " + ", ".join(verdict.vetoed_by)
    if verdict.unavailable:
        return "hook unavailable: " + ", ".join(verdict.unavailable)
    return "overloaded: no capacity to call " + ", ".join(verdict.shed)
