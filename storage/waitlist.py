"""The waitlist: members who asked to be told when a mentor for a topic becomes free."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row

from bot.domain import WaitlistEntry
from storage import schema as t
from storage.repository import SqlRepository

log = logging.getLogger(__name__)


class SqlWaitlist(SqlRepository):
    async def add(
        self, community_id: int, member_id: int, topic: str, now: datetime, *,
        intro_id: int | None = None,
    ) -> WaitlistEntry:
        result = await self.conn.execute(
            insert(t.waitlist)
            .values(community_id=community_id, member_id=member_id, topic=topic, created_at=now,
                    intro_id=intro_id)
            .returning(t.waitlist)
        )
        return _entry(result.one())

    async def open(self, community_id: int, member_id: int | None = None) -> list[WaitlistEntry]:
        """Entries not yet told, oldest first (first come, first told)."""
        query = select(t.waitlist).where(
            t.waitlist.c.community_id == community_id, t.waitlist.c.notified_at.is_(None)
        )
        if member_id is not None:
            query = query.where(t.waitlist.c.member_id == member_id)
        return [_entry(r) for r in await self.conn.execute(query.order_by(t.waitlist.c.id))]

    async def close(self, entry_id: int, now: datetime, reason: str = "told") -> bool:
        """Compare-and-set: close the entry (told, found someone, stopped waiting), only if
        it was still open."""
        result = await self.conn.execute(
            update(t.waitlist)
            .where(t.waitlist.c.id == entry_id, t.waitlist.c.notified_at.is_(None))
            .values(notified_at=now, closed_reason=reason)
        )
        return bool(result.rowcount)


def _entry(r: Row[Any]) -> WaitlistEntry:
    return WaitlistEntry(r.id, r.community_id, r.member_id, r.topic, r.created_at, r.notified_at,
                         r.intro_id, r.closed_reason)
