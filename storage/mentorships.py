"""Mentorships, their goals, and their record of progress (check-ins, notes, feedback)."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import distinct, func, insert, or_, select, update
from sqlalchemy.engine import Row

from bot.domain import Goal, GoalState, Mentorship, MentorshipState, ProgressEntry
from storage import schema as t
from storage.repository import SqlRepository, counts

log = logging.getLogger(__name__)

#: Columns a mentorship's details may be changed in (the rest is set when it starts).
CHANGEABLE = frozenset({
    "state", "ended_at", "end_reason", "paused_until", "rhythm", "rhythm_paused",
    "session_minutes", "meeting", "feedback_style", "stalled_at",
})


class SqlMentorships(SqlRepository):
    async def add(
        self, *, community_id: int, intro_id: int, mentor_id: int, mentee_id: int, topic: str,
        now: datetime,
    ) -> Mentorship:
        result = await self.conn.execute(
            insert(t.mentorships).values(
                community_id=community_id, intro_id=intro_id, mentor_id=mentor_id,
                mentee_id=mentee_id, topic=topic, state=MentorshipState.ACTIVE.value,
                started_at=now, updated_at=now, rhythm_paused=False,
            ).returning(t.mentorships)
        )
        return _mentorship(result.one())

    async def get(self, community_id: int, mentorship_id: int) -> Mentorship | None:
        row = (await self.conn.execute(select(t.mentorships).where(
            t.mentorships.c.community_id == community_id, t.mentorships.c.id == mentorship_id,
        ))).first()
        return _mentorship(row) if row else None

    async def by_intro(self, community_id: int, intro_id: int) -> Mentorship | None:
        row = (await self.conn.execute(select(t.mentorships).where(
            t.mentorships.c.community_id == community_id, t.mentorships.c.intro_id == intro_id,
        ))).first()
        return _mentorship(row) if row else None

    async def of(
        self, community_id: int, *, member_id: int | None = None,
        states: Sequence[MentorshipState] | None = None,
    ) -> builtins.list[Mentorship]:
        """Mentorships of the community (or of one member, on either side), newest first."""
        query = select(t.mentorships).where(t.mentorships.c.community_id == community_id)
        if member_id is not None:
            query = query.where(or_(t.mentorships.c.mentor_id == member_id,
                                    t.mentorships.c.mentee_id == member_id))
        if states is not None:
            query = query.where(t.mentorships.c.state.in_([s.value for s in states]))
        rows = await self.conn.execute(query.order_by(t.mentorships.c.id.desc()))
        return [_mentorship(r) for r in rows]

    async def update(self, mentorship_id: int, now: datetime, **values: Any) -> Mentorship:
        unknown = set(values) - CHANGEABLE
        if unknown:
            raise ValueError(f"not changeable mentorship columns: {sorted(unknown)}")
        if isinstance(values.get("state"), MentorshipState):
            values["state"] = values["state"].value
        result = await self.conn.execute(
            update(t.mentorships).where(t.mentorships.c.id == mentorship_id)
            .values(updated_at=now, **values).returning(t.mentorships)
        )
        return _mentorship(result.one())

    async def counts_by_mentor(
        self, community_id: int, states: Sequence[MentorshipState]
    ) -> dict[int, int]:
        return counts(await self.conn.execute(
            select(t.mentorships.c.mentor_id, func.count())
            .where(t.mentorships.c.community_id == community_id,
                   t.mentorships.c.state.in_([s.value for s in states]))
            .group_by(t.mentorships.c.mentor_id)
        ))

    async def state_counts(self, community_id: int) -> dict[str, int]:
        return counts(await self.conn.execute(
            select(t.mentorships.c.state, func.count())
            .where(t.mentorships.c.community_id == community_id)
            .group_by(t.mentorships.c.state)
        ))

    async def stats(self, community_id: int, since: datetime) -> dict[str, int]:
        """Counts for organizers: mentorships with goals, goals done since ``since``, stalled
        ones (open, flagged). Never any text."""
        with_goals = (await self.conn.execute(
            select(func.count(distinct(t.goals.c.mentorship_id)))
            .where(t.goals.c.community_id == community_id)
        )).scalar_one()
        done = (await self.conn.execute(
            select(func.count()).select_from(t.goals).where(
                t.goals.c.community_id == community_id,
                t.goals.c.state == GoalState.DONE.value, t.goals.c.done_at >= since)
        )).scalar_one()
        stalled = (await self.conn.execute(
            select(func.count()).select_from(t.mentorships).where(
                t.mentorships.c.community_id == community_id,
                t.mentorships.c.state != MentorshipState.ENDED.value,
                t.mentorships.c.stalled_at.is_not(None))
        )).scalar_one()
        return {"with_goals": int(with_goals), "goals_done": int(done), "stalled": int(stalled)}

    # -- goals -----------------------------------------------------------------------------------

    async def add_goal(self, mentorship: Mentorship, text: str, now: datetime) -> Goal:
        result = await self.conn.execute(
            insert(t.goals).values(
                mentorship_id=mentorship.id, community_id=mentorship.community_id, text=text,
                state=GoalState.ACTIVE.value, created_at=now, updated_at=now,
            ).returning(t.goals)
        )
        return _goal(result.one())

    async def goals(self, mentorship_id: int) -> builtins.list[Goal]:
        rows = await self.conn.execute(
            select(t.goals).where(t.goals.c.mentorship_id == mentorship_id)
            .order_by(t.goals.c.id)
        )
        return [_goal(r) for r in rows]

    async def goal(self, community_id: int, goal_id: int) -> Goal | None:
        row = (await self.conn.execute(select(t.goals).where(
            t.goals.c.community_id == community_id, t.goals.c.id == goal_id))).first()
        return _goal(row) if row else None

    async def update_goal(
        self, goal_id: int, now: datetime, *, state: GoalState | None = None,
        text: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"updated_at": now}
        if state is not None:
            values["state"] = state.value
            values["done_at"] = now if state is GoalState.DONE else None
        if text is not None:
            values["text"] = text
        await self.conn.execute(update(t.goals).where(t.goals.c.id == goal_id).values(**values))

    # -- the record ------------------------------------------------------------------------------

    async def add_entry(
        self, mentorship: Mentorship, author_id: int, kind: str, text: str, now: datetime, *,
        goal_id: int | None = None, status: str | None = None, session_id: int | None = None,
        answers_id: int | None = None,
    ) -> ProgressEntry:
        result = await self.conn.execute(
            insert(t.progress_entries).values(
                mentorship_id=mentorship.id, community_id=mentorship.community_id,
                author_id=author_id, kind=kind, text=text, goal_id=goal_id, status=status,
                session_id=session_id, answers_id=answers_id, created_at=now,
            ).returning(t.progress_entries)
        )
        return _entry(result.one())

    async def entries(
        self, mentorship_id: int, *, kinds: Sequence[str] | None = None
    ) -> builtins.list[ProgressEntry]:
        """The record, in time order."""
        query = select(t.progress_entries).where(
            t.progress_entries.c.mentorship_id == mentorship_id)
        if kinds is not None:
            query = query.where(t.progress_entries.c.kind.in_(builtins.list(kinds)))
        rows = await self.conn.execute(
            query.order_by(t.progress_entries.c.created_at, t.progress_entries.c.id))
        return [_entry(r) for r in rows]

    async def entry(self, community_id: int, entry_id: int) -> ProgressEntry | None:
        row = (await self.conn.execute(select(t.progress_entries).where(
            t.progress_entries.c.community_id == community_id,
            t.progress_entries.c.id == entry_id))).first()
        return _entry(row) if row else None


def _mentorship(r: Row[Any]) -> Mentorship:
    return Mentorship(
        id=r.id, community_id=r.community_id, intro_id=r.intro_id, mentor_id=r.mentor_id,
        mentee_id=r.mentee_id, topic=r.topic, state=MentorshipState(r.state),
        started_at=r.started_at, updated_at=r.updated_at, ended_at=r.ended_at,
        end_reason=r.end_reason, paused_until=r.paused_until, rhythm=r.rhythm,
        rhythm_paused=bool(r.rhythm_paused), session_minutes=r.session_minutes,
        meeting=r.meeting, feedback_style=r.feedback_style, stalled_at=r.stalled_at,
    )


def _goal(r: Row[Any]) -> Goal:
    return Goal(r.id, r.mentorship_id, r.community_id, r.text, GoalState(r.state),
                r.created_at, r.updated_at, r.done_at)


def _entry(r: Row[Any]) -> ProgressEntry:
    return ProgressEntry(r.id, r.mentorship_id, r.community_id, r.author_id, r.kind, r.text,
                         r.created_at, r.goal_id, r.status, r.session_id, r.answers_id)
