"""What the core needs from storage, as protocols the core owns (ports, in cosmicpython's terms).

The core never imports ``storage/`` or SQLAlchemy: it asks a :class:`Store` for a transaction
and reads and writes through one repository per aggregate (``tx.members``, ``tx.intros``,
``tx.sessions``, …), in the core's own types (``bot.domain``). ``storage/`` implements these;
the composition root (``bot.bootstrap``) is the only place that knows both.

Storage problems reach the core as its own exceptions (``bot.errors.StorageConflict``,
``StorageBusy``, ``StorageUnavailable``), never as a driver's.

Repositories only read and write; every rule about *whether* a change is allowed lives in the
features. Methods that change a row only if it is still as expected (compare-and-set) say so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from bot.domain import (
    Attendance,
    Community,
    Feedback,
    Goal,
    GoalState,
    IntroNote,
    IntroRequest,
    IntroState,
    Member,
    MentorProfile,
    Mentorship,
    MentorshipState,
    NewNudge,
    Nudge,
    NudgeOutcome,
    ProgressEntry,
    SentNudge,
    Session,
    SessionSeries,
    SessionState,
    WaitlistEntry,
    Worker,
)

log = logging.getLogger(__name__)


class CommunityRepository(Protocol):
    async def get(self, platform: str, external_id: str) -> Community | None: ...

    async def by_id(self, community_id: int) -> Community | None: ...

    async def create(
        self, platform: str, external_id: str, name: str, now: datetime
    ) -> Community: ...

    async def settings(self, community_id: int) -> dict[str, Any]:
        """The organizers' overrides of the community defaults."""
        ...

    async def save_settings(self, community_id: int, values: Mapping[str, Any]) -> None: ...

    async def stash_command(self, community_id: int, command: str, now: datetime) -> int:
        """Keep a button's command that is too long for a platform id; return its number."""
        ...

    async def stashed_command(self, community_id: int, stash_id: int) -> str | None: ...


class MemberRepository(Protocol):
    async def by_platform_id(self, community_id: int, platform_user_id: str) -> Member | None: ...

    async def get(self, community_id: int, member_id: int) -> Member | None: ...

    async def by_ids(self, community_id: int, ids: Iterable[int]) -> dict[int, Member]: ...

    async def named(self, community_id: int, name: str) -> list[Member]:
        """Members whose display name equals ``name``, ignoring case."""
        ...

    async def search(self, community_id: int, prefix: str, limit: int) -> list[Member]:
        """Members whose display name starts with (or contains) ``prefix`` (autocomplete)."""
        ...

    async def add(
        self,
        community_id: int,
        platform_user_id: str,
        display_name: str,
        timezone: str | None,
        now: datetime,
        *,
        timezone_source: str | None = None,
    ) -> Member: ...

    async def update(self, member_id: int, **values: Any) -> None:
        """Change columns of a member: display_name, timezone, timezone_source, quiet_hours,
        followups_paused_until, followups_off, timezone_asked_at."""
        ...

    async def lock(self, community_id: int, member_ids: Iterable[int]) -> None:
        """Serialize writers about these members (bookings) until the transaction ends."""
        ...


class ProfileRepository(Protocol):
    async def get(self, community_id: int, member_id: int) -> MentorProfile | None: ...

    async def all(self, community_id: int) -> list[MentorProfile]: ...

    async def save(self, profile: MentorProfile) -> None:
        """Insert or replace a mentor profile with its topics and windows."""
        ...

    async def delete(self, community_id: int, member_id: int) -> bool: ...

    async def topics(self, community_id: int) -> list[str]:
        """Every topic some mentor of the community lists (autocomplete)."""
        ...

    async def with_topics(self, community_id: int, topics: Sequence[str]) -> list[MentorProfile]:
        """The profiles listing any of ``topics`` (as :meth:`topics` spells them)."""
        ...


