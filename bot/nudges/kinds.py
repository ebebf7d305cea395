"""What a kind of nudge is: its name, how it is worded (rendered) and when it may arrive.

A nudge row stores only its kind and what it is about (an intro, a session). Its text is made
when it is due, from the current state: a renderer that finds its subject changed (a withdrawn
request, a cancelled session) raises :class:`Stale` with the reason, and the engine records it
for organizers. A renderer may also act instead of speaking (:class:`Done`): the 72-hour release
changes the request's state and queues the member's message.

When a nudge may arrive is declared once per kind (:class:`Timing`) and applied by the engine,
not by each renderer: reminders before a session are never moved, prompts wait for the
recipient's quiet hours, follow-ups also honour "follow-ups off" and snoozes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from bot.config import CommunityDefaults
from bot.domain import Community, Member, NewNudge, Nudge
from bot.messages import MemberAddress, Message
from bot.ports import Destination, DirectMessage
from bot.repositories import Tx

log = logging.getLogger(__name__)


class Timing(Enum):
    """When a kind of nudge may reach its recipient."""

    NOW = "now"
    """The answer to someone's action (an accepted request, a confirmed time): at once."""
    BEFORE_SESSION = "before_session"
    """A reminder before a session: never moved (later would be useless)."""
    PROMPT = "prompt"
    """A prompt or deadline nudge: waits for the end of the recipient's quiet hours."""
    FOLLOWUP = "followup"
    """After a session: quiet hours, snoozes and "follow-ups off" apply."""


class Stale(Exception):
    """Not sent: what the nudge was about changed. ``reason`` is recorded for organizers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OpenSpace:
    """Deliver into the intro's private space, opening it first if it does not exist yet.

    ``key`` identifies the space for good (the intro), so a retry after a crash finds the
    space opened before instead of opening a second one.
    """

    intro_id: int
    key: str
    members: tuple[MemberAddress, ...]
    title: str
    parent_channel: str | None = None


@dataclass(frozen=True)
class Outgoing:
    destination: Destination | OpenSpace
    message: Message
    fallback_channel: str | None = None
    """Where to mention the recipient instead, if the platform refuses the private message."""


@dataclass(frozen=True)
class Done:
    """Handled without a message of its own (e.g. a deadline acted on)."""

    outcome: str


Rendered = Outgoing | Done


@dataclass
class RenderContext:
    """What a renderer gets: the transaction, the community and its settings, and "now"."""

    tx: Tx
    community: Community
    settings: CommunityDefaults
    now: datetime
    follow_ups: list[NewNudge] = field(default_factory=list)

    async def member(self, member_id: int | None) -> Member:
        """The member, or :class:`Stale` if they are gone."""
        found = None if member_id is None else await self.tx.members.get(
            self.community.id, member_id
        )
        if found is None:
            raise Stale("member no longer exists")
        return found

    def address(self, member: Member) -> MemberAddress:
        return member.address(self.settings.default_timezone)

    def zone(self, member: Member) -> str:
        return member.zone(self.settings.default_timezone)

    def dm(self, member: Member, message: Message, *, fallback: str | None = None) -> Outgoing:
        """A private message; ``fallback`` is the channel to mention them in if DMs are closed
        (default: the intros channel; ``""`` for none)."""
        channel = fallback if fallback is not None else self.settings.intros_channel or None
        return Outgoing(DirectMessage(self.address(member)), message, channel or None)

    def queue(
        self, kind: str, *, due_at: datetime | None = None, recipient_id: int | None = None,
        channel: str | None = None, intro_id: int | None = None,
        session_id: int | None = None, **payload: Any,
    ) -> None:
        """A nudge caused by this one, written with its outcome."""
        self.follow_ups.append(
            NewNudge(self.community.id, kind, due_at or self.now, recipient_id=recipient_id,
                     channel=channel, intro_id=intro_id, session_id=session_id,
                     payload=payload)
        )


Renderer = Callable[[RenderContext, Nudge], Awaitable[Rendered]]


@dataclass(frozen=True)
class NudgeKind:
    """One kind of nudge, declared next to its renderer in its feature's ``nudges`` module."""

    name: str
    render: Renderer
    timing: Timing = Timing.NOW
    label: str = ""
    """How organizers read it in `nudges` ("mentor reminder")."""

    @property
    def readable(self) -> str:
        return self.label or self.name.rsplit(".", 1)[-1].replace("_", " ")


def nudge_kind(
    name: str, *, timing: Timing = Timing.NOW, label: str = ""
) -> Callable[[Renderer], NudgeKind]:
    """Declare the renderer below as the nudge kind ``name`` (nothing is registered)."""

    def wrap(render: Renderer) -> NudgeKind:
        return NudgeKind(name, render, timing, label)

    return wrap


class NudgeKinds:
    """Every nudge kind the bot knows, built once from the features' declarations."""

    def __init__(self, kinds: Iterable[NudgeKind]) -> None:
        self._kinds: dict[str, NudgeKind] = {}
        for kind in kinds:
            if kind.name in self._kinds:
                raise ValueError(f"nudge kind {kind.name!r} declared twice")
            self._kinds[kind.name] = kind

    def get(self, name: str) -> NudgeKind | None:
        return self._kinds.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __len__(self) -> int:
        return len(self._kinds)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def readable(self, name: str) -> str:
        kind = self._kinds.get(name)
        return kind.readable if kind else name.rsplit(".", 1)[-1].replace("_", " ")
