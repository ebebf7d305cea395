"""What happens after a session: attendance answers, thanks, ratings, follow-up replies.

Only reads and writes rows; the rules (who may answer, answering twice) live in the core's
follow-ups feature.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Row

from bot.domain import Attendance, Feedback
from storage import schema as t
from storage.repository import SqlRepository, counts

log = logging.getLogger(__name__)


class SqlFollowups(SqlRepository):
    async def record_attendance(
        self,
        community_id: int,
        session_id: int,
        member_id: int,
        sequence: int,
        answer: str,
        now: datetime,
    ) -> None:
        """Record the answer. The flow checks for an earlier one first; a racing duplicate
        hits the unique constraint (``StorageConflict``), and the core runs the command again,
        which then sees it."""
        await self.conn.execute(
            insert(t.session_attendance).values(
                community_id=community_id,
                session_id=session_id,
                member_id=member_id,
                sequence=sequence,
                answer=answer,
                created_at=now,
            )
        )

    async def attendance(self, session_id: int, sequence: int | None = None) -> list[Attendance]:
        query = select(t.session_attendance).where(t.session_attendance.c.session_id == session_id)
        if sequence is not None:
            query = query.where(t.session_attendance.c.sequence == sequence)
        rows = await self.conn.execute(query.order_by(t.session_attendance.c.id))
        return [_attendance(r) for r in rows]

    async def add_feedback(
        self,
        community_id: int,
        session_id: int,
        author_id: int,
        kind: str,
        now: datetime,
        *,
        rating: int | None = None,
        text: str | None = None,
        public: bool = False,
    ) -> Feedback:
        result = await self.conn.execute(
            insert(t.session_feedback)
            .values(
                community_id=community_id,
                session_id=session_id,
                author_id=author_id,
                kind=kind,
                rating=rating,
                text=text,
                public=public,
                created_at=now,
            )
            .returning(t.session_feedback)
        )
        return _feedback(result.one())

    async def feedback(
        self,
        session_id: int,
        *,
        author_id: int | None = None,
        kind: str | None = None,
    ) -> list[Feedback]:
        query = select(t.session_feedback).where(t.session_feedback.c.session_id == session_id)
        if author_id is not None:
            query = query.where(t.session_feedback.c.author_id == author_id)
        if kind is not None:
            query = query.where(t.session_feedback.c.kind == kind)
        rows = await self.conn.execute(query.order_by(t.session_feedback.c.id))
        return [_feedback(r) for r in rows]

    async def feedback_by_id(self, community_id: int, feedback_id: int) -> Feedback | None:
        row = (
            await self.conn.execute(
                select(t.session_feedback).where(
                    t.session_feedback.c.community_id == community_id,
                    t.session_feedback.c.id == feedback_id,
                )
            )
        ).first()
        return _feedback(row) if row else None

    async def recent_feedback(
        self, community_id: int, kind: str, since: datetime, limit: int = 20
    ) -> list[Feedback]:
        rows = await self.conn.execute(
            select(t.session_feedback)
            .where(
                t.session_feedback.c.community_id == community_id,
                t.session_feedback.c.kind == kind,
                t.session_feedback.c.created_at >= since,
            )
            .order_by(t.session_feedback.c.id.desc())
            .limit(limit)
        )
        return [_feedback(r) for r in rows]

    async def feedback_counts(self, community_id: int, since: datetime) -> dict[str, int]:
        rows = await self.conn.execute(
            select(t.session_feedback.c.kind, func.count())
            .where(
                t.session_feedback.c.community_id == community_id,
                t.session_feedback.c.created_at >= since,
            )
            .group_by(t.session_feedback.c.kind)
        )
        return counts(rows)

    async def average_rating(self, community_id: int, since: datetime) -> float | None:
        value = (
            await self.conn.execute(
                select(func.avg(t.session_feedback.c.rating)).where(
                    t.session_feedback.c.community_id == community_id,
                    t.session_feedback.c.kind == "rating",
                    t.session_feedback.c.created_at >= since,
                )
            )
        ).scalar()
        return None if value is None else float(value)

    async def recent_attendance(
        self, community_id: int, answer: str, since: datetime, limit: int = 20
    ) -> list[Attendance]:
        rows = await self.conn.execute(
            select(t.session_attendance)
            .where(
                t.session_attendance.c.community_id == community_id,
                t.session_attendance.c.answer == answer,
                t.session_attendance.c.created_at >= since,
            )
            .order_by(t.session_attendance.c.id.desc())
            .limit(limit)
        )
        return [_attendance(r) for r in rows]


def _attendance(r: Row[Any]) -> Attendance:
    return Attendance(r.session_id, r.member_id, r.sequence, r.answer, r.created_at)


def _feedback(r: Row[Any]) -> Feedback:
    return Feedback(
        id=r.id,
        community_id=r.community_id,
        session_id=r.session_id,
        author_id=r.author_id,
        kind=r.kind,
        rating=r.rating,
        text=r.text,
        public=bool(r.public),
        created_at=r.created_at,
    )
