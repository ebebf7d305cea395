"""The things mentorbot knows about, as immutable values.

Storage turns rows into these and back; flows decide what may change. Every value belongs to one
community (a Slack workspace or a Discord server), so no rule ever mixes two of them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import Enum
from typing import Any

from bot.messages import MemberAddress

log = logging.getLogger(__name__)

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Community:
    id: int
    platform: str
    external_id: str
    name: str


@dataclass(frozen=True)
class Member:
    id: int
    community_id: int
    platform_user_id: str
    display_name: str
    timezone: str | None
    """The member's IANA zone; None until the platform tells us or the member sets it."""
    quiet_hours: str | None = None
    """``HH:MM-HH:MM`` in the member's zone when follow-ups wait; None: community default."""
    followups_paused_until: datetime | None = None
    followups_off: bool = False
    timezone_asked_at: datetime | None = None
    """When the bot asked for the zone (once); None if it never had to."""
    timezone_source: str | None = None
    """``platform`` (followed when the platform reports another zone) or ``manual`` (the
    member set it with ``tz``: never overridden)."""

    def address(self, default_timezone: str) -> MemberAddress:
        return MemberAddress(self.platform_user_id, self.display_name, self.zone(default_timezone))

    def zone(self, default_timezone: str) -> str:
        return self.timezone or default_timezone


@dataclass(frozen=True, order=True)
class Window:
    """A weekly availability window in the mentor's own zone, e.g. Tue 18:00-20:00."""

    weekday: int
    start: time
    end: time

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class MentorProfile:
    member_id: int
    community_id: int
    bio: str
    topics: tuple[str, ...]
    session_lengths: tuple[int, ...]
    windows: tuple[Window, ...]
    availability_timezone: str
    max_mentees: int
    max_sessions_per_month: int
    paused_until: datetime | None
    created_at: datetime
    updated_at: datetime

    def is_paused(self, now: datetime) -> bool:
        return self.paused_until is not None and self.paused_until > now


class IntroState(Enum):
    """Where an intro request stands. Deadlines (nudge, release) act on PENDING/INFO_REQUESTED."""

    PENDING = "pending"
    INFO_REQUESTED = "info_requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    RELEASED = "released"

    @property
    def is_open(self) -> bool:
        return self in (IntroState.PENDING, IntroState.INFO_REQUESTED)

    @property
    def label(self) -> str:
        return {
            IntroState.PENDING: "waiting for the mentor",
            IntroState.INFO_REQUESTED: "mentor asked for more info",
            IntroState.ACCEPTED: "accepted",
            IntroState.DECLINED: "declined",
            IntroState.WITHDRAWN: "withdrawn",
            IntroState.EXPIRED: "expired",
            IntroState.RELEASED: "released to another mentor",
        }[self]


#: The intro state machine: which state may follow which.
INTRO_TRANSITIONS: dict[IntroState, frozenset[IntroState]] = {
    IntroState.PENDING: frozenset(
        {
            IntroState.ACCEPTED,
            IntroState.DECLINED,
            IntroState.INFO_REQUESTED,
            IntroState.WITHDRAWN,
            IntroState.EXPIRED,
            IntroState.RELEASED,
        }
    ),
    IntroState.INFO_REQUESTED: frozenset(
        {
            IntroState.PENDING,
            IntroState.ACCEPTED,
            IntroState.DECLINED,
            IntroState.WITHDRAWN,
            IntroState.EXPIRED,
            IntroState.RELEASED,
        }
    ),
    IntroState.ACCEPTED: frozenset(),
    IntroState.DECLINED: frozenset(),
    IntroState.WITHDRAWN: frozenset(),
    IntroState.EXPIRED: frozenset(),
    IntroState.RELEASED: frozenset(),
}


def can_transition(current: IntroState, target: IntroState) -> bool:
    return target in INTRO_TRANSITIONS[current]


@dataclass(frozen=True)
class IntroRequest:
    id: int
    community_id: int
    member_id: int
    mentor_id: int
    topic: str
    context: str
    state: IntroState
    created_at: datetime
    updated_at: datetime
    answered_at: datetime | None = None
    answer_note: str | None = None
    """Decline reason or the mentor's question, as the mentor wrote it."""
    space_ref: str | None = None
    """The platform's private space where mentor and member were introduced."""


@dataclass(frozen=True)
class IntroNote:
    """A message exchanged about a request (mentor's question, member's answer)."""

    id: int
    intro_id: int
    author_id: int
    text: str
    created_at: datetime


@dataclass(frozen=True)
class WaitlistEntry:
    """A member waiting to hear that a mentor for ``topic`` can take them."""

    id: int
    community_id: int
    member_id: int
    topic: str
    created_at: datetime
    notified_at: datetime | None
    """When the entry closed (told, found someone, or stopped waiting); None while open."""
    intro_id: int | None = None
    """The member's earlier request (released or declined), whose context is offered again."""
    closed_reason: str | None = None


class SessionState(Enum):
    """Where a mentoring session stands."""

    PROPOSED = "proposed"
    """Waiting for the other side to confirm a time (or pick one of the proposed slots)."""
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    HELD = "held"
    """Someone answered "Met"."""
    MISSED = "missed"
    """Someone answered "Didn't happen"."""


@dataclass(frozen=True)
class Session:
    id: int
    community_id: int
    intro_id: int
    mentor_id: int
    member_id: int
    topic: str
    agenda: str | None
    start_at: datetime | None
    """None while the mentor still has to pick one of the proposed slots."""
    duration_minutes: int
    state: SessionState
    proposed_by: int
    series_id: int | None
    sequence: int
    """iCalendar SEQUENCE: bumped on every reschedule or cancellation."""
    created_at: datetime
    updated_at: datetime
    cancel_reason: str | None = None
    original_start_at: datetime | None = None
    """For an occurrence of a series: where the series put it (iCalendar RECURRENCE-ID)."""

    @property
    def end_at(self) -> datetime | None:
        return None if self.start_at is None else self.start_at + timedelta(
            minutes=self.duration_minutes
        )


