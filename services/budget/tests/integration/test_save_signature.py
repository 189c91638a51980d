"""The migrated database's `budget_save_account` takes the parameters `SAVE_PARAMS` names."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from budget.adapters.accounts import SAVE_TYPES

ARGUMENT_TYPES = text(
    "SELECT array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) WITH ORDINALITY AS a(t, i)"
    " ORDER BY i) FROM pg_proc p WHERE p.proname = 'budget_save_account'"
)
CANONICAL = text(
    "SELECT array(SELECT format_type(t::regtype, NULL)"
    " FROM unnest(CAST(:names AS text[])) WITH ORDINALITY AS a(t, i) ORDER BY i)"
)


async def test_the_database_function_takes_the_save_parameters(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        functions = (await conn.execute(ARGUMENT_TYPES)).scalars().all()
        expected = (await conn.execute(CANONICAL, {"names": list(SAVE_TYPES)})).scalar_one()
    assert functions == [expected]
