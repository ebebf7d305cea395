"""Queries. A :class:`Store` hands out transactions; a :class:`Tx` runs queries inside one.

Why one transaction object: a change and the nudges it causes are written together or not at
all (the nudge table is the truth the scheduler works from). Queries here only read and write
rows; every rule about *whether* a change is allowed lives in the core's flows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    String,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ColumnElement, Select, Update

from bot.domain import (
    Community,
    IntroNote,
    IntroRequest,
    IntroState,
    Member,
    MentorProfile,
    WaitlistEntry,
    Window,
)
from storage import schema as t
from storage.followups_store import FollowupQueries
from storage.sessions_store import SessionQueries

log = logging.getLogger(__name__)


class Store:
    """The database, as the core sees it: a source of transactions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self.engine.begin() as conn:
            yield Tx(conn)

    async def close(self) -> None:
        await self.engine.dispose()


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def _time(minutes: int) -> time:
    return time(minutes // 60, minutes % 60) if minutes < 24 * 60 else time(23, 59)


@dataclass(frozen=True)
class NudgeRow:
    """A nudge as stored: what, for whom, about what, when, and how it went."""

    id: int
    community_id: int
    kind: str
    recipient_id: int | None
    channel: str | None
    intro_id: int | None
    session_id: int | None
    payload: Mapping[str, Any]
    due_at: datetime
    state: str
    attempts: int
    claim_token: str | None = None
    delivery_ref: str | None = None
    outcome: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True)
class NewNudge:
    community_id: int
    kind: str
    due_at: datetime
    recipient_id: int | None = None
    channel: str | None = None
    intro_id: int | None = None
    session_id: int | None = None
    payload: Mapping[str, Any] | None = None


