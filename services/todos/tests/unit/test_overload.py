"""Load shedding in the use case: a bounded number in flight, and calls we could not send."""

import asyncio
from uuid import uuid4

import pytest

from contracts.events import TaskCompletionAborted
from contracts.ids import InvocationId, OwnerId, TaskId
from tests.unit.fakes import FakeClock, FakeHookGate, FakeUnitOfWork
from todos.domain.hook_verdict import AnswerKind, HookAnswer, judge
from todos.domain.model import TaskStatus
from todos.service_layer import tasks
from todos.service_layer.capacity import Capacity
from todos.service_layer.errors import OverloadedError

OWNER = OwnerId(uuid4())
ALLOW = HookAnswer("budget", AnswerKind.ALLOW)
SHED = HookAnswer("budget", AnswerKind.SHED)


class HeldHookGate(FakeHookGate):
    """Allows, but only once `release` is set."""

    def __init__(self) -> None:
        super().__init__(ALLOW)
        self.release = asyncio.Event()
        self.asked = asyncio.Event()

    async def before_complete(
        self, task_id: TaskId, owner_id: OwnerId, *, invocation_id: InvocationId
    ) -> list[HookAnswer]:
        answers = await super().before_complete(task_id, owner_id, invocation_id=invocation_id)
        self.asked.set()
        await self.release.wait()
        return answers


def test_capacity_refuses_past_its_limit_and_gives_slots_back() -> None:
    capacity = Capacity(1)
    with capacity.slot():
        with pytest.raises(OverloadedError), capacity.slot():
            pass
        assert capacity.in_use == 1
    assert capacity.in_use == 0
    with capacity.slot():
        assert capacity.in_use == 1


def test_a_shed_call_blocks_under_fail_holds_nothing_and_is_allow_under_ignore() -> None:
    verdict = judge([SHED])
    assert not verdict.allowed
    assert verdict.shed == ("budget",)
    assert not verdict.unavailable
    assert not verdict.may_hold  # it never reached the hook
    assert judge([HookAnswer("audit", AnswerKind.SHED, policy="ignore")]).allowed
    assert judge([ALLOW, SHED]).may_hold  # the allowing hook may hold


async def test_past_capacity_the_completion_is_refused_before_any_work() -> None:
    uow, clock, capacity = FakeUnitOfWork(), FakeClock(), Capacity(1)
    first = await tasks.create_task(uow, clock, OWNER, "first", None)
    second = await tasks.create_task(uow, clock, OWNER, "second", None)
    hooks = HeldHookGate()
    running = asyncio.create_task(
        tasks.complete_task(uow, clock, hooks, OWNER, first.id, capacity=capacity)
    )
    await hooks.asked.wait()
    with pytest.raises(OverloadedError):
        await tasks.complete_task(uow, clock, hooks, OWNER, second.id, capacity=capacity)
    assert len(hooks.calls) == 1  # the refused one asked nobody
    hooks.release.set()
    assert (await running).status is TaskStatus.COMPLETED
    done = await tasks.complete_task(uow, clock, hooks, OWNER, second.id, capacity=capacity)
    assert done.status is TaskStatus.COMPLETED


async def test_hook_calls_shed_locally_are_overloaded_and_abort_only_what_may_hold() -> None:
    uow, clock = FakeUnitOfWork(), FakeClock()
    alone = await tasks.create_task(uow, clock, OWNER, "alone", None)
    with pytest.raises(OverloadedError):
        await tasks.complete_task(uow, clock, FakeHookGate(SHED), OWNER, alone.id)
    assert not [e for e in uow.outbox if isinstance(e, TaskCompletionAborted)]

    shared = await tasks.create_task(uow, clock, OWNER, "shared", None)
    other_allowed = HookAnswer("audit", AnswerKind.ALLOW)
    with pytest.raises(OverloadedError):
        await tasks.complete_task(uow, clock, FakeHookGate(other_allowed, SHED), OWNER, shared.id)
    [abort] = [e for e in uow.outbox if isinstance(e, TaskCompletionAborted)]
    assert abort.task_id == shared.id
    assert abort.reason.startswith("overloaded")
