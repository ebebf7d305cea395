"""Mentor profiles with their topics (in the mentor's order) and weekly availability windows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import time
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, insert, select, update

from bot.domain import MentorProfile, Window
from storage import schema as t
from storage.repository import SqlRepository

log = logging.getLogger(__name__)


class SqlProfiles(SqlRepository):
    async def get(self, community_id: int, member_id: int) -> MentorProfile | None:
        profiles = await self._load(
            and_(
                t.mentor_profiles.c.community_id == community_id,
                t.mentor_profiles.c.member_id == member_id,
            )
        )
        return profiles[0] if profiles else None

    async def all(self, community_id: int) -> list[MentorProfile]:
        return await self._load(t.mentor_profiles.c.community_id == community_id)

    async def with_topics(self, community_id: int, topics: Sequence[str]) -> list[MentorProfile]:
        if not topics:
            return []
        listing = select(t.mentor_topics.c.member_id).where(
            t.mentor_topics.c.community_id == community_id,
            t.mentor_topics.c.topic.in_(list(topics)),
        )
        return await self._load(and_(t.mentor_profiles.c.community_id == community_id,
                                     t.mentor_profiles.c.member_id.in_(listing)))

    async def save(self, profile: MentorProfile) -> None:
        """Insert or replace a mentor profile with its topics and windows."""
        values: dict[str, Any] = {
            "community_id": profile.community_id,
            "bio": profile.bio,
            "session_lengths": ",".join(str(x) for x in profile.session_lengths),
            "availability_timezone": profile.availability_timezone,
            "max_mentees": profile.max_mentees,
            "max_sessions_per_month": profile.max_sessions_per_month,
            "paused_until": profile.paused_until,
            "created_at": profile.created_at,
            "updated_at": profile.updated_at,
        }
        changed = await self.conn.execute(
            update(t.mentor_profiles)
            .where(t.mentor_profiles.c.member_id == profile.member_id)
            .values(**values)
        )
        if changed.rowcount == 0:
            await self.conn.execute(
                insert(t.mentor_profiles).values(member_id=profile.member_id, **values)
            )
        await self._delete_children(profile.member_id)
        if profile.topics:
            await self.conn.execute(
                insert(t.mentor_topics),
                [
                    {
                        "member_id": profile.member_id,
                        "community_id": profile.community_id,
                        "position": i,
                        "topic": topic,
                    }
                    for i, topic in enumerate(profile.topics)
                ],
            )
        if profile.windows:
            await self.conn.execute(
                insert(t.availability_windows),
                [
                    {
                        "member_id": profile.member_id,
                        "community_id": profile.community_id,
                        "weekday": w.weekday,
                        "start_minute": _minutes(w.start),
                        "end_minute": _minutes(w.end),
                    }
                    for w in profile.windows
                ],
            )

    async def delete(self, community_id: int, member_id: int) -> bool:
        exists = (
            await self.conn.execute(
                select(t.mentor_profiles.c.member_id).where(
                    t.mentor_profiles.c.community_id == community_id,
                    t.mentor_profiles.c.member_id == member_id,
                )
            )
        ).first()
        if exists is None:
            return False
        await self._delete_children(member_id)
        await self.conn.execute(
            delete(t.mentor_profiles).where(t.mentor_profiles.c.member_id == member_id)
        )
        return True

    async def topics(self, community_id: int) -> list[str]:
        """Every topic some mentor of the community lists, once each, alphabetically."""
        rows = await self.conn.execute(
            select(t.mentor_topics.c.topic)
            .where(t.mentor_topics.c.community_id == community_id)
            .distinct()
            .order_by(t.mentor_topics.c.topic)
        )
        return [r[0] for r in rows]

    async def _load(self, where: ColumnElement[bool]) -> list[MentorProfile]:
        rows = (await self.conn.execute(select(t.mentor_profiles).where(where))).all()
        if not rows:
            return []
        ids = [r.member_id for r in rows]
        # The same condition as a subquery rather than the ids as parameters: a community's
        # thousand mentors would be a thousand bound values, twice.
        chosen = select(t.mentor_profiles.c.member_id).where(where)
        topics: dict[int, list[str]] = {i: [] for i in ids}
        for r in await self.conn.execute(
            select(t.mentor_topics.c.member_id, t.mentor_topics.c.topic)
            .where(t.mentor_topics.c.member_id.in_(chosen))
            .order_by(t.mentor_topics.c.member_id, t.mentor_topics.c.position)
        ):
            topics[r.member_id].append(r.topic)
        windows: dict[int, list[Window]] = {i: [] for i in ids}
        for r in await self.conn.execute(
            select(t.availability_windows).where(t.availability_windows.c.member_id.in_(chosen))
        ):
            windows[r.member_id].append(
                Window(r.weekday, _time(r.start_minute), _time(r.end_minute))
            )
        return [
            MentorProfile(
                member_id=r.member_id,
                community_id=r.community_id,
                bio=r.bio,
                topics=tuple(topics[r.member_id]),
                session_lengths=tuple(int(x) for x in r.session_lengths.split(",") if x),
                windows=tuple(sorted(windows[r.member_id])),
                availability_timezone=r.availability_timezone,
                max_mentees=r.max_mentees,
                max_sessions_per_month=r.max_sessions_per_month,
                paused_until=r.paused_until,
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
            for r in rows
        ]

    async def _delete_children(self, member_id: int) -> None:
        await self.conn.execute(
            delete(t.mentor_topics).where(t.mentor_topics.c.member_id == member_id)
        )
        await self.conn.execute(
            delete(t.availability_windows).where(t.availability_windows.c.member_id == member_id)
        )


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def _time(minutes: int) -> time:
    """Minutes after midnight as a time; 24:00 (a window to the end of the day) is 23:59."""
    return time(minutes // 60, minutes % 60) if minutes < 24 * 60 else time(23, 59)
