"""Each completion attempt has one invocation id, shared by its hook calls and its abort."""

from uuid import uuid4

import pytest

from contracts.events import TaskCompletionAborted
from contracts.ids import OwnerId
from tests.unit.fakes import FakeClock, FakeHookGate, FakeUnitOfWork
from todos.domain.hook_verdict import AnswerKind, HookAnswer
from todos.domain.model import TaskStatus
from todos.service_layer import tasks
from todos.service_layer.errors import HookUnavailableError

OWNER = OwnerId(uuid4())
ALLOW = HookAnswer("budget", AnswerKind.ALLOW)
FAILED = HookAnswer("audit", AnswerKind.FAILED)


async def test_the_abort_names_the_attempt_the_hooks_were_asked_about() -> None:
    uow, clock = FakeUnitOfWork(), FakeClock()
    task = await tasks.create_task(uow, clock, OWNER, "t", None)
    hooks = FakeHookGate(ALLOW, FAILED)
    for _ in range(2):  # the user retries after a 503: a new attempt, a new invocation id
        with pytest.raises(HookUnavailableError):
            await tasks.complete_task(uow, clock, hooks, OWNER, task.id)
    aborts = [e for e in uow.outbox if isinstance(e, TaskCompletionAborted)]
    assert [a.invocation_id for a in aborts] == hooks.invocations
    assert len(set(hooks.invocations)) == 2
    assert None not in hooks.invocations


async def test_a_failed_commit_aborts_the_attempt_the_hooks_allowed() -> None:
    uow, clock = FakeUnitOfWork(), FakeClock()
    task = await tasks.create_task(uow, clock, OWNER, "t", None)
    hooks = FakeHookGate(ALLOW)
    uow.fail_commit = True
    with pytest.raises(ConnectionError):
        await tasks.complete_task(uow, clock, hooks, OWNER, task.id)
    [abort] = [e for e in uow.outbox if isinstance(e, TaskCompletionAborted)]
    assert [abort.invocation_id] == hooks.invocations


async def test_an_error_after_the_commit_answers_the_completed_task_and_aborts_nothing() -> None:
    uow, clock = FakeUnitOfWork(), FakeClock()
    owner = OwnerId(uuid4())
    task = await tasks.create_task(lambda: uow, clock, owner, "t", None)
    uow.lose_next_answer = True
    hooks = FakeHookGate(HookAnswer("budget", AnswerKind.ALLOW))
    done = await tasks.complete_task(uow, clock, hooks, owner, task.id)
    assert done.status is TaskStatus.COMPLETED
    assert [type(e).__name__ for e in uow.outbox] == ["TaskCreated", "TaskCompleted"]
