"""Members of a community: who they are on the platform, their zone and follow-up choices."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.engine import Row

from bot.domain import Member
from storage import schema as t
from storage.repository import SqlRepository

log = logging.getLogger(__name__)

#: The columns ``update`` may change (anything else is a bug in the caller).
UPDATABLE = frozenset(
    {
        "display_name",
        "timezone",
        "timezone_source",
        "quiet_hours",
        "followups_paused_until",
        "followups_off",
        "timezone_asked_at",
    }
)


class SqlMembers(SqlRepository):
    async def by_platform_id(self, community_id: int, platform_user_id: str) -> Member | None:
        row = (
            await self.conn.execute(
                select(t.members).where(
                    t.members.c.community_id == community_id,
                    t.members.c.platform_user_id == platform_user_id,
                )
            )
        ).first()
        return _member(row) if row else None

    async def get(self, community_id: int, member_id: int) -> Member | None:
        row = (
            await self.conn.execute(
                select(t.members).where(
                    t.members.c.community_id == community_id, t.members.c.id == member_id
                )
            )
        ).first()
        return _member(row) if row else None

    async def by_ids(self, community_id: int, ids: Iterable[int]) -> dict[int, Member]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = await self.conn.execute(
            select(t.members).where(
                t.members.c.community_id == community_id, t.members.c.id.in_(wanted)
            )
        )
        return {r.id: _member(r) for r in rows}

    async def named(self, community_id: int, name: str) -> list[Member]:
        """Members whose display name equals ``name``, ignoring case."""
        rows = await self.conn.execute(
            select(t.members)
            .where(
                t.members.c.community_id == community_id,
                func.lower(t.members.c.display_name) == name.lower(),
            )
            .order_by(t.members.c.id)
        )
        return [_member(r) for r in rows]

    async def search(self, community_id: int, prefix: str, limit: int) -> list[Member]:
        """Members whose display name starts with (or contains) ``prefix`` (autocomplete).

        Names that start with it come first, then those that contain it, each by name. Case is
        ignored as in :meth:`named` (on SQLite, ``lower()`` folds ASCII letters only).
        """
        name = func.lower(t.members.c.display_name)
        typed = prefix.lower()
        starts = name.startswith(typed, autoescape=True)
        contains = name.contains(typed, autoescape=True)
        rows = await self.conn.execute(
            select(t.members)
            .where(t.members.c.community_id == community_id, contains)
            .order_by(case((starts, 0), else_=1), name, t.members.c.display_name, t.members.c.id)
            .limit(limit)
        )
        return [_member(r) for r in rows]

    async def add(
        self,
        community_id: int,
        platform_user_id: str,
        display_name: str,
        timezone: str | None,
        now: datetime,
        *,
        timezone_source: str | None = None,
    ) -> Member:
        result = await self.conn.execute(
            insert(t.members)
            .values(
                community_id=community_id,
                platform_user_id=platform_user_id,
                display_name=display_name,
                timezone=timezone,
                timezone_source=timezone_source,
                followups_off=False,
                created_at=now,
            )
            .returning(t.members)
        )
        return _member(result.one())

    async def update(self, member_id: int, **values: Any) -> None:
        """Change columns of a member: display_name, timezone, timezone_source, quiet_hours,
        followups_paused_until, followups_off, timezone_asked_at."""
        unknown = set(values) - UPDATABLE
        if unknown:
            raise ValueError(f"not member columns: {sorted(unknown)}")
        if not values:
            return
        await self.conn.execute(
            update(t.members).where(t.members.c.id == member_id).values(**values)
        )

    async def lock(self, community_id: int, member_ids: Iterable[int]) -> None:
        """Hold these members' rows until the transaction ends (PostgreSQL; SQLite's writers
        already hold the database's write lock from BEGIN), so two bookings for the same
        people are checked one after the other and can't both take the same time or the last
        session of the month. Rows are locked in id order, so two lockers never deadlock."""
        if not self.on_postgresql:
            return
        await self.conn.execute(
            select(t.members.c.id)
            .where(
                t.members.c.community_id == community_id,
                t.members.c.id.in_(sorted(set(member_ids))),
            )
            .order_by(t.members.c.id)
            .with_for_update()
        )


def _member(r: Row[Any]) -> Member:
    return Member(
        id=r.id,
        community_id=r.community_id,
        platform_user_id=r.platform_user_id,
        display_name=r.display_name,
        timezone=r.timezone,
        quiet_hours=r.quiet_hours,
        followups_paused_until=r.followups_paused_until,
        followups_off=bool(r.followups_off),
        timezone_asked_at=r.timezone_asked_at,
        timezone_source=r.timezone_source,
    )