class IntroRepository(Protocol):
    async def add(
        self, community_id: int, member_id: int, mentor_id: int, topic: str, context: str,
        now: datetime,
    ) -> IntroRequest: ...

    async def get(self, community_id: int, intro_id: int) -> IntroRequest | None: ...

    async def set_state(
        self, intro_id: int, expected: IntroState, new: IntroState, now: datetime, *,
        answer_note: str | None = None, answered: bool = False,
    ) -> bool:
        """Compare-and-set: change the state only if it is still ``expected``."""
        ...

    async def set_space(self, intro_id: int, space_ref: str) -> None: ...

    async def of(
        self, community_id: int, *, member_id: int | None = None, mentor_id: int | None = None,
        states: Sequence[IntroState] | None = None, limit: int = 50,
    ) -> list[IntroRequest]:
        """Requests, newest first."""
        ...

    async def counts_by_mentor(
        self, community_id: int, states: Sequence[IntroState], since: datetime | None = None
    ) -> dict[int, int]: ...

    async def add_note(
        self, community_id: int, intro_id: int, author_id: int, text: str, now: datetime
    ) -> IntroNote: ...

    async def notes(self, intro_id: int) -> list[IntroNote]: ...


class WaitlistRepository(Protocol):
    async def add(
        self, community_id: int, member_id: int, topic: str, now: datetime, *,
        intro_id: int | None = None,
    ) -> WaitlistEntry: ...

    async def open(self, community_id: int, member_id: int | None = None) -> list[WaitlistEntry]:
        """Entries not yet told, oldest first (first come, first told)."""
        ...

    async def close(self, entry_id: int, now: datetime, reason: str = "told") -> bool:
        """Compare-and-set: close the entry (told, found someone, stopped waiting), only if
        it was still open."""
        ...


class SessionRepository(Protocol):
    async def add(
        self, *, community_id: int, intro_id: int, mentor_id: int, member_id: int, topic: str,
        agenda: str | None, start_at: datetime | None, duration_minutes: int,
        state: SessionState, proposed_by: int, now: datetime, series_id: int | None = None,
        original_start_at: datetime | None = None,
    ) -> Session: ...

    async def get(self, community_id: int, session_id: int) -> Session | None: ...

    async def update(
        self, session: Session, now: datetime, *, bump_sequence: bool = False, **values: Any
    ) -> Session | None:
        """Compare-and-set on state and sequence; None if someone changed it meanwhile."""
        ...

    async def set_outcome(
        self, session_id: int, expected: SessionState, new: SessionState, now: datetime
    ) -> bool:
        """HELD or MISSED after the session, only if it is still ``expected``."""
        ...

    async def of(
        self, community_id: int, person_id: int, *,
        states: Sequence[SessionState] | None = None, limit: int = 100,
    ) -> list[Session]:
        """Sessions where ``person_id`` is mentor or mentee."""
        ...

    async def busy(
        self, community_id: int, person_ids: Iterable[int], start: datetime, end: datetime
    ) -> list[Session]:
        """Sessions holding a time of any of these people that may overlap [start, end)."""
        ...

    async def of_mentor_between(
        self, community_id: int, mentor_id: int, start: datetime, end: datetime
    ) -> list[Session]:
        """The mentor's sessions that count against the monthly cap, starting in [start, end)."""
        ...

    async def starts_by_mentor(
        self, community_id: int, start: datetime, end: datetime
    ) -> list[tuple[int, datetime]]:
        """(mentor id, start) of each session counting against the cap, starting in
        [start, end)."""
        ...

    async def counts_by_mentor(
        self, community_id: int, since: datetime, until: datetime | None = None
    ) -> dict[int, int]: ...

    async def month_stats(
        self, community_id: int, since: datetime, until: datetime
    ) -> dict[str, int]: ...

    async def first_starts(self, community_id: int) -> dict[int, datetime]:
        """Per intro, when its first confirmed or held session started."""
        ...

    async def add_slots(self, session_id: int, starts: Sequence[datetime]) -> None: ...

    async def slots(self, session_id: int) -> list[datetime]: ...

    async def add_series(
        self, *, community_id: int, intro_id: int, frequency: str, timezone: str,
        until_at: datetime | None, count: int | None, sequence: int, now: datetime,
    ) -> SessionSeries: ...

    async def series(self, community_id: int, series_id: int) -> SessionSeries | None: ...

    async def update_series(
        self, series: SessionSeries, *, ended_at: datetime | None = None
    ) -> SessionSeries | None:
        """Bump the series' sequence (and end it), only if nobody changed it meanwhile."""
        ...

    async def series_sessions(self, series_id: int) -> list[Session]: ...


