"""Commands about sessions, as typed immutable values (see ``bot.commands`` for the others)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.commands import Command, MemberHandle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BookSession(Command):
    """Book a time with someone you were introduced to; without ``when`` a form opens."""

    other: MemberHandle
    when: str | None = None
    length: str | None = None
    topic: str | None = None
    agenda: str | None = None


@dataclass(frozen=True)
class ProposeSlots(Command):
    """Offer the mentor up to three times; they pick one."""

    mentor: MemberHandle
    slots: str
    length: str | None = None
    topic: str | None = None
    agenda: str | None = None


@dataclass(frozen=True)
class ConfirmSession(Command):
    session_id: int


@dataclass(frozen=True)
class PickSlot(Command):
    session_id: int
    slot: int


@dataclass(frozen=True)
class CounterSession(Command):
    """Answer a proposed time with another one; the other side confirms."""

    session_id: int
    when: str | None = None


@dataclass(frozen=True)
class RescheduleSession(Command):
    session_id: int
    when: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class CancelSession(Command):
    session_id: int
    reason: str | None = None


@dataclass(frozen=True)
class SetAgenda(Command):
    session_id: int
    text: str | None = None


@dataclass(frozen=True)
class RepeatSession(Command):
    session_id: int
    frequency: str
    until: str | None = None
    times: str | None = None


@dataclass(frozen=True)
class SkipOccurrence(Command):
    session_id: int
    reason: str | None = None


@dataclass(frozen=True)
class EndSeries(Command):
    session_id: int


@dataclass(frozen=True)
class ListSessions(Command):
    pass
