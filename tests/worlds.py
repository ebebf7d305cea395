"""A small world for end-to-end flow tests: the real core, real SQLite, the real nudge engine.

Shared by the session and ladder tests. The only stand-in is the far side of the port: a
Messenger that records what the bot asked it to send, and when (by the test's clock).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select

from bot.bootstrap import build_core, build_engine, build_registry
from bot.caller import Caller
from bot.clock import ManualClock
from bot.config import CommunityDefaults, NudgeSettings
from bot.core import Mentorbot
from bot.messages import MemberAddress, Message, Reply
from bot.nudges.engine import NudgeEngine
from bot.ports import ChannelPost, Delivered, Destination, DirectMessage
from bot.repositories import Store
from storage import schema as t

log = logging.getLogger(__name__)


@dataclass
class Sent:
    at: datetime
    destination: Destination
    message: Message
    key: str

    @property
    def text(self) -> str:
        return self.message.plain_text()

    @property
    def commands(self) -> list[str]:
        return [c.command for c in self.message.choices]


@dataclass
class RecordingMessenger:
    """A Messenger that keeps what it was asked to send, and when."""

    clock: ManualClock
    platform: str = "console"
    sent: list[Sent] = field(default_factory=list)

    async def send(self, community_external_id: str, destination: Destination,
                   message: Message, idempotency_key: str) -> Delivered:
        self.sent.append(Sent(self.clock.now(), destination, message, idempotency_key))
        return Delivered(f"m{len(self.sent)}")

    async def find_sent(self, community_external_id: str, destination: Destination,
                        idempotency_key: str, *, since: datetime | None = None,
                        ) -> Delivered | None:
        return None

    async def open_space(self, community_external_id: str, key: str,
                         members: Sequence[MemberAddress], title: str,
                         parent_channel: str | None) -> str:
        return "space-1"

    def to(self, display_name: str) -> list[Sent]:
        return [s for s in self.sent
                if isinstance(s.destination, DirectMessage)
                and s.destination.member.display_name == display_name]

    def messages_to(self, display_name: str) -> list[Message]:
        return [s.message for s in self.to(display_name)]

    def in_channel(self, channel: str) -> list[Sent]:
        return [s for s in self.sent
                if isinstance(s.destination, ChannelPost) and s.destination.channel == channel]


@dataclass
class World:
    core: Mentorbot
    store: Store
    clock: ManualClock
    messenger: RecordingMessenger
    engine: NudgeEngine
    watched: tuple[Table, ...] = (t.sessions, t.session_series, t.session_slots,
                                  t.session_attendance, t.session_feedback, t.nudges, t.members)
    """The tables :meth:`snapshot` compares: "nothing changed" means none of these did."""

    @classmethod
    def start(cls, store: Store, clock: ManualClock) -> World:
        """The real core and engine over ``store``, sending to a fresh recording messenger."""
        messenger = RecordingMessenger(clock)
        defaults = CommunityDefaults()
        registry = build_registry()
        core = build_core(store, clock, defaults, registry)
        engine = build_engine(store, messenger, clock, NudgeSettings(), defaults, registry)
        return cls(core, store, clock, messenger, engine)

    async def introduce(self, mentor: Caller, profile: str, mentees: Sequence[Caller]) -> None:
        """``mentor`` sets ``profile`` and accepts an intro from each mentee, in order; what
        that sent is delivered and forgotten, so tests start from a quiet messenger."""
        assert "mentor" in await self.say(mentor, profile)
        for person in mentees:
            out = await self.say(person, f"request {mentor.display_name} topic: python "
                                         "context: I am learning python and got stuck on "
                                         "asyncio, tried the docs")
            assert "sent to" in out, out
        for number in range(1, len(mentees) + 1):
            assert "Accepted" in await self.say(mentor, f"accept {number}")
        await self.deliver()
        self.messenger.sent.clear()

    async def say(self, who: Caller, line: str) -> str:
        return (await self.core.handle_text(who, line)).plain_text()

    async def reply(self, who: Caller, line: str) -> Reply:
        return await self.core.handle_text(who, line)

    async def deliver(self) -> None:
        await self.engine.run_due()

    async def at(self, when: datetime) -> None:
        """Move the clock to ``when``, delivering everything due on the way, in order."""
        while True:
            async with self.store.reading() as tx:
                due = await tx.nudges.next_due()
            if due is None or due > when:
                break
            if due > self.clock.now():
                self.clock.set(due)
            await self.deliver()
        if when > self.clock.now():
            self.clock.set(when)
        await self.deliver()

    async def dms(self, display_name: str, *, mentorship: bool = False) -> list[Sent]:
        """Private messages to a person, without the mentorship's own (goals, rhythm,
        check-ins: ``tests/test_mentorships.py`` follows those) unless ``mentorship``."""
        return [s for s in await self.sent(mentorship=mentorship)
                if isinstance(s.destination, DirectMessage)
                and s.destination.member.display_name == display_name]

    async def sent(self, *, mentorship: bool = False) -> list[Sent]:
        """Everything sent, without the mentorship's own messages unless ``mentorship``."""
        kinds = {f"mentorbot-nudge-{n['id']}": n["kind"] for n in await self.rows(t.nudges)}
        return [s for s in self.messenger.sent
                if mentorship or not kinds.get(s.key, "").startswith("mentorship.")]

    async def left_over(self) -> list[dict[str, Any]]:
        """Nudges still to send about sessions and requests (a mentorship's long-running
        "still going?" checks aside)."""
        return [n for n in await self.nudges() if n["state"] in ("pending", "sending")
                and not n["kind"].startswith("mentorship.")]

    async def rows(self, table: Table) -> list[dict[str, Any]]:
        async with self.store.reading() as tx:
            result = await tx.conn.execute(select(table).order_by(table.c.id))  # type: ignore[attr-defined]
            return [dict(r._mapping) for r in result]

    async def snapshot(self) -> list[list[dict[str, Any]]]:
        return [await self.rows(table) for table in self.watched]

    async def session(self, session_id: int) -> dict[str, Any]:
        return next(r for r in await self.rows(t.sessions) if r["id"] == session_id)

    async def nudges(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [n for n in await self.rows(t.nudges) if kind is None or n["kind"] == kind]
