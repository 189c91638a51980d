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
    """The claim is on the hook's path: plain asyncpg on the hot pool, one round trip. The purge
    is background work: SQLAlchemy on the engine."""

    def __init__(self, engine: AsyncEngine, hot: DriverPool) -> None:
        self._engine = engine
        self._hot = hot

    async def claim(self, delivery_id: UUID, expires_at: datetime) -> bool:
        """Record the delivery; False when it was recorded before (a replay)."""
        async with self._hot.connection() as conn:
            return bool(await conn.fetchval(_CLAIM, delivery_id, expires_at))

    async def purge(self, now: datetime) -> int:
        """Forget the deliveries whose signatures can no longer verify; how many."""
        async with self._engine.begin() as conn:
            result = await conn.execute(text(_PURGE), {"now": now})
        return int(getattr(result, "rowcount", 0) or 0)
