"""Use cases against in-memory fakes of the unit of work and the hook gate."""

import asyncio
from uuid import uuid4

import pytest

from contracts.events import TaskCompleted, TaskCompletionAborted, TaskCreated, TaskDeleted
from contracts.ids import OwnerId, TaskId
from tests.unit.fakes import FakeClock, FakeHookGate, FakeUnitOfWork
from todos.domain.hook_verdict import AnswerKind, HookAnswer
from todos.domain.model import Task, TaskAlreadyCompletedError, TaskStatus
from todos.service_layer import tasks
from todos.service_layer.errors import (
    CompletionVetoedError,
    HookUnavailableError,
    TaskNotFoundError,
)
from todos.service_layer.pagination import InvalidCursorError

ALLOW = HookAnswer("budget", AnswerKind.ALLOW)
VETO = HookAnswer("budget", AnswerKind.VETO, reason="Insufficient budget")
FAILED = HookAnswer("audit", AnswerKind.FAILED)
FAILED_IGNORED = HookAnswer("audit", AnswerKind.FAILED, policy="ignore")


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


OWNER = OwnerId(uuid4())


async def _new(uow: FakeUnitOfWork, clock: FakeClock, title: str = "t") -> Task:
    task = await tasks.create_task(uow, clock, OWNER, title, None)
    uow.outbox.clear()
    return task


