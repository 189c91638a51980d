"""Straight to the broker: redelivered and duplicated events, and poison messages."""

from __future__ import annotations

import uuid

import pytest

from e2e import broker
from e2e.stack import RunningStack
from e2e.stories import veto_credit_complete_debit
from tests.conftest import CallerFactory

pytestmark = pytest.mark.e2e


async def test_a_duplicated_completion_event_still_debits_once(
    stack: RunningStack, caller: CallerFactory
) -> None:
    admin, owner = await caller(admin=True), await caller()
    token_type = await admin.create_token_type()
    await admin.credit(owner.id, token_type, 10)
    task, sentinel = await owner.create_task("dup"), await owner.create_task("sentinel")
    await owner.set_cost(task, token_type, 4)
    await owner.set_cost(sentinel, token_type, 1)
    assert (await owner.complete(task)).status_code == 200
    assert len(await owner.wait_for_debits(task)) == 1

    again = broker.completed_message(task, owner.id)
    await broker.publish(stack.config.exchange, again)  # a new event id for the same task
    await broker.publish(stack.config.exchange, again)  # the same event id, redelivered
    # A later event for another task shows the consumer got past the duplicates.
    await broker.publish(stack.config.exchange, broker.completed_message(sentinel, owner.id))
    assert len(await owner.wait_for_debits(sentinel)) == 1

    assert [d["amount"] for d in await owner.debits_for(task)] == [-4]
    balance = await owner.balance(token_type)
    assert (balance["balance"], balance["held"]) == (5, 0)


async def test_a_poison_message_is_dead_lettered_and_the_flow_goes_on(
    stack: RunningStack, caller: CallerFactory
) -> None:
    poison = f"not an event {uuid.uuid4()}".encode()
    await broker.publish_raw(stack.config.exchange, "todos.task.completed.v1", poison)
    wrong_data = broker.completed_message(str(uuid.uuid4()), uuid.uuid4())
    half = wrong_data.body.replace(b'"task_id":"', b'"task_id":"nope-')
    await broker.publish_raw(stack.config.exchange, wrong_data.routing_key, half)

    assert await broker.wait_for_dead_letter(stack.config.dead_letter_queue, poison)
    assert await broker.wait_for_dead_letter(stack.config.dead_letter_queue, half)
    await veto_credit_complete_debit(await caller(admin=True), await caller())
