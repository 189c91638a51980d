"""Budget's side of the hook pact's provider states, set up through its own use cases."""

import asyncio
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import delete

from budget.adapters import tables
from budget.adapters.db import make_engine
from budget.adapters.repository import SqlRepositories
from budget.bootstrap import utc_now
from budget.service_layer import costs, ledger
from contracts.identity import ADMIN_ROLE, Caller
from contracts.ids import OwnerId

TOKEN_PREFIX = "pact-"


def run(database_url: str, step: Any, *args: Any) -> None:
    """Run one async state step on its own engine (state callbacks arrive on Pact's thread)."""

    async def main() -> None:
        engine = make_engine(database_url, pool_size=1)
        try:
            await step(SqlRepositories(engine), engine, *args)
        finally:
            await engine.dispose()

    asyncio.run(main())


async def forget_owner(repos: SqlRepositories, engine: Any, owner: UUID) -> None:
    """Remove what earlier runs left for the pact's fixed owner, and the pact's token types."""
    async with engine.begin() as conn:
        for table in (tables.holds, tables.task_costs, tables.ledger_entries, tables.accounts):
            await conn.execute(delete(table).where(table.c.owner_id == owner))
        await conn.execute(
            delete(tables.token_types).where(tables.token_types.c.code.startswith(TOKEN_PREFIX))
        )


async def owner_with_cost(
    repos: SqlRepositories, engine: Any, owner: UUID, task: UUID, cost: int, balance: int
) -> None:
    """A token type, `balance` credited to the owner, and a cost of `cost` on the task."""
    await forget_owner(repos, engine, owner)
    admin = Caller(OwnerId(uuid4()), frozenset({ADMIN_ROLE}))
    token_type = await ledger.create_token_type(
        repos, admin, f"{TOKEN_PREFIX}{uuid4().hex[:10]}", "Pact credits"
    )
    if balance > 0:
        request = ledger.CreditRequest(owner, token_type.id, balance, "pact provider state")
        await ledger.credit(repos, utc_now, admin, request)
    await costs.add_cost(repos, Caller(OwnerId(owner), frozenset()), task, token_type.id, cost)