async def test_create_commits_the_task_with_its_event(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    task = await tasks.create_task(uow, clock, OWNER, "Buy milk", "2 l")
    assert uow.repo.rows[task.id].title == "Buy milk"
    assert [type(e) for e in uow.outbox] == [TaskCreated]


async def test_another_owner_gets_not_found(uow: FakeUnitOfWork, clock: FakeClock) -> None:
    task = await _new(uow, clock)
    stranger = OwnerId(uuid4())
    with pytest.raises(TaskNotFoundError):
        await tasks.get_task(uow, stranger, task.id)
    with pytest.raises(TaskNotFoundError):
        await tasks.delete_task(uow, clock, stranger, task.id)
    with pytest.raises(TaskNotFoundError):
        await tasks.complete_task(uow, clock, FakeHookGate(), stranger, task.id)
    assert uow.repo.rows[task.id].status is TaskStatus.OPEN
    assert uow.outbox == []


async def test_complete_without_hooks(uow: FakeUnitOfWork, clock: FakeClock) -> None:
    task = await _new(uow, clock)
    done = await tasks.complete_task(uow, clock, FakeHookGate(), OWNER, task.id)
    assert done.status is TaskStatus.COMPLETED
    assert [type(e) for e in uow.outbox] == [TaskCompleted]


async def test_complete_an_already_completed_task_asks_nobody(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    task = await _new(uow, clock)
    first = await tasks.complete_task(uow, clock, FakeHookGate(ALLOW), OWNER, task.id)
    uow.outbox.clear()
    hooks = FakeHookGate(ALLOW)
    again = await tasks.complete_task(uow, clock, hooks, OWNER, task.id)
    assert again.completed_at == first.completed_at
    assert hooks.calls == []
    assert uow.outbox == []


async def test_a_lone_veto_leaves_the_task_open_and_publishes_nothing(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    task = await _new(uow, clock)
    with pytest.raises(CompletionVetoedError) as caught:
        await tasks.complete_task(uow, clock, FakeHookGate(VETO), OWNER, task.id)
    assert caught.value.vetoed_by == ["budget"]
    assert caught.value.reasons == ["Insufficient budget"]
    assert uow.repo.rows[task.id].status is TaskStatus.OPEN
    assert uow.outbox == []


async def test_a_veto_after_another_hook_allowed_records_completion_aborted(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    task = await _new(uow, clock)
    other_veto = HookAnswer("policy", AnswerKind.VETO, reason="frozen")
    with pytest.raises(CompletionVetoedError) as caught:
        await tasks.complete_task(uow, clock, FakeHookGate(ALLOW, other_veto), OWNER, task.id)
    assert caught.value.vetoed_by == ["policy"]
    [event] = uow.outbox
    assert isinstance(event, TaskCompletionAborted)
    assert event.task_id == task.id
    assert uow.repo.rows[task.id].status is TaskStatus.OPEN


async def test_a_failed_hook_under_fail_is_unavailable(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    task = await _new(uow, clock)
    with pytest.raises(HookUnavailableError) as caught:
        await tasks.complete_task(uow, clock, FakeHookGate(ALLOW, FAILED), OWNER, task.id)
    assert caught.value.hooks == ["audit"]
    assert [type(e) for e in uow.outbox] == [TaskCompletionAborted]
    assert uow.repo.rows[task.id].status is TaskStatus.OPEN


async def test_a_failed_hook_under_ignore_counts_as_allow(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    task = await _new(uow, clock)
    done = await tasks.complete_task(
        uow, clock, FakeHookGate(ALLOW, FAILED_IGNORED), OWNER, task.id
    )
    assert done.status is TaskStatus.COMPLETED
    assert [type(e) for e in uow.outbox] == [TaskCompleted]


async def test_losing_a_concurrent_completion_returns_the_winner_without_an_event(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    task = await _new(uow, clock)
    uow.repo.lose_next_completion = True
    done = await tasks.complete_task(uow, clock, FakeHookGate(ALLOW), OWNER, task.id)
    assert done.status is TaskStatus.COMPLETED
    assert uow.outbox == []


async def test_a_failed_commit_after_allow_records_completion_aborted(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    task = await _new(uow, clock)
    uow.fail_commit = True
    with pytest.raises(ConnectionError):
        await tasks.complete_task(uow, clock, FakeHookGate(ALLOW), OWNER, task.id)
    assert [type(e) for e in uow.outbox] == [TaskCompletionAborted]
    assert uow.repo.rows[task.id].status is TaskStatus.OPEN


async def test_an_abort_that_cannot_be_stored_yet_is_stored_once_the_database_is_back(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    task = await _new(uow, clock)
    uow.failing_commits = 3  # the completion, the abort, and its first background try
    with pytest.raises(ConnectionError):
        await tasks.complete_task(uow, clock, FakeHookGate(ALLOW), OWNER, task.id)
    assert uow.outbox == []
    await asyncio.sleep(sum(tasks.ABORT_RETRY_DELAYS[:2]) + 0.5)  # the second try works
    assert [type(e) for e in uow.outbox] == [TaskCompletionAborted]


async def test_edit_refuses_a_completed_task(uow: FakeUnitOfWork, clock: FakeClock) -> None:
    task = await _new(uow, clock)
    await tasks.complete_task(uow, clock, FakeHookGate(), OWNER, task.id)
    with pytest.raises(TaskAlreadyCompletedError):
        await tasks.edit_task(uow, clock, OWNER, task.id, title="x", description=None)


async def test_delete_records_deleted(uow: FakeUnitOfWork, clock: FakeClock) -> None:
    task = await _new(uow, clock)
    await tasks.delete_task(uow, clock, OWNER, task.id)
    assert task.id not in uow.repo.rows
    assert [type(e) for e in uow.outbox] == [TaskDeleted]


async def test_pages_walk_newest_first_without_gaps(uow: FakeUnitOfWork, clock: FakeClock) -> None:
    made = [await _new(uow, clock, f"t{i}") for i in range(5)]
    seen: list[TaskId] = []
    cursor = None
    while True:
        page = await tasks.list_tasks(uow, OWNER, status=None, limit=2, cursor=cursor)
        seen += [t.id for t in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [t.id for t in reversed(made)]


async def test_a_bad_cursor_is_refused(uow: FakeUnitOfWork) -> None:
    with pytest.raises(InvalidCursorError):
        await tasks.list_tasks(uow, OWNER, status=None, limit=2, cursor="garbage!")
