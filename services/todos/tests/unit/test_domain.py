from datetime import UTC, datetime
from uuid import uuid4

import pytest

from contracts.events import TaskCompleted, TaskCreated, TaskDeleted
from contracts.ids import OwnerId
from todos.domain.hook_verdict import AnswerKind, HookAnswer, judge
from todos.domain.model import InvalidTaskError, Task, TaskAlreadyCompletedError, TaskStatus

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _task() -> Task:
    return Task.create(OwnerId(uuid4()), "  Write report ", None, NOW)


def test_create_trims_the_title_and_records_created() -> None:
    task = _task()
    assert task.title == "Write report"
    assert task.status is TaskStatus.OPEN
    [event] = task.pull_events()
    assert isinstance(event, TaskCreated)
    assert event.task_id == task.id
    assert task.pull_events() == []


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
def test_titles_outside_1_to_200_are_refused(title: str) -> None:
    with pytest.raises(InvalidTaskError):
        Task.create(OwnerId(uuid4()), title, None, NOW)


def test_description_over_2000_is_refused() -> None:
    with pytest.raises(InvalidTaskError):
        Task.create(OwnerId(uuid4()), "t", "d" * 2001, NOW)


def test_complete_once_records_completed() -> None:
    task = _task()
    task.pull_events()
    task.complete(NOW)
    assert task.status is TaskStatus.COMPLETED
    assert task.completed_at == NOW
    [event] = task.pull_events()
    assert isinstance(event, TaskCompleted)
    with pytest.raises(TaskAlreadyCompletedError):
        task.complete(NOW)


def test_a_completed_task_cannot_be_edited() -> None:
    task = _task()
    task.complete(NOW)
    with pytest.raises(TaskAlreadyCompletedError):
        task.edit(title="new", description=None, clear_description=False)


def test_edit_changes_and_clears() -> None:
    task = Task.create(OwnerId(uuid4()), "a", "desc", NOW)
    task.edit(title=" b ", description=None, clear_description=True)
    assert (task.title, task.description) == ("b", None)


def test_delete_records_deleted_even_when_completed() -> None:
    task = _task()
    task.complete(NOW)
    task.pull_events()
    task.delete(NOW)
    [event] = task.pull_events()
    assert isinstance(event, TaskDeleted)


def _answer(kind: AnswerKind, policy: str = "fail", name: str = "h") -> HookAnswer:
    return HookAnswer(name, kind, policy, "no" if kind is AnswerKind.VETO else None)  # type: ignore[arg-type]


def test_judge_no_hooks_allows() -> None:
    verdict = judge([])
    assert verdict.allowed
    assert not verdict.may_hold


def test_judge_any_veto_blocks_and_names_it() -> None:
    verdict = judge([_answer(AnswerKind.ALLOW, name="a"), _answer(AnswerKind.VETO, name="b")])
    assert not verdict.allowed
    assert verdict.vetoed_by == ("b",)
    assert verdict.reasons == ("no",)
    assert verdict.may_hold  # "a" allowed and may hold something


def test_judge_failures_follow_the_policy() -> None:
    assert not judge([_answer(AnswerKind.FAILED, "fail")]).allowed
    assert judge([_answer(AnswerKind.FAILED, "ignore")]).allowed


def test_judge_only_vetoes_hold_nothing() -> None:
    assert not judge([_answer(AnswerKind.VETO)]).may_hold
