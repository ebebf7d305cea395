"""Mentoring sessions, their proposed slots and recurring series.

Only reads and writes rows; the rules (which guard applies, who may confirm) live in the core's
sessions feature.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Row

from bot.domain import Session, SessionSeries, SessionState
from storage import schema as t
from storage.repository import SqlRepository, counts

log = logging.getLogger(__name__)

#: Longest session a mentor can offer (profiles allow 15-180 minutes): bounds overlap queries.
MAX_DURATION = timedelta(minutes=180)

#: Sessions that hold a time: count against the monthly cap and block overlapping bookings.
COUNTED_STATES = (
    SessionState.PROPOSED,
    SessionState.CONFIRMED,
    SessionState.HELD,
    SessionState.MISSED,
)


def _next_month(since: datetime) -> datetime:
    """Midnight on the first of the month after ``since``, in ``since``'s own zone."""
    first = since.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1)


#: The columns ``update`` may change.
UPDATABLE = frozenset(
    {
        "state",
        "start_at",
        "agenda",
        "proposed_by",
        "cancel_reason",
        "duration_minutes",
        "series_id",
        "original_start_at",
    }
)


class SqlSessions(SqlRepository):
    async def add(
        self,
        *,
        community_id: int,
        intro_id: int,
        mentor_id: int,
        member_id: int,
        topic: str,
        agenda: str | None,
        start_at: datetime | None,
        duration_minutes: int,
        state: SessionState,
        proposed_by: int,
        now: datetime,
        series_id: int | None = None,
        original_start_at: datetime | None = None,
    ) -> Session:
        result = await self.conn.execute(
            insert(t.sessions)
            .values(
                community_id=community_id,
                intro_id=intro_id,
                mentor_id=mentor_id,
                member_id=member_id,
                topic=topic,
                agenda=agenda,
                start_at=start_at,
                original_start_at=original_start_at,
                duration_minutes=duration_minutes,
                state=state.value,
                proposed_by=proposed_by,
                series_id=series_id,
                sequence=0,
                created_at=now,
                updated_at=now,
            )
            .returning(t.sessions)
        )
        return _session(result.one())

    async def get(self, community_id: int, session_id: int) -> Session | None:
        row = (
            await self.conn.execute(
                select(t.sessions).where(
                    t.sessions.c.community_id == community_id, t.sessions.c.id == session_id
                )
            )
        ).first()
        return _session(row) if row else None

    async def update(
        self, session: Session, now: datetime, *, bump_sequence: bool = False, **values: Any
    ) -> Session | None:
        """Compare-and-set: change the row only if its state and sequence are as ``session``.

        Returns the updated session, or None if someone changed it meanwhile.
        """
        unknown = set(values) - UPDATABLE
        if unknown:
            raise ValueError(f"not session columns: {sorted(unknown)}")
        if isinstance(values.get("state"), SessionState):
            values["state"] = values["state"].value
        values["updated_at"] = now
        if bump_sequence:
            values["sequence"] = session.sequence + 1
        result = await self.conn.execute(
            update(t.sessions)
            .where(
                t.sessions.c.id == session.id,
                t.sessions.c.state == session.state.value,
                t.sessions.c.sequence == session.sequence,
            )
            .values(**values)
            .returning(t.sessions)
        )
        row = result.first()
        return _session(row) if row else None

    async def set_outcome(
        self, session_id: int, expected: SessionState, new: SessionState, now: datetime
    ) -> bool:
        """HELD or MISSED after the session, only if it is still ``expected`` (compare-and-set;
        every other change goes through :meth:`update`)."""
        if new not in (SessionState.HELD, SessionState.MISSED):
            raise ValueError("only HELD or MISSED are set after a session")
        result = await self.conn.execute(
            update(t.sessions)
            .where(t.sessions.c.id == session_id, t.sessions.c.state == expected.value)
            .values(state=new.value, updated_at=now)
        )
        return bool(result.rowcount)

    async def of(
        self,
        community_id: int,
        person_id: int,
        *,
        states: Sequence[SessionState] | None = None,
        limit: int = 100,
    ) -> list[Session]:
        """Sessions where ``person_id`` is the mentor or the member, by start (slots last)."""
        query = select(t.sessions).where(
            t.sessions.c.community_id == community_id,
            or_(t.sessions.c.mentor_id == person_id, t.sessions.c.member_id == person_id),
        )
        if states is not None:
            query = query.where(t.sessions.c.state.in_([s.value for s in states]))
        # NULLS LAST spelled out: SQLite sorts NULL first by default, PostgreSQL last.
        query = query.order_by(t.sessions.c.start_at.asc().nulls_last(), t.sessions.c.id)
        query = query.limit(limit)
        return [_session(r) for r in await self.conn.execute(query)]

    async def busy(
        self,
        community_id: int,
        person_ids: Iterable[int],
        start: datetime,
        end: datetime,
    ) -> list[Session]:
        """Proposed-with-a-time or confirmed sessions of these people overlapping [start, end)."""
        ids = sorted(set(person_ids))
        rows = await self.conn.execute(
            select(t.sessions).where(
                t.sessions.c.community_id == community_id,
                or_(t.sessions.c.mentor_id.in_(ids), t.sessions.c.member_id.in_(ids)),
                t.sessions.c.state.in_(
                    [SessionState.PROPOSED.value, SessionState.CONFIRMED.value]
                ),
                t.sessions.c.start_at.is_not(None),
                t.sessions.c.start_at < end,
                t.sessions.c.start_at > start - MAX_DURATION,
            )
        )
        found = [_session(r) for r in rows]
        return [s for s in found if s.end_at is not None and s.end_at > start]

    async def of_mentor_between(
        self, community_id: int, mentor_id: int, start: datetime, end: datetime
    ) -> list[Session]:
        """The mentor's sessions that count against the cap, starting in [start, end)."""
        rows = await self.conn.execute(
            select(t.sessions).where(
                t.sessions.c.community_id == community_id,
                t.sessions.c.mentor_id == mentor_id,
                t.sessions.c.state.in_([s.value for s in COUNTED_STATES]),
                t.sessions.c.start_at >= start,
                t.sessions.c.start_at < end,
            )
        )
        return [_session(r) for r in rows]

    async def starts_by_mentor(
        self, community_id: int, start: datetime, end: datetime
    ) -> list[tuple[int, datetime]]:
        """(mentor, start) of every session that counts against the cap, starting in
        [start, end)."""
        rows = await self.conn.execute(
            select(t.sessions.c.mentor_id, t.sessions.c.start_at).where(
                t.sessions.c.community_id == community_id,
                t.sessions.c.state.in_([s.value for s in COUNTED_STATES]),
                t.sessions.c.start_at >= start,
                t.sessions.c.start_at < end,
            )
        )
        return [(int(r.mentor_id), r.start_at) for r in rows]

    async def counts_by_mentor(
        self, community_id: int, since: datetime, until: datetime | None = None
    ) -> dict[int, int]:
        """Sessions each mentor has (proposed, confirmed, held or missed; not cancelled).

        Counts those starting in [since, until); without ``until``, up to the end of the
        calendar month of ``since`` (in ``since``'s own zone): "sessions this month".
        """
        end = until if until is not None else _next_month(since)
        rows = await self.conn.execute(
            select(t.sessions.c.mentor_id, func.count())
            .where(
                t.sessions.c.community_id == community_id,
                t.sessions.c.state.in_([s.value for s in COUNTED_STATES]),
                t.sessions.c.start_at >= since,
                t.sessions.c.start_at < end,
            )
            .group_by(t.sessions.c.mentor_id)
        )
        return counts(rows)

    async def first_starts(self, community_id: int) -> dict[int, datetime]:
        """Per intro, when its first session that took place (or was confirmed) started."""
        rows = await self.conn.execute(
            select(t.sessions.c.intro_id, func.min(t.sessions.c.start_at))
            .where(
                t.sessions.c.community_id == community_id,
                t.sessions.c.state.in_([SessionState.CONFIRMED.value, SessionState.HELD.value]),
                t.sessions.c.start_at.is_not(None),
            )
            .group_by(t.sessions.c.intro_id)
        )
        return {r[0]: _aware(r[1]) for r in rows}

    async def month_stats(
        self, community_id: int, since: datetime, until: datetime
    ) -> dict[str, int]:
        """Sessions starting in [since, until): booked (not cancelled; held and missed
        included), held, missed and cancelled."""
        rows = await self.conn.execute(
            select(t.sessions.c.state, func.count())
            .where(
                t.sessions.c.community_id == community_id,
                t.sessions.c.start_at >= since,
                t.sessions.c.start_at < until,
            )
            .group_by(t.sessions.c.state)
        )
        by_state = counts(rows)
        cancelled = by_state.pop(SessionState.CANCELLED.value, 0)
        return {
            "booked": sum(by_state.values()),
            "held": by_state.get(SessionState.HELD.value, 0),
            "missed": by_state.get(SessionState.MISSED.value, 0),
            "cancelled": cancelled,
        }

    # -- proposed slots ----------------------------------------------------------------------

    async def add_slots(self, session_id: int, starts: Sequence[datetime]) -> None:
        await self.conn.execute(
            insert(t.session_slots),
            [{"session_id": session_id, "start_at": s} for s in starts],
        )

    async def slots(self, session_id: int) -> list[datetime]:
        """The proposed start times, earliest first (slot 1, 2, 3)."""
        rows = await self.conn.execute(
            select(t.session_slots.c.start_at)
            .where(t.session_slots.c.session_id == session_id)
            .order_by(t.session_slots.c.start_at, t.session_slots.c.id)
        )
        return [r[0] for r in rows]

    # -- series ------------------------------------------------------------------------------

    async def add_series(
        self,
        *,
        community_id: int,
        intro_id: int,
        frequency: str,
        timezone: str,
        until_at: datetime | None,
        count: int | None,
        sequence: int,
        now: datetime,
    ) -> SessionSeries:
        result = await self.conn.execute(
            insert(t.session_series)
            .values(
                community_id=community_id,
                intro_id=intro_id,
                frequency=frequency,
                timezone=timezone,
                sequence=sequence,
                until_at=until_at,
                count=count,
                created_at=now,
            )
            .returning(t.session_series)
        )
        return _series(result.one())

    async def series(self, community_id: int, series_id: int) -> SessionSeries | None:
        row = (
            await self.conn.execute(
                select(t.session_series).where(
                    t.session_series.c.community_id == community_id,
                    t.session_series.c.id == series_id,
                )
            )
        ).first()
        return _series(row) if row else None

    async def update_series(
        self, series: SessionSeries, *, ended_at: datetime | None = None
    ) -> SessionSeries | None:
        """Bump the series' SEQUENCE (and end it), if nobody else changed it meanwhile."""
        values: dict[str, Any] = {"sequence": series.sequence + 1}
        if ended_at is not None:
            values["ended_at"] = ended_at
        result = await self.conn.execute(
            update(t.session_series)
            .where(
                t.session_series.c.id == series.id,
                t.session_series.c.sequence == series.sequence,
            )
            .values(**values)
            .returning(t.session_series)
        )
        row = result.first()
        return _series(row) if row else None

    async def series_sessions(self, series_id: int) -> list[Session]:
        """Every occurrence of a series (any state), in the series' order."""
        rows = await self.conn.execute(
            select(t.sessions)
            .where(t.sessions.c.series_id == series_id)
            .order_by(
                func.coalesce(t.sessions.c.original_start_at, t.sessions.c.start_at),
                t.sessions.c.id,
            )
        )
        return [_session(r) for r in rows]


def _session(r: Row[Any]) -> Session:
    return Session(
        id=r.id,
        community_id=r.community_id,
        intro_id=r.intro_id,
        mentor_id=r.mentor_id,
        member_id=r.member_id,
        topic=r.topic,
        agenda=r.agenda,
        start_at=r.start_at,
        duration_minutes=r.duration_minutes,
        state=SessionState(r.state),
        proposed_by=r.proposed_by,
        series_id=r.series_id,
        sequence=r.sequence,
        created_at=r.created_at,
        updated_at=r.updated_at,
        cancel_reason=r.cancel_reason,
        original_start_at=r.original_start_at,
    )


def _series(r: Row[Any]) -> SessionSeries:
    return SessionSeries(
        id=r.id,
        community_id=r.community_id,
        intro_id=r.intro_id,
        frequency=r.frequency,
        until_at=r.until_at,
        count=r._mapping["count"],
        created_at=r.created_at,
        ended_at=r.ended_at,
        timezone=r.timezone,
        sequence=r.sequence,
    )


def _aware(value: datetime | str) -> datetime:
    """An aggregate's time (SQLite returns ``min(...)`` as stored text), as aware UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