class FollowupRepository(Protocol):
    async def record_attendance(
        self, community_id: int, session_id: int, member_id: int, sequence: int, answer: str,
        now: datetime,
    ) -> None: ...

    async def attendance(
        self, session_id: int, sequence: int | None = None
    ) -> list[Attendance]: ...

    async def add_feedback(
        self, community_id: int, session_id: int, author_id: int, kind: str, now: datetime, *,
        rating: int | None = None, text: str | None = None, public: bool = False,
    ) -> Feedback: ...

    async def feedback(
        self, session_id: int, *, author_id: int | None = None, kind: str | None = None
    ) -> list[Feedback]: ...

    async def feedback_by_id(self, community_id: int, feedback_id: int) -> Feedback | None: ...

    async def recent_feedback(
        self, community_id: int, kind: str, since: datetime, limit: int = 20
    ) -> list[Feedback]: ...

    async def feedback_counts(self, community_id: int, since: datetime) -> dict[str, int]: ...

    async def average_rating(self, community_id: int, since: datetime) -> float | None: ...

    async def recent_attendance(
        self, community_id: int, answer: str, since: datetime, limit: int = 20
    ) -> list[Attendance]: ...


class NudgeRepository(Protocol):
    async def add(self, nudges: Sequence[NewNudge], now: datetime) -> None:
        """Write new pending nudges (the platform is taken from each one's community)."""
        ...

    async def skip_pending(
        self, reason: str, *, intro_id: int | None = None, session_id: int | None = None,
        kinds: Sequence[str] | None = None,
    ) -> int:
        """Mark pending nudges about an intro or a session stale, with the reason."""
        ...

    async def claim_due(
        self, now: datetime, limit: int, token: str, *, worker: str, platform: str | None
    ) -> list[Nudge]:
        """Atomically move up to ``limit`` due pending nudges (of ``platform``, if given) to
        ``sending`` under ``token``, owned by ``worker``. In due order."""
        ...

    async def reclaim(
        self, *, gone_workers: Sequence[str], claimed_before: datetime, after_id: int,
        limit: int, token: str, now: datetime, worker: str, platform: str | None,
    ) -> list[Nudge]:
        """Take over nudges left in ``sending`` by a worker that is gone, or claimed before the
        cut-off: atomically, in id order after ``after_id``."""
        ...

    async def finish(self, outcomes: Sequence[NudgeOutcome]) -> None:
        """Record outcomes; only rows still claimed under the same token change."""
        ...

    async def mark_sent(self, sent: Sequence[SentNudge], now: datetime) -> None: ...

    async def next_due(self, platform: str | None = None) -> datetime | None: ...

    async def list(
        self, community_id: int, *, states: Sequence[str] | None = None,
        intro_id: int | None = None, session_id: int | None = None, limit: int = 200,
        offset: int = 0, newest_first: bool = False,
    ) -> list[Nudge]: ...

    async def count(self, community_id: int, *, states: Sequence[str] | None = None) -> int: ...

    async def state_counts(self, community_id: int) -> dict[str, int]: ...

    async def dms_sent(
        self, community_id: int, since: datetime, *, recipient_id: int | None = None
    ) -> int:
        """Direct messages delivered since ``since`` (to one member, or in the community)."""
        ...


    async def recently_unreachable(
        self, community_id: int, recipient_id: int, since: datetime
    ) -> bool:
        """Whether a private message to this member was refused since ``since`` (mentioned
        elsewhere instead, or given up as unreachable)."""
        ...


