"""Ports: what the core needs from the outside world, as small protocols.

An adapter (Slack, Discord, console) implements :class:`Messenger`; the core never knows which
one it talks to. Delivery problems are reported with the exceptions below so the nudge engine can
decide between retrying, waiting, falling back and giving up without knowing any platform.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

from bot.messages import MemberAddress, Message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DirectMessage:
    """A private message to one member."""

    member: MemberAddress


@dataclass(frozen=True)
class ChannelPost:
    """A post in a channel of the community (intros channel, organizer channel...)."""

    channel: str


@dataclass(frozen=True)
class SpacePost:
    """A post in a private space opened for an intro (Slack group DM, Discord private thread)."""

    space_ref: str


Destination = DirectMessage | ChannelPost | SpacePost


@dataclass(frozen=True)
class Delivered:
    """The platform accepted the message; ``ref`` identifies it there (ts, message id)."""

    ref: str


class DeliveryError(Exception):
    """Base of delivery problems; ``str(error)`` is safe to store and show to organizers."""


class HoldScope(Enum):
    """What a rate limit holds back: the platform decides (Discord limits per route/channel,
    Slack per method and workspace); the engine holds only that."""

    DESTINATION = "destination"
    COMMUNITY = "community"
    EVERYTHING = "everything"


class RateLimited(DeliveryError):
    """The platform said slow down (HTTP 429); try again after ``retry_after`` seconds.

    ``scope`` says what to hold back meanwhile: only this destination (the default), the whole
    community, or everything this process sends.
    """

    def __init__(
        self, retry_after: float, detail: str = "rate limited",
        scope: HoldScope = HoldScope.DESTINATION,
    ) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.scope = scope


class TemporaryFailure(DeliveryError):
    """A 5xx, a time-out or a dropped connection: worth trying again later."""


class RecipientUnreachable(DeliveryError):
    """The platform refuses this recipient for good (DMs closed, user gone). Never retried."""


class PermanentFailure(DeliveryError):
    """The request itself is wrong (bad channel, missing permission). Never retried."""


class Messenger(Protocol):
    """The one port every adapter implements."""

    platform: str

    async def send(
        self,
        community_external_id: str,
        destination: Destination,
        message: Message,
        idempotency_key: str,
    ) -> Delivered:
        """Deliver ``message``; tag it with ``idempotency_key`` where the platform can store it."""
        ...

    async def find_sent(
        self,
        community_external_id: str,
        destination: Destination,
        idempotency_key: str,
        *,
        since: datetime | None = None,
    ) -> Delivered | None:
        """Whether a message tagged ``idempotency_key`` already reached ``destination``.

        Used after a crash, for nudges whose fate is unknown: deliver if and only if not found.
        ``since`` is the earliest moment it can have arrived (None: unknown): a platform that
        searches a history searches from there instead of its own default window.
        """
        ...

    async def open_space(
        self,
        community_external_id: str,
        key: str,
        members: Sequence[MemberAddress],
        title: str,
        parent_channel: str | None,
    ) -> str:
        """Open a private space for these members and return its reference.

        Idempotent by ``key`` (the intro it is for): if a space for ``key`` exists already (a
        retry after a crash), return it instead of opening a second one. ``parent_channel`` is
        where the platform needs one (Discord's private threads live in a channel).
        """
        ...


def destination_key(destination: Destination) -> str:
    """A stable text key for a destination (rate-limit holds, budgets, logs)."""
    if isinstance(destination, DirectMessage):
        return f"dm:{destination.member.platform_user_id}"
    if isinstance(destination, ChannelPost):
        return f"channel:{destination.channel}"
    return f"space:{destination.space_ref}"
