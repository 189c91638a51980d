"""Readiness waits for the migrations: the API serves only a database at its schema or newer.

A pod of the new release stays out of rotation until the migration Job has run; a pod of the
old release stays in while the new migration lands (a revision it does not know is newer).
Once reached, the answer is cached: the schema never goes back under a running release.
"""

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# This code's migrations in order, the head last (a unit test holds it equal to alembic/).
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008")
HEAD = REVISIONS[-1]


class SchemaGate:
    def __init__(self, revisions: tuple[str, ...] = REVISIONS, timeout: float = 2.0) -> None:
        self._older = frozenset(revisions[:-1])
        self._timeout = timeout
        self._reached = False

    async def reached(self, engine: AsyncEngine) -> bool:
        """True once the database is at this code's head or a revision newer than it."""
        if self._reached:
            return True
        try:
            async with asyncio.timeout(self._timeout), engine.connect() as conn:
                found = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        except Exception:  # no table yet, or no database: not migrated as far as we know
            return False
        current = {row[0] for row in found}
        self._reached = bool(current) and not current & self._older
        return self._reached