class WorkerRepository(Protocol):
    """Running processes (instances) and their heartbeats: whose claims are still owned."""

    async def register(self, worker: Worker) -> None: ...

    async def beat(self, worker_id: str, now: datetime) -> bool:
        """Record a heartbeat; False if the row is gone (another process declared us dead)."""
        ...

    async def remove(self, worker_id: str) -> None: ...

    async def all(self) -> list[Worker]: ...


class MentorshipRepository(Protocol):
    async def add(
        self, *, community_id: int, intro_id: int, mentor_id: int, mentee_id: int, topic: str,
        now: datetime,
    ) -> Mentorship: ...

    async def get(self, community_id: int, mentorship_id: int) -> Mentorship | None: ...

    async def by_intro(self, community_id: int, intro_id: int) -> Mentorship | None: ...

    async def of(
        self, community_id: int, *, member_id: int | None = None,
        states: Sequence[MentorshipState] | None = None,
    ) -> list[Mentorship]:
        """Mentorships of the community (or of one member, on either side), newest first."""
        ...

    async def update(self, mentorship_id: int, now: datetime, **values: Any) -> Mentorship:
        """Change details: state, ended_at, end_reason, paused_until, rhythm, rhythm_paused,
        session_minutes, meeting, feedback_style, stalled_at."""
        ...

    async def counts_by_mentor(
        self, community_id: int, states: Sequence[MentorshipState]
    ) -> dict[int, int]: ...

    async def state_counts(self, community_id: int) -> dict[str, int]: ...

    async def stats(self, community_id: int, since: datetime) -> dict[str, int]:
        """with_goals, goals_done (since ``since``), stalled: counts, never text."""
        ...

    async def add_goal(self, mentorship: Mentorship, text: str, now: datetime) -> Goal: ...

    async def goals(self, mentorship_id: int) -> list[Goal]: ...

    async def goal(self, community_id: int, goal_id: int) -> Goal | None: ...

    async def update_goal(
        self, goal_id: int, now: datetime, *, state: GoalState | None = None,
        text: str | None = None,
    ) -> None: ...

    async def add_entry(
        self, mentorship: Mentorship, author_id: int, kind: str, text: str, now: datetime, *,
        goal_id: int | None = None, status: str | None = None, session_id: int | None = None,
        answers_id: int | None = None,
    ) -> ProgressEntry: ...

    async def entries(
        self, mentorship_id: int, *, kinds: Sequence[str] | None = None
    ) -> list[ProgressEntry]:
        """The record, in time order."""
        ...

    async def entry(self, community_id: int, entry_id: int) -> ProgressEntry | None: ...


class EventRepository(Protocol):
    async def first_seen(self, platform: str, event_id: str, now: datetime) -> bool:
        """Record a platform event; False if it was recorded before (by any process)."""
        ...

    async def forget_before(self, cutoff: datetime) -> int: ...


class InstallationRepository(Protocol):
    async def identity(self) -> str:
        """A random identity made once per database (calendar invite UIDs)."""
        ...


class Tx(Protocol):
    """One database transaction: a change and the nudges it causes commit together."""

    @property
    def communities(self) -> CommunityRepository: ...

    @property
    def members(self) -> MemberRepository: ...

    @property
    def profiles(self) -> ProfileRepository: ...

    @property
    def intros(self) -> IntroRepository: ...

    @property
    def waitlist(self) -> WaitlistRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def followups(self) -> FollowupRepository: ...

    @property
    def nudges(self) -> NudgeRepository: ...

    @property
    def workers(self) -> WorkerRepository: ...

    @property
    def mentorships(self) -> MentorshipRepository: ...

    @property
    def events(self) -> EventRepository: ...

    @property
    def installation(self) -> InstallationRepository: ...


class Store(Protocol):
    """The database, as the core sees it: a source of transactions."""

    one_writer: bool
    """True when write transactions exclude each other (SQLite's one write lock): long ones
    then keep every command waiting, so the nudge engine keeps its own short."""

    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """A read-write transaction (on SQLite it takes the write lock at once)."""
        ...

    def reading(self) -> AbstractAsyncContextManager[Tx]:
        """A read-only transaction: views that must change nothing, and never wait for the
        write lock."""
        ...

    async def close(self) -> None: ...
