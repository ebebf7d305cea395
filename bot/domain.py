"""The things mentorbot knows about, as immutable values.

Storage turns rows into these and back; flows decide what may change. Every value belongs to one
community (a Slack workspace or a Discord server), so no rule ever mixes two of them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time
from enum import Enum

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
    id: int
    community_id: int
    member_id: int
    topic: str
    created_at: datetime
    notified_at: datetime | None


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
        from datetime import timedelta

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
