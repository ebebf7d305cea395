"""What an operator asks of the database by hand: its schema version and how many rows it has.

Read-only; the composition root (``bot.bootstrap``) runs these for ``mentorbot db check`` and
``mentorbot db upgrade``.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.errors import StorageUnavailable
from storage import schema as t

log = logging.getLogger(__name__)


async def schema_version(engine: AsyncEngine) -> str:
    """The Alembic revision the database is at ("none" for an empty database)."""
    try:
        async with engine.connect() as conn:
            has_table = await conn.run_sync(
                lambda sync: sync.dialect.has_table(sync, "alembic_version")
            )
            if not has_table:
                return "none"
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            return str(version or "none")
    except (DBAPIError, OSError) as exc:
        raise StorageUnavailable(str(exc).splitlines()[0]) from None


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows per table of the schema, in dependency order."""
    counts: dict[str, int] = {}
    try:
        async with engine.connect() as conn:
            for table in t.metadata.sorted_tables:
                counts[table.name] = int(
                    (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                )
    except (DBAPIError, OSError) as exc:
        raise StorageUnavailable(str(exc).splitlines()[0]) from None
    return counts
