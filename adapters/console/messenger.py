"""The console's :class:`~bot.ports.Messenger`: deliveries are printed and remembered.

It implements the port completely (send, find_sent by idempotency key, open_space), so the nudge
engine's exactly-once recovery runs against it as against Slack or Discord. Tests can make it
refuse DMs to a member (:meth:`ConsoleMessenger.refuse_dms`), as a platform does when DMs are
closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.messages import MemberAddress, Message
from bot.ports import (
    ChannelPost,
    Delivered,
    Destination,
    DirectMessage,
    RecipientUnreachable,
    SpacePost,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SentMessage:
    """One delivered message, as the 'platform' keeps it."""

    ref: str
    community: str
    destination: Destination
    message: Message
    idempotency_key: str


@dataclass
class Space:
    ref: str
    members: tuple[MemberAddress, ...]
    title: str


@dataclass
class ConsoleMessenger:
    """Records every delivery and hands it to ``on_delivery`` (the session prints it)."""

    platform: str = "console"
    sent: list[SentMessage] = field(default_factory=list)
    spaces: dict[str, Space] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)
    on_delivery: Callable[[SentMessage], None] | None = None
    on_space: Callable[[Space], None] | None = None

    def refuse_dms(self, platform_user_id: str, refuse: bool = True) -> None:
        """Make DMs to this member fail with RecipientUnreachable (DMs closed)."""
        if refuse:
            self.refused.add(platform_user_id)
        else:
            self.refused.discard(platform_user_id)

    async def send(
        self,
        community_external_id: str,
        destination: Destination,
        message: Message,
        idempotency_key: str,
    ) -> Delivered:
        if isinstance(destination, DirectMessage):
            if destination.member.platform_user_id in self.refused:
                raise RecipientUnreachable(
                    f"{destination.member.display_name} does not accept direct messages"
                )
        elif isinstance(destination, SpacePost) and destination.space_ref not in self.spaces:
            # A space from an earlier console run: the console forgets them; recreate quietly.
            self.spaces[destination.space_ref] = Space(destination.space_ref, (), "")
        found = await self.find_sent(community_external_id, destination, idempotency_key)
        if found is not None:
            return found
        record = SentMessage(
            f"console-msg-{len(self.sent) + 1}",
            community_external_id,
            destination,
            message,
            idempotency_key,
        )
        self.sent.append(record)
        if self.on_delivery is not None:
            self.on_delivery(record)
        return Delivered(record.ref)

    async def find_sent(
        self, community_external_id: str, destination: Destination, idempotency_key: str,
        *, since: datetime | None = None,
    ) -> Delivered | None:
        """The delivery tagged ``idempotency_key``. ``since`` is not needed: the console keeps
        every message of the session in memory, so there is no history window to narrow."""
        for record in self.sent:
            if (
                record.idempotency_key == idempotency_key
                and record.community == community_external_id
                and record.destination == destination
            ):
                return Delivered(record.ref)
        return None

    async def open_space(
        self,
        community_external_id: str,
        key: str,
        members: Sequence[MemberAddress],
        title: str,
        parent_channel: str | None,
    ) -> str:
        """One space per key (the intro): opening it again returns the same space."""
        ids = sorted({m.platform_user_id for m in members})
        ref = f"space:{community_external_id}:{key}:" + "+".join(ids)
        if ref not in self.spaces:
            space = Space(ref, tuple(members), title)
            self.spaces[ref] = space
            if self.on_space is not None:
                self.on_space(space)
        return ref

    # -- reading back (tests, /inbox) --------------------------------------------------------

    def dms_to(self, platform_user_id: str) -> list[SentMessage]:
        return [
            r for r in self.sent
            if isinstance(r.destination, DirectMessage)
            and r.destination.member.platform_user_id == platform_user_id
        ]

    def in_space(self, ref: str) -> list[SentMessage]:
        return [
            r for r in self.sent
            if isinstance(r.destination, SpacePost) and r.destination.space_ref == ref
        ]

    def in_channel(self, channel: str) -> list[SentMessage]:
        return [
            r for r in self.sent
            if isinstance(r.destination, ChannelPost) and r.destination.channel == channel
        ]

    def spaces_of(self, platform_user_id: str) -> list[Space]:
        return [
            s for s in self.spaces.values()
            if any(m.platform_user_id == platform_user_id for m in s.members)
            or platform_user_id in s.ref.rsplit(":", 1)[-1].split("+")
        ]
