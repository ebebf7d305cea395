"""Platform events already processed (a retried Slack event is handled once), and this
installation's identity."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from storage import schema as t
from storage.repository import SqlRepository

log = logging.getLogger(__name__)


class SqlEvents(SqlRepository):
    async def first_seen(self, platform: str, event_id: str, now: datetime) -> bool:
        """Record the event; False if it was recorded before (by this or another process).

        The primary key decides, so two instances receiving the same retry agree; a savepoint
        keeps the transaction usable when the row is already there.
        """
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    insert(t.seen_events).values(platform=platform, event_id=event_id,
                                                 seen_at=now)
                )
        except IntegrityError:
            return False
        return True

    async def forget_before(self, cutoff: datetime) -> int:
        """Drop records older than ``cutoff`` (platforms retry for minutes, not days)."""
        result = await self.conn.execute(
            delete(t.seen_events).where(t.seen_events.c.seen_at < cutoff)
        )
        return int(result.rowcount)


class SqlInstallation(SqlRepository):
    async def identity(self) -> str:
        """A random identity made once per database (migration 0006)."""
        value = (await self.conn.execute(
            select(t.installation.c.value).where(t.installation.c.key == "id")
        )).scalar()
        return str(value) if value else "mentorbot"