class Tx(SessionQueries, FollowupQueries):
    """Queries inside one database transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._driver: Any = None

    async def _sqlite_driver(self) -> Any | None:
        """The aiosqlite connection under this transaction, or None on any other database.

        Why: a nudge backlog runs three bulk statements per batch, and each through
        SQLAlchemy's asyncio adapter costs four trips to aiosqlite's thread (open a cursor,
        execute, fetch, close) plus a greenlet switch; the driver does each in one. The
        statements run on the same connection, inside the transaction SQLAlchemy began (with
        BEGIN IMMEDIATE, storage.db), and commit or roll back with it.
        """
        if self._driver is None:
            if self.conn.dialect.name != "sqlite" or self.conn.dialect.driver != "aiosqlite":
                self._driver = False
            else:
                raw = await self.conn.get_raw_connection()
                self._driver = raw.driver_connection
        return self._driver or None

    # -- communities -------------------------------------------------------------------------

    async def community(self, platform: str, external_id: str) -> Community | None:
        row = (
            await self.conn.execute(
                select(t.communities).where(
                    t.communities.c.platform == platform,
                    t.communities.c.external_id == external_id,
                )
            )
        ).first()
        return _community(row) if row else None

    async def community_by_id(self, community_id: int) -> Community | None:
        row = (
            await self.conn.execute(
                select(t.communities).where(t.communities.c.id == community_id)
            )
        ).first()
        return _community(row) if row else None

    async def create_community(
        self, platform: str, external_id: str, name: str, now: datetime
    ) -> Community:
        result = await self.conn.execute(
            insert(t.communities)
            .values(
                platform=platform,
                external_id=external_id,
                name=name,
                settings_json="{}",
                created_at=now,
            )
            .returning(t.communities)
        )
        return _community(result.one())

    async def community_settings(self, community_id: int) -> dict[str, Any]:
        raw = (
            await self.conn.execute(
                select(t.communities.c.settings_json).where(t.communities.c.id == community_id)
            )
        ).scalar_one()
        value: dict[str, Any] = json.loads(raw or "{}")
        return value

    async def save_community_settings(self, community_id: int, values: Mapping[str, Any]) -> None:
        await self.conn.execute(
            update(t.communities)
            .where(t.communities.c.id == community_id)
            .values(settings_json=json.dumps(dict(values), sort_keys=True))
        )

    # -- members -----------------------------------------------------------------------------

    async def member_by_platform_id(
        self, community_id: int, platform_user_id: str
    ) -> Member | None:
        row = (
            await self.conn.execute(
                select(t.members).where(
                    t.members.c.community_id == community_id,
                    t.members.c.platform_user_id == platform_user_id,
                )
            )
        ).first()
        return _member(row) if row else None

    async def member(self, community_id: int, member_id: int) -> Member | None:
        row = (
            await self.conn.execute(
                select(t.members).where(
                    t.members.c.community_id == community_id, t.members.c.id == member_id
                )
            )
        ).first()
        return _member(row) if row else None

    async def members_by_ids(self, community_id: int, ids: Iterable[int]) -> dict[int, Member]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = await self.conn.execute(
            select(t.members).where(
                t.members.c.community_id == community_id, t.members.c.id.in_(wanted)
            )
        )
        return {r.id: _member(r) for r in rows}

    async def members_named(self, community_id: int, name: str) -> list[Member]:
        """Members whose display name equals ``name``, ignoring case."""
        rows = await self.conn.execute(
            select(t.members).where(
                t.members.c.community_id == community_id,
                func.lower(t.members.c.display_name) == name.lower(),
            )
        )
        return [_member(r) for r in rows]

    async def add_member(
        self,
        community_id: int,
        platform_user_id: str,
        display_name: str,
        timezone: str | None,
        now: datetime,
    ) -> Member:
        result = await self.conn.execute(
            insert(t.members)
            .values(
                community_id=community_id,
                platform_user_id=platform_user_id,
                display_name=display_name,
                timezone=timezone,
                followups_off=False,
                created_at=now,
            )
            .returning(t.members)
        )
        return _member(result.one())

    async def update_member(self, member_id: int, **values: Any) -> None:
        allowed = {
            "display_name",
            "timezone",
            "quiet_hours",
            "followups_paused_until",
            "followups_off",
            "timezone_asked_at",
        }
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"not member columns: {sorted(unknown)}")
        await self.conn.execute(
            update(t.members).where(t.members.c.id == member_id).values(**values)
        )

    # -- mentor profiles ---------------------------------------------------------------------

    async def profile(self, community_id: int, member_id: int) -> MentorProfile | None:
        profiles = await self._profiles(
            and_(
                t.mentor_profiles.c.community_id == community_id,
                t.mentor_profiles.c.member_id == member_id,
            )
        )
        return profiles[0] if profiles else None

    async def profiles(self, community_id: int) -> list[MentorProfile]:
        return await self._profiles(t.mentor_profiles.c.community_id == community_id)

    async def _profiles(self, where: Any) -> list[MentorProfile]:
        rows = (await self.conn.execute(select(t.mentor_profiles).where(where))).all()
        if not rows:
            return []
        ids = [r.member_id for r in rows]
        topics: dict[int, list[str]] = {i: [] for i in ids}
        for r in await self.conn.execute(
            select(t.mentor_topics.c.member_id, t.mentor_topics.c.topic)
            .where(t.mentor_topics.c.member_id.in_(ids))
            .order_by(t.mentor_topics.c.member_id, t.mentor_topics.c.position)
        ):
            topics[r.member_id].append(r.topic)
        windows: dict[int, list[Window]] = {i: [] for i in ids}
        for r in await self.conn.execute(
            select(t.availability_windows).where(t.availability_windows.c.member_id.in_(ids))
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

    async def save_profile(self, profile: MentorProfile) -> None:
        """Insert or replace a mentor profile with its topics and windows."""
        values = {
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
        await self._delete_profile_children(profile.member_id)
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

    async def _delete_profile_children(self, member_id: int) -> None:
        await self.conn.execute(
            delete(t.mentor_topics).where(t.mentor_topics.c.member_id == member_id)
        )
        await self.conn.execute(
            delete(t.availability_windows).where(t.availability_windows.c.member_id == member_id)
        )

    async def delete_profile(self, community_id: int, member_id: int) -> bool:
        await self._delete_profile_children(member_id)
        result = await self.conn.execute(
            delete(t.mentor_profiles).where(
                t.mentor_profiles.c.community_id == community_id,
                t.mentor_profiles.c.member_id == member_id,
            )
        )
        return bool(result.rowcount)

    # -- intro requests ----------------------------------------------------------------------

    async def add_intro(
        self,
        community_id: int,
        member_id: int,
        mentor_id: int,
        topic: str,
        context: str,
        now: datetime,
    ) -> IntroRequest:
        result = await self.conn.execute(
            insert(t.intro_requests)
            .values(
                community_id=community_id,
                member_id=member_id,
                mentor_id=mentor_id,
                topic=topic,
                context=context,
                state=IntroState.PENDING.value,
                created_at=now,
                updated_at=now,
            )
            .returning(t.intro_requests)
        )
        return _intro(result.one())

    async def intro(self, community_id: int, intro_id: int) -> IntroRequest | None:
        row = (
            await self.conn.execute(
                select(t.intro_requests).where(
                    t.intro_requests.c.community_id == community_id,
                    t.intro_requests.c.id == intro_id,
                )
            )
        ).first()
        return _intro(row) if row else None

    async def intros_by_ids(self, ids: Iterable[int]) -> dict[int, IntroRequest]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = await self.conn.execute(
            select(t.intro_requests).where(t.intro_requests.c.id.in_(wanted))
        )
        return {r.id: _intro(r) for r in rows}

    async def set_intro_state(
        self,
        intro_id: int,
        expected: IntroState,
        new: IntroState,
        now: datetime,
        *,
        answer_note: str | None = None,
        answered: bool = False,
    ) -> bool:
        """Compare-and-set: change the state only if it is still ``expected``."""
        values: dict[str, Any] = {"state": new.value, "updated_at": now}
        if answer_note is not None:
            values["answer_note"] = answer_note
        if answered:
            values["answered_at"] = now
        result = await self.conn.execute(
            update(t.intro_requests)
            .where(
                t.intro_requests.c.id == intro_id,
                t.intro_requests.c.state == expected.value,
            )
            .values(**values)
        )
        return bool(result.rowcount)

    async def set_intro_space(self, intro_id: int, space_ref: str) -> None:
        await self.conn.execute(
            update(t.intro_requests)
            .where(t.intro_requests.c.id == intro_id)
            .values(space_ref=space_ref)
        )

    async def intros_of(
        self,
        community_id: int,
        *,
        member_id: int | None = None,
        mentor_id: int | None = None,
        states: Sequence[IntroState] | None = None,
        limit: int = 50,
    ) -> list[IntroRequest]:
        query = select(t.intro_requests).where(t.intro_requests.c.community_id == community_id)
        if member_id is not None:
            query = query.where(t.intro_requests.c.member_id == member_id)
        if mentor_id is not None:
            query = query.where(t.intro_requests.c.mentor_id == mentor_id)
        if states is not None:
            query = query.where(t.intro_requests.c.state.in_([s.value for s in states]))
        query = query.order_by(t.intro_requests.c.id.desc()).limit(limit)
        return [_intro(r) for r in await self.conn.execute(query)]

    async def intro_counts_by_mentor(
        self,
        community_id: int,
        states: Sequence[IntroState],
        since: datetime | None = None,
    ) -> dict[int, int]:
        """How many requests in ``states`` (made since ``since``) each mentor has."""
        query = (
            select(t.intro_requests.c.mentor_id, func.count())
            .where(
                t.intro_requests.c.community_id == community_id,
                t.intro_requests.c.state.in_([s.value for s in states]),
            )
            .group_by(t.intro_requests.c.mentor_id)
        )
        if since is not None:
            query = query.where(t.intro_requests.c.created_at >= since)
        return {r[0]: int(r[1]) for r in await self.conn.execute(query)}

    async def add_intro_note(
        self, community_id: int, intro_id: int, author_id: int, text: str, now: datetime
    ) -> IntroNote:
        result = await self.conn.execute(
            insert(t.intro_notes)
            .values(
                community_id=community_id,
                intro_id=intro_id,
                author_id=author_id,
                text=text,
                created_at=now,
            )
            .returning(t.intro_notes)
        )
        r = result.one()
        return IntroNote(r.id, r.intro_id, r.author_id, r.text, r.created_at)

    async def intro_notes(self, intro_id: int) -> list[IntroNote]:
        rows = await self.conn.execute(
            select(t.intro_notes)
            .where(t.intro_notes.c.intro_id == intro_id)
            .order_by(t.intro_notes.c.id)
        )
        return [IntroNote(r.id, r.intro_id, r.author_id, r.text, r.created_at) for r in rows]

    # -- waitlist ----------------------------------------------------------------------------

    async def add_waitlist(
        self, community_id: int, member_id: int, topic: str, now: datetime
    ) -> WaitlistEntry:
        result = await self.conn.execute(
            insert(t.waitlist)
            .values(community_id=community_id, member_id=member_id, topic=topic, created_at=now)
            .returning(t.waitlist)
        )
        return _waitlist(result.one())

    async def open_waitlist(
        self, community_id: int, member_id: int | None = None
    ) -> list[WaitlistEntry]:
        query = select(t.waitlist).where(
            t.waitlist.c.community_id == community_id, t.waitlist.c.notified_at.is_(None)
        )
        if member_id is not None:
            query = query.where(t.waitlist.c.member_id == member_id)
        return [_waitlist(r) for r in await self.conn.execute(query.order_by(t.waitlist.c.id))]

    async def close_waitlist_entry(self, entry_id: int, now: datetime) -> bool:
        result = await self.conn.execute(
            update(t.waitlist)
            .where(t.waitlist.c.id == entry_id, t.waitlist.c.notified_at.is_(None))
            .values(notified_at=now)
        )
        return bool(result.rowcount)

    # -- nudges ------------------------------------------------------------------------------

    async def add_nudges(self, nudges: Sequence[NewNudge], now: datetime) -> None:
        if not nudges:
            return
        if self.conn.dialect.name == "sqlite":
            # Scheduling many at once (a series, a benchmark): ready values to the driver.
            # Nudges queued together mostly share their due time (a command's fan-out is due
            # "now"): format each distinct time once.
            times: dict[datetime, str] = {}

            def when(value: datetime) -> str:
                text = times.get(value)
                if text is None:
                    text = times[value] = _sqlite_time(value)
                return text

            created = when(now)
            await self._sqlite_executemany(
                _SQLITE_ADD_NUDGES,
                [
                    (n.community_id, n.kind, n.recipient_id, n.channel, n.intro_id,
                     n.session_id, _payload_text(n.payload), when(n.due_at), created)
                    for n in nudges
                ],
            )
            return
        await self.conn.execute(
            insert(t.nudges),
            [
                {
                    "community_id": n.community_id,
                    "kind": n.kind,
                    "recipient_id": n.recipient_id,
                    "channel": n.channel,
                    "intro_id": n.intro_id,
                    "session_id": n.session_id,
                    "payload": _payload_text(n.payload),
                    "due_at": n.due_at,
                    "state": "pending",
                    "attempts": 0,
                    "created_at": now,
                }
                for n in nudges
            ],
        )

    async def skip_pending_nudges(
        self,
        reason: str,
        *,
        intro_id: int | None = None,
        session_id: int | None = None,
        kinds: Sequence[str] | None = None,
    ) -> int:
        """Mark pending nudges about an intro or session as stale, with the reason."""
        if intro_id is None and session_id is None:
            raise ValueError("name the intro or the session whose nudges to skip")
        query = update(t.nudges).where(t.nudges.c.state == "pending")
        if intro_id is not None:
            query = query.where(t.nudges.c.intro_id == intro_id)
        if session_id is not None:
            query = query.where(t.nudges.c.session_id == session_id)
        if kinds is not None:
            query = query.where(t.nudges.c.kind.in_(list(kinds)))
        result = await self.conn.execute(query.values(state="stale", outcome=reason))
        return int(result.rowcount)

    async def move_pending_nudges(
        self, session_id: int, kind: str, due_at: datetime
    ) -> int:
        result = await self.conn.execute(
            update(t.nudges)
            .where(
                t.nudges.c.session_id == session_id,
                t.nudges.c.kind == kind,
                t.nudges.c.state == "pending",
            )
            .values(due_at=due_at)
        )
        return int(result.rowcount)

    async def claim_due_nudges(
        self, now: datetime, limit: int, token: str
    ) -> list[NudgeRow]:
        """Atomically move up to ``limit`` due pending nudges to ``sending`` under ``token``."""
        driver = await self._sqlite_driver()
        if driver is not None:
            # The same statement as below, straight to the driver: one trip to its thread, and
            # rows as plain tuples (a backlog claims hundreds per statement; see
            # _sqlite_driver and _claimed_tuples).
            at = _sqlite_time(now)
            found = await driver.execute_fetchall(_SQLITE_CLAIM, (at, token, at, limit))
            return _claimed_tuples(found, token)
        due = (
            select(t.nudges.c.id)
            .where(t.nudges.c.state == "pending", t.nudges.c.due_at <= now)
            .order_by(t.nudges.c.due_at, t.nudges.c.id)
            .limit(limit)
        )
        claim = update(t.nudges).where(t.nudges.c.id.in_(due.scalar_subquery()))
        if self.conn.dialect.name == "postgresql":
            claim = _locked_batch_update(
                due.with_for_update(skip_locked=True), t.nudges.c.state == "pending"
            )
        # On SQLite the write lock is taken at BEGIN (storage.db), so the subquery's view is
        # final. Repeating ``state`` in the outer WHERE makes SQLite scan every pending row
        # through the state index instead of looking the ids up: a backlog went quadratic.
        result = await self.conn.execute(
            claim.values(state="sending", claimed_at=now, claim_token=token)
            .returning(*self._claimed_columns())
        )
        rows = [_claimed_nudge(r) for r in result]
        rows.sort(key=lambda n: (n.due_at, n.id))
        return rows

    async def reclaim_stuck_nudges(
        self, claimed_before: datetime, after_id: int, limit: int, token: str, now: datetime
    ) -> list[NudgeRow]:
        """Take over up to ``limit`` nudges left in ``sending`` (claimed before the cut-off).

        One atomic statement, like :meth:`claim_due_nudges`: a row another process is
        recovering at the same moment goes to one of them only. ``after_id`` pages through the
        rows in id order, so a recovery pass always ends.
        """
        stuck = (
            select(t.nudges.c.id)
            .where(
                t.nudges.c.state == "sending",
                t.nudges.c.claimed_at < claimed_before,
                t.nudges.c.id > after_id,
            )
            .order_by(t.nudges.c.id)
            .limit(limit)
        )
        take = update(t.nudges).where(t.nudges.c.id.in_(stuck.scalar_subquery()))
        if self.conn.dialect.name == "postgresql":  # see claim_due_nudges
            take = _locked_batch_update(
                stuck.with_for_update(skip_locked=True),
                t.nudges.c.state == "sending",
                t.nudges.c.claimed_at < claimed_before,
            )
        result = await self.conn.execute(
            take.values(claimed_at=now, claim_token=token)
            .returning(*self._claimed_columns())
        )
        return sorted((_claimed_nudge(r) for r in result), key=lambda n: n.id)

    def _claimed_columns(self) -> tuple[Any, ...]:
        if self.conn.dialect.name == "sqlite":
            # The stored text, parsed by _claimed_nudge with the C fromisoformat (cheaper
            # than the generic result processing, hundreds of rows per claim).
            return (*_CLAIMED_COLUMNS[:8], type_coerce(t.nudges.c.due_at, String),
                    *_CLAIMED_COLUMNS[9:])
        return _CLAIMED_COLUMNS

    async def stuck_nudges(self, claimed_before: datetime, limit: int) -> list[NudgeRow]:
        """Nudges left in ``sending`` by a process that died (claimed before the cut-off)."""
        rows = await self.conn.execute(
            select(t.nudges)
            .where(t.nudges.c.state == "sending", t.nudges.c.claimed_at < claimed_before)
            .order_by(t.nudges.c.id)
            .limit(limit)
        )
        return [_nudge(r) for r in rows]

    async def finish_nudges(self, outcomes: Sequence[Mapping[str, Any]]) -> None:
        """Record outcomes: each mapping has id, token, state and optional details.

        Only rows still claimed under the same token change, so a slow process never overwrites
        the result of one that took the row over. Outcomes with the same set of details go in
        one executemany (a backlog finishes hundreds of rows per statement).
        """
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for o in outcomes:
            values: dict[str, Any] = {"state": o["state"]}
            for key in ("sent_at", "delivery_ref", "outcome", "attempts", "due_at"):
                if key in o:
                    values[key] = o[key]
            if o["state"] == "pending":
                values["claim_token"] = None
                values["claimed_at"] = None
            columns = tuple(sorted(values))
            groups.setdefault(columns, []).append(
                {"nid": o["id"], "tok": o["token"], **{f"v_{k}": v for k, v in values.items()}}
            )
        for columns, params in groups.items():
            stmt = (
                update(t.nudges)
                .where(
                    t.nudges.c.id == bindparam("nid"), t.nudges.c.claim_token == bindparam("tok")
                )
                .values({k: bindparam(f"v_{k}") for k in columns})
            )
            await self.conn.execute(stmt, params)

    async def mark_nudges_sent(
        self, sent: Sequence[tuple[int, str, str | None, str | None]], now: datetime
    ) -> None:
        """Bulk: (id, token, delivery_ref, outcome) for every nudge delivered."""
        if not sent:
            return
        if self.conn.dialect.name == "sqlite":
            # A backlog marks hundreds of rows per batch: SQLAlchemy's per-row parameter
            # processing cost more than SQLite's work, so pass ready values to the driver.
            at = _sqlite_time(now)
            await self._sqlite_executemany(
                "UPDATE nudges SET state = 'sent', sent_at = ?, delivery_ref = ?, outcome = ? "
                "WHERE id = ? AND claim_token = ?",
                [(at, ref, note, i, tok) for i, tok, ref, note in sent],
            )
            return
        stmt = (
            update(t.nudges)
            .where(t.nudges.c.id == bindparam("nid"), t.nudges.c.claim_token == bindparam("tok"))
            .values(
                state="sent",
                sent_at=now,
                delivery_ref=bindparam("ref"),
                outcome=bindparam("note"),
            )
        )
        await self.conn.execute(
            stmt,
            [{"nid": i, "tok": tok, "ref": ref, "note": note} for i, tok, ref, note in sent],
        )

    async def _sqlite_executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """One executemany of ready values on SQLite, through the driver when it is aiosqlite."""
        driver = await self._sqlite_driver()
        if driver is None:
            await self.conn.exec_driver_sql(sql, rows)
            return
        cursor = await driver.executemany(sql, rows)
        await cursor.close()

    async def next_nudge_due(self) -> datetime | None:
        value = (
            await self.conn.execute(
                select(func.min(t.nudges.c.due_at)).where(t.nudges.c.state == "pending")
            )
        ).scalar()
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)  # type: ignore[no-any-return]

    async def nudges(
        self,
        community_id: int,
        *,
        states: Sequence[str] | None = None,
        intro_id: int | None = None,
        session_id: int | None = None,
        limit: int = 200,
        newest_first: bool = False,
    ) -> list[NudgeRow]:
        query = select(t.nudges).where(t.nudges.c.community_id == community_id)
        if states is not None:
            query = query.where(t.nudges.c.state.in_(list(states)))
        if intro_id is not None:
            query = query.where(t.nudges.c.intro_id == intro_id)
        if session_id is not None:
            query = query.where(t.nudges.c.session_id == session_id)
        if newest_first:
            query = query.order_by(t.nudges.c.due_at.desc(), t.nudges.c.id.desc())
        else:
            query = query.order_by(t.nudges.c.due_at, t.nudges.c.id)
        return [_nudge(r) for r in await self.conn.execute(query.limit(limit))]

    async def nudge_state_counts(self, community_id: int) -> dict[str, int]:
        rows = await self.conn.execute(
            select(t.nudges.c.state, func.count())
            .where(t.nudges.c.community_id == community_id)
            .group_by(t.nudges.c.state)
        )
        return {r[0]: int(r[1]) for r in rows}

    async def pending_nudge_exists(self, **where: Any) -> bool:
        query = select(t.nudges.c.id).where(
            or_(t.nudges.c.state == "pending", t.nudges.c.state == "sending")
        )
        for key, value in where.items():
            query = query.where(getattr(t.nudges.c, key) == value)
        return (await self.conn.execute(query.limit(1))).first() is not None


def _community(r: Row[Any]) -> Community:
    return Community(r.id, r.platform, r.external_id, r.name)


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
    )


def _intro(r: Row[Any]) -> IntroRequest:
    return IntroRequest(
        id=r.id,
        community_id=r.community_id,
        member_id=r.member_id,
        mentor_id=r.mentor_id,
        topic=r.topic,
        context=r.context,
        state=IntroState(r.state),
        created_at=r.created_at,
        updated_at=r.updated_at,
        answered_at=r.answered_at,
        answer_note=r.answer_note,
        space_ref=r.space_ref,
    )


def _waitlist(r: Row[Any]) -> WaitlistEntry:
    return WaitlistEntry(r.id, r.community_id, r.member_id, r.topic, r.created_at, r.notified_at)


#: What a claim returns: all a renderer reads, none of the bookkeeping (a backlog claims
#: hundreds of rows per statement, and every column returned is parsed in the event loop).
_CLAIMED_COLUMNS = (
    t.nudges.c.id,
    t.nudges.c.community_id,
    t.nudges.c.kind,
    t.nudges.c.recipient_id,
    t.nudges.c.channel,
    t.nudges.c.intro_id,
    t.nudges.c.session_id,
    t.nudges.c.payload,
    t.nudges.c.due_at,
    t.nudges.c.state,
    t.nudges.c.attempts,
    t.nudges.c.claim_token,
)


def _nudge(r: Row[Any]) -> NudgeRow:
    return NudgeRow(
        id=r.id,
        community_id=r.community_id,
        kind=r.kind,
        recipient_id=r.recipient_id,
        channel=r.channel,
        intro_id=r.intro_id,
        session_id=r.session_id,
        payload=_payload(r.payload),
        due_at=r.due_at,
        state=r.state,
        attempts=r.attempts,
        claim_token=r.claim_token,
        delivery_ref=r.delivery_ref,
        outcome=r.outcome,
        sent_at=r.sent_at,
    )


def _claimed_nudge(r: Row[Any]) -> NudgeRow:
    """A row of :data:`_CLAIMED_COLUMNS`, by position (hundreds per claim: keep it cheap)."""
    values: tuple[Any, ...] = tuple(r)
    (nid, community_id, kind, recipient_id, channel, intro_id, session_id, payload, due_at,
     state, attempts, claim_token) = values
    if isinstance(due_at, str):
        due_at = datetime.fromisoformat(due_at).replace(tzinfo=UTC)
    # The frozen dataclass's __init__ sets each field through object.__setattr__ (~4 µs for
    # 15 fields); filling __dict__ directly makes the same object at a third of the cost.
    row: NudgeRow = object.__new__(NudgeRow)
    row.__dict__.update(
        id=nid, community_id=community_id, kind=kind, recipient_id=recipient_id,
        channel=channel, intro_id=intro_id, session_id=session_id, payload=_payload(payload),
        due_at=due_at, state=state, attempts=attempts, claim_token=claim_token,
        delivery_ref=None, outcome=None, sent_at=None,
    )
    return row


def _locked_batch_update(batch: Select[Any], *recheck: ColumnElement[bool]) -> Update:
    """``UPDATE nudges … FROM (the batch, locked, computed once)`` for PostgreSQL.

    Why a materialized CTE and not ``id IN (subquery … LIMIT n FOR UPDATE SKIP LOCKED)``:
    PostgreSQL may evaluate such a subquery more than once while another process claims at
    the same moment, and each evaluation skips different locked rows, so one claim of 7 took
    all 300 due nudges (seen in test_two_engines_on_one_database_never_send_twice). Rows
    another process locked are skipped; ``recheck`` repeats the conditions on the newest row
    version (READ COMMITTED re-evaluates the UPDATE's WHERE after waiting on a lock).
    """
    locked = batch.cte("batch").prefix_with("MATERIALIZED")
    return update(t.nudges).where(t.nudges.c.id == locked.c.id, *recheck)


_SQLITE_ADD_NUDGES = (
    "INSERT INTO nudges (community_id, kind, recipient_id, channel, intro_id, session_id, "
    "payload, due_at, state, attempts, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?)"
)

#: Tx.claim_due_nudges on SQLite, as SQLAlchemy compiles it there (no ``state`` repeated in
#: the outer WHERE: see that method). It returns _CLAIMED_COLUMNS in their order but for
#: ``state`` and ``claim_token``, which the statement itself sets ('sending', the token).
_SQLITE_CLAIM = (
    "UPDATE nudges SET state = 'sending', claimed_at = ?, claim_token = ? "
    "WHERE nudges.id IN (SELECT nudges.id FROM nudges "
    "WHERE nudges.state = 'pending' AND nudges.due_at <= ? "
    "ORDER BY nudges.due_at, nudges.id LIMIT ?) "
    "RETURNING id, community_id, kind, recipient_id, channel, intro_id, session_id, payload, "
    "due_at, attempts"
)


def _claimed_tuples(found: Iterable[Sequence[Any]], token: str) -> list[NudgeRow]:
    """Rows of _SQLITE_CLAIM (times as stored) as claimed nudges, in due order.

    Built like :func:`_claimed_nudge`, without a SQLAlchemy Row per nudge. The stored times
    all have one fixed-width format (_sqlite_time), so sorting their text sorts by time; a
    batch mostly shares a few due times, so each distinct one is parsed once.
    """
    rows = sorted(found, key=_DUE_ORDER)
    times: dict[str, datetime] = {}
    out: list[NudgeRow] = []
    new = object.__new__
    for (nid, community_id, kind, recipient_id, channel, intro_id, session_id, payload,
         due_text, attempts) in rows:
        due_at = times.get(due_text)
        if due_at is None:
            due_at = times[due_text] = datetime.fromisoformat(due_text).replace(tzinfo=UTC)
        row: NudgeRow = new(NudgeRow)
        row.__dict__.update(
            id=nid, community_id=community_id, kind=kind, recipient_id=recipient_id,
            channel=channel, intro_id=intro_id, session_id=session_id,
            payload=_payload(payload), due_at=due_at, state="sending", attempts=attempts,
            claim_token=token, delivery_ref=None, outcome=None, sent_at=None,
        )
        out.append(row)
    return out


_DUE_ORDER = itemgetter(8, 0)


def _sqlite_time(value: datetime) -> str:
    """An aware time as SQLAlchemy stores it on SQLite (naive UTC, microseconds), for the raw
    executemany paths above. Same refusal of naive times as :class:`storage.schema.UTCDateTime`.
    """
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database; times must be aware")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


_JSON = json.JSONEncoder(sort_keys=True)  # json.dumps(sort_keys=...) builds one per call


def _checked_c_encoder() -> Any:
    """json's C encoder factory if it is there and still takes the arguments used below.

    It is not public API: a Python that changed it must fall back to ``_JSON.encode``, not
    break every command that queues a nudge.
    """
    if c_make_encoder is None:
        return None
    sample = {"b": [1, 2.5, None, True], "a": "é\n", "c": {"z": 1}}
    try:
        made = "".join(c_make_encoder(
            {}, _JSON.default, encode_basestring_ascii, None, ": ", ", ", True, False, True
        )(sample, 0))
    except Exception:  # any surprise means "don't use it"
        return None
    return c_make_encoder if made == _JSON.encode(sample) else None


_C_ENCODER: Any = _checked_c_encoder()


def _payload_text(payload: Mapping[str, Any] | None) -> str:
    if not payload:
        return "{}"
    value = payload if type(payload) is dict else dict(payload)
    if _C_ENCODER is None:
        return _JSON.encode(value)
    # What _JSON.encode runs, minus its Python layers (encode → iterencode → closures): 0.8 µs
    # a payload instead of 2.2 µs, a tenth of scheduling 100k nudges. Fresh markers each call,
    # so a circular payload is refused as before.
    return "".join(_C_ENCODER(
        {}, _JSON.default, encode_basestring_ascii, None, ": ", ", ", True, False, True
    )(value, 0))


def _payload(text: str | None) -> dict[str, Any]:
    if not text or text == "{}":
        return {}
    value: dict[str, Any] = json.loads(text)
    return value