@dataclass(frozen=True)
class SessionSeries:
    id: int
    community_id: int
    intro_id: int
    frequency: str
    """weekly, biweekly or monthly."""
    until_at: datetime | None
    count: int | None
    created_at: datetime
    ended_at: datetime | None
    timezone: str = "UTC"
    """The zone the recurrence is computed in (the mentor's), so 18:00 stays 18:00 across DST."""
    sequence: int = 0
    """iCalendar SEQUENCE of the series event: bumped on every skip or end."""


@dataclass(frozen=True)
class Attendance:
    """One person's answer to "Did it happen?" for one time of a session."""

    session_id: int
    member_id: int
    sequence: int
    answer: str
    """``met``, ``missed`` or ``moved``."""
    created_at: datetime


@dataclass(frozen=True)
class Feedback:
    """A thank-you note, a rating or a follow-up reply about a session."""

    id: int
    community_id: int
    session_id: int
    author_id: int
    kind: str
    """``thanks``, ``rating`` or ``followup``."""
    rating: int | None
    text: str | None
    public: bool
    created_at: datetime


# -- nudges: every message the bot sends on its own, as rows of the nudge table -----------------


@dataclass(frozen=True)
class NewNudge:
    """A message or reminder to write, due at ``due_at``; rendered when it is sent."""

    community_id: int
    kind: str
    due_at: datetime
    recipient_id: int | None = None
    channel: str | None = None
    intro_id: int | None = None
    session_id: int | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    skipped: str | None = None
    """Recorded as skipped from the start, with this reason (a reminder that would fall
    before the moment it was planned): organizers can see why it never came."""


@dataclass(frozen=True)
class Nudge:
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
    claimed_by: str | None = None


@dataclass(frozen=True)
class NudgeOutcome:
    """What became of a claimed nudge; recorded only if it is still claimed under ``token``."""

    id: int
    token: str
    state: str
    """``pending`` (to try again at ``due_at``), ``sent``, ``stale`` or ``failed``."""
    outcome: str | None = None
    sent_at: datetime | None = None
    due_at: datetime | None = None
    attempts: int | None = None
    delivery_ref: str | None = None
    delivered_via: str | None = None


@dataclass(frozen=True)
class SentNudge:
    """A nudge the platform accepted: its reference there, and how it went (fallbacks)."""

    id: int
    token: str
    delivery_ref: str | None
    note: str | None
    delivered_via: str
    """``dm``, ``channel`` or ``space``: DM budgets count the ``dm`` ones."""


@dataclass(frozen=True)
class Worker:
    """A running bot process: claims carry its id; its heartbeat says it is alive."""

    id: str
    platform: str | None
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime


# -- mentorships: the relationship after an accepted intro ---------------------------------------


class MentorshipState(Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


RHYTHMS = {"week": 7, "two weeks": 14, "month": 30}
"""How often a mentorship means to meet, and the days between sessions that means."""


@dataclass(frozen=True)
class Mentorship:
    """A mentor and a mentee working together, from an accepted intro until either ends it.

    Sessions, goals, check-ins and notes hang off it. ``rhythm`` is how often they mean to
    meet (a key of :data:`RHYTHMS`); ``meeting`` how (a video link, in person).
    """

    id: int
    community_id: int
    intro_id: int
    mentor_id: int
    mentee_id: int
    topic: str
    state: MentorshipState
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None
    paused_until: datetime | None = None
    rhythm: str | None = None
    rhythm_paused: bool = False
    session_minutes: int | None = None
    meeting: str | None = None
    feedback_style: str | None = None
    stalled_at: datetime | None = None
    """When nobody answered "still going?" in time: organizers see it as stalled."""

    def involves(self, member_id: int) -> bool:
        return member_id in (self.mentor_id, self.mentee_id)

    def other(self, member_id: int) -> int:
        return self.mentee_id if member_id == self.mentor_id else self.mentor_id

    @property
    def is_open(self) -> bool:
        return self.state is not MentorshipState.ENDED


class GoalState(Enum):
    ACTIVE = "active"
    DONE = "done"
    CLOSED = "closed"


@dataclass(frozen=True)
class Goal:
    """One goal the mentee set for the mentorship: what, by when, how they'll know."""

    id: int
    mentorship_id: int
    community_id: int
    text: str
    state: GoalState
    created_at: datetime
    updated_at: datetime
    done_at: datetime | None = None


@dataclass(frozen=True)
class ProgressEntry:
    """One line of a mentorship's record of growth, written by the mentee or the mentor.

    ``kind``: ``checkin`` (a goal's status and what changed), ``note`` (the mentor's note),
    ``next_step``, ``feedback_wish`` (what to get feedback on next time), ``feedback_ask`` and
    ``feedback_answer``, ``goal`` (a goal set, changed, done or closed), ``offer`` (giving
    back), ``reflection`` (closing, private to its author), ``agreement`` (rhythm, feedback
    style). Only the two of them ever see the text; organizers see counts.
    """

    id: int
    mentorship_id: int
    community_id: int
    author_id: int
    kind: str
    text: str
    created_at: datetime
    goal_id: int | None = None
    status: str | None = None
    session_id: int | None = None
    answers_id: int | None = None
    """For an answer: the entry it answers (a feedback request)."""
