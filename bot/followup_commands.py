"""Commands about what happens after a session, as typed immutable values."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

from bot.commands import Command

log = logging.getLogger(__name__)


class AttendanceAnswer(Enum):
    """The three answers to "Did it happen?"."""

    MET = "met"
    MISSED = "missed"
    MOVED = "moved"

    @property
    def label(self) -> str:
        return {
            AttendanceAnswer.MET: "Met",
            AttendanceAnswer.MISSED: "Didn't happen",
            AttendanceAnswer.MOVED: "We moved it",
        }[self]


@dataclass(frozen=True)
class AnswerAttendance(Command):
    """``met 12`` / ``missed 12`` / ``moved 12``: one person's answer to "Did it happen?"."""

    session_id: int
    answer: AttendanceAnswer


@dataclass(frozen=True)
class ThankMentor(Command):
    """The mentee's thank-you note, relayed privately; shared publicly only if ``public``."""

    session_id: int
    note: str | None = None
    public: bool = False


@dataclass(frozen=True)
class RateSession(Command):
    """A private 1-5 rating with an optional note; only organizers see it."""

    session_id: int
    rating: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class FollowupReply(Command):
    """A reply to a follow-up question, relayed to the other person of the session."""

    session_id: int
    text: str | None = None


class FollowupSwitch(Enum):
    OFF = "off"
    ON = "on"
    SNOOZE = "snooze"


@dataclass(frozen=True)
class ChangeFollowups(Command):
    """``followups off|on|snooze <duration>``: the member's own follow-up preference."""

    switch: FollowupSwitch
    duration: str | None = None


@dataclass(frozen=True)
class ShowFeedback(Command):
    """Organizers: recent ratings (with notes) and sessions reported as not happened."""
