"""What every command handler gets: the transaction, who is asking, where, when, and an outbox.

The outbox collects nudges (messages to other people, reminders) that the command causes; they
are written in the same transaction as the change, so a change and its messages commit
together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.caller import Caller
from bot.command import MemberRef, ParamError
from bot.config import CommunityDefaults
from bot.domain import Community, Member, NewNudge
from bot.errors import NotAllowed, UserError
from bot.messages import Form, MemberAddress
from bot.repositories import Tx
from bot.syntax import derive_form

if TYPE_CHECKING:
    from bot.registry import Registry

log = logging.getLogger(__name__)


@dataclass
class CommandContext:
    tx: Tx
    community: Community
    settings: CommunityDefaults
    caller: Caller
    me: Member
    now: datetime
    registry: Registry
    outbox: list[NewNudge] = field(default_factory=list)

    @property
    def my_zone(self) -> str:
        return self.me.zone(self.settings.default_timezone)

    def zone_of(self, member: Member) -> str:
        return member.zone(self.settings.default_timezone)

    def address(self, member: Member) -> MemberAddress:
        return member.address(self.settings.default_timezone)

    @property
    def horizon(self) -> timedelta:
        """How far ahead sessions, series and proposals may be booked."""
        return self.settings.booking_horizon

    @property
    def is_organizer(self) -> bool:
        """Slack admins/owners, Discord Manage Server, or the configured group/role (by id or
        name, whatever the case: "organizers" names the role "Organizers")."""
        if self.caller.is_platform_admin:
            return True
        group = self.settings.organizer_group.strip().casefold()
        return bool(group) and any(g.casefold() == group for g in self.caller.groups)

    def require_organizer(self) -> None:
        if not self.is_organizer:
            raise NotAllowed(
                "Only organizers can do that.",
                "Ask a workspace admin or someone in the organizers group.",
            )

    def notify(
        self,
        kind: str,
        *,
        due_at: datetime | None = None,
        recipient: Member | None = None,
        recipient_id: int | None = None,
        channel: str | None = None,
        intro_id: int | None = None,
        session_id: int | None = None,
        **payload: Any,
    ) -> None:
        """Queue a message or reminder; it is written with this transaction."""
        self.outbox.append(
            NewNudge(
                community_id=self.community.id,
                kind=kind,
                due_at=due_at or self.now,
                recipient_id=recipient.id if recipient else recipient_id,
                channel=channel,
                intro_id=intro_id,
                session_id=session_id,
                payload=payload,
            )
        )

    def drop_queued(self, *, session_id: int, kinds: tuple[str, ...]) -> None:
        """Forget nudges this command queued about a session (it changed again meanwhile)."""
        self.outbox[:] = [
            n for n in self.outbox if not (n.session_id == session_id and n.kind in kinds)
        ]

    async def resolve_member(self, ref: MemberRef, param: str) -> Member:
        """The member a reference names: an id from a mention or picker, or a display name.
        A refusal names ``param``, the parameter ``ref`` was given as."""
        platform_id = ref.platform_user_id
        if platform_id is not None:
            found = await self.tx.members.by_platform_id(self.community.id, platform_id)
            if found is None:
                raise ParamError(
                    param, "That person hasn't used mentorbot here yet.",
                    "Ask them to say `help` to me first.",
                )
            return found
        name = ref.handle.strip().lstrip("@").strip()
        if not name:
            raise ParamError(param, "Please name a member.", "For example: `profile Ada`.")
        matches = await self.tx.members.named(self.community.id, name)
        if not matches:
            raise ParamError(
                param, f"I don't know anyone called “{name[:60]}” here.",
                "Use `find <topic>` to see mentors and their names.",
            )
        if len(matches) > 1:
            raise ParamError(
                param, f"More than one member is called “{name[:60]}”.",
                "Pick them from `find <topic>` instead, or use their @mention.",
            )
        return matches[0]

    def form(
        self,
        cmd: Any,
        *,
        title: str = "",
        initial: dict[str, str] | None = None,
        placeholders: dict[str, str] | None = None,
    ) -> Form:
        """The form for ``cmd``'s command, derived from its declaration (``bot.syntax``)."""
        return derive_form(self.registry.spec_of(type(cmd)), cmd, title=title,
                           initial=initial, placeholders=placeholders)


@contextmanager
def reading(param: str) -> Iterator[None]:
    """Refusals raised inside name ``param``, so a form shows them under its field: for a
    value a handler reads itself (weekly windows, session lengths, a repetition)::

        with reading("availability"):
            windows = parse_windows(cmd.availability)
    """
    try:
        yield
    except ParamError:
        raise
    except UserError as err:
        raise ParamError(param, err.message, err.hint) from None
