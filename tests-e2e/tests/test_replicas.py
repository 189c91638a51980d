"""The same story with two replicas of every process behind the gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from e2e.api import Caller
from e2e.identity import TokenMaker
from e2e.stack import RunningStack
from e2e.stories import veto_credit_complete_debit
from tests.conftest import stack_config, start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    config = stack_config("e2e_replicas", 18200, replicas=2)
    yield from start_stack(config, tmp_path_factory.mktemp("replicas"))


@pytest.fixture
async def callers(replicated: RunningStack) -> AsyncIterator[tuple[Caller, ...]]:
    tokens = TokenMaker(replicated.dev_dir)
    made = (
        Caller(replicated.config.gateway_url, tokens, admin=True),
        Caller(replicated.config.gateway_url, tokens),
        Caller(replicated.config.gateway_url, tokens),
    )
    yield made
    for c in made:
        await c.aclose()


async def test_the_story_with_two_replicas_of_everything(callers: tuple[Caller, ...]) -> None:
    admin, owner, _ = callers
    await veto_credit_complete_debit(admin, owner)


async def test_concurrent_completions_across_replicas_stay_within_budget(
    callers: tuple[Caller, ...],
) -> None:
    admin, _, owner = callers
    token_type = await admin.create_token_type()
    await admin.credit(owner.id, token_type, 3)
    tasks = [await owner.create_task(f"replicated {i}") for i in range(8)]
    for task in tasks:
        await owner.set_cost(task, token_type, 1)

    answers = await asyncio.gather(*(owner.complete(t) for t in tasks))

    assert sorted(a.status_code for a in answers) == [200] * 3 + [409] * 5
    for task, answer in zip(tasks, answers, strict=True):
        if answer.status_code == 200:
            assert len(await owner.wait_for_debits(task)) == 1
    balance = await owner.balance(token_type)
    assert (balance["balance"], balance["held"]) == (0, 0)
