"""The hook deliveries budget has answered, in its database: a replayed one is refused.

In PostgreSQL, not in memory: every API replica sees what the others saw (a replay sent to
another replica is refused too). A delivery is kept while its signature could still verify,
then purged.
"""

from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from budget.adapters.db import DriverPool

_CLAIM = (
    "INSERT INTO hook_deliveries (delivery_id, expires_at) VALUES ($1, $2)"
    " ON CONFLICT (delivery_id) DO NOTHING RETURNING true"
)
_PURGE = "DELETE FROM hook_deliveries WHERE expires_at < :now"


class HookDeliveries:
    def __init__(self, engine: AsyncEngine, hot: DriverPool | None = None) -> None:
        self._engine = engine
        self._hot = hot

    async def claim(self, delivery_id: UUID, expires_at: datetime) -> bool:
        """Record the delivery; False when it was recorded before (a replay)."""
        if self._hot is not None:  # the hook's own asyncpg pool: one round trip, no ORM
            async with self._hot.acquire() as conn:
                return bool(await conn.fetchval(_CLAIM, delivery_id, expires_at))
        statement = text(_CLAIM.replace("$1", ":id").replace("$2", ":expires"))
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(statement, {"id": delivery_id, "expires": expires_at})
            ).first()
        return row is not None

    async def purge(self, now: datetime) -> int:
        """Forget the deliveries whose signatures can no longer verify; how many."""
        async with self._engine.begin() as conn:
            result = await conn.execute(text(_PURGE), {"now": now})
        return int(getattr(result, "rowcount", 0) or 0)
