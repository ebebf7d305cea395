"""Commands: what a person asked for, as typed immutable values.

Adapters and the text parser build these; flows carry them out. A command says *what*, never
*how* a platform delivered it. Arguments that name people are :data:`MemberHandle` strings
(a display name, ``@name``, or ``<member:PLATFORM_ID>`` that adapters produce from a platform's
own mention entity), resolved by the core against the community's members, never parsed
into mention markup.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum

log = logging.getLogger(__name__)

MemberHandle = str


@dataclass(frozen=True)
class Caller:
    """Who is speaking, where, as the adapter knows it (facts, not rules)."""

    platform: str
    community_id: str
    community_name: str
    user_id: str
    display_name: str
    timezone: str | None = None
    is_platform_admin: bool = False
    groups: frozenset[str] = field(default_factory=frozenset)
    channel: str | None = None


class Command:
    """Marker base class of every command."""


@dataclass(frozen=True)
class Help(Command):
    topic: str = ""


@dataclass(frozen=True)
class SetTimezone(Command):
    zone: str


@dataclass(frozen=True)
class SetQuietHours(Command):
    hours: str


@dataclass(frozen=True)
class ShowProfile(Command):
    of: MemberHandle = ""


@dataclass(frozen=True)
class EditMentorProfile(Command):
    """Create or change a mentor profile; only the given fields change."""

    topics: str | None = None
    bio: str | None = None
    lengths: str | None = None
    availability: str | None = None
    mentees: str | None = None
    sessions: str | None = None


@dataclass(frozen=True)
class PauseMentoring(Command):
    until: str


@dataclass(frozen=True)
class ResumeMentoring(Command):
    pass


@dataclass(frozen=True)
class DeleteMentorProfile(Command):
    confirmed: bool = False


@dataclass(frozen=True)
class FindMentors(Command):
    topic: str


@dataclass(frozen=True)
class WaitForMentor(Command):
    """"Tell me when one frees up"."""

    topic: str


@dataclass(frozen=True)
class RequestIntro(Command):
    mentor: MemberHandle
    topic: str | None = None
    context: str | None = None


class IntroAnswer(Enum):
    ACCEPT = "accept"
    DECLINE = "decline"
    ASK_INFO = "ask"
    DECLINE_AND_PAUSE = "decline-pause"


@dataclass(frozen=True)
class AnswerIntro(Command):
    intro_id: int
    answer: IntroAnswer
    note: str | None = None
    """Decline reason, the question to ask, or (decline-pause) until when."""


@dataclass(frozen=True)
class AddIntroInfo(Command):
    """The member answers the mentor's request for more info."""

    intro_id: int
    text: str | None = None


@dataclass(frozen=True)
class WithdrawIntro(Command):
    intro_id: int


@dataclass(frozen=True)
class ShowMine(Command):
    pass


@dataclass(frozen=True)
class ShowSettings(Command):
    pass


@dataclass(frozen=True)
class ChangeSetting(Command):
    key: str
    value: str


@dataclass(frozen=True)
class ShowReport(Command):
    """Organizers: is mentorship happening? Requests, answers, nudges."""


NUDGE_STATES = ("pending", "sending", "sent", "stale", "failed")


@dataclass(frozen=True)
class ShowNudges(Command):
    """Organizers: the latest nudges (of one state, or skipped and failed ones) and why."""

    state: str | None = None


@dataclass(frozen=True)
class OpenProfileForm(Command):
    """Show the mentor profile form, filled with the current values."""
