"""What every flow gets: the transaction, who is asking, where, when, and an outbox.

The outbox collects nudges (messages to other people, reminders) that the flow causes; they are
written in the same transaction as the change, so a change and its messages commit together.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.commands import Caller
from bot.config import CommunityDefaults
from bot.domain import Community, Member
from bot.errors import NotAllowed, UserError
from bot.messages import MemberAddress
from storage.store import NewNudge, Tx

log = logging.getLogger(__name__)

_PLATFORM_HANDLE = re.compile(r"^<member:([A-Za-z0-9_.-]{1,64})>$")


@dataclass
class FlowContext:
    tx: Tx
    community: Community
    settings: CommunityDefaults
    caller: Caller
    me: Member
    now: datetime
    outbox: list[NewNudge] = field(default_factory=list)

    @property
    def my_zone(self) -> str:
        return self.me.zone(self.settings.default_timezone)

    def zone_of(self, member: Member) -> str:
        return member.zone(self.settings.default_timezone)

    def address(self, member: Member) -> MemberAddress:
        return member.address(self.settings.default_timezone)

    @property
    def is_organizer(self) -> bool:
        """Slack admins/owners, Discord Manage Server, or the configured group/role."""
        if self.caller.is_platform_admin:
            return True
        group = self.settings.organizer_group
        return bool(group) and group in self.caller.groups

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
                recipient_id=recipient.id if recipient else None,
                channel=channel,
                intro_id=intro_id,
                session_id=session_id,
                payload=payload,
            )
        )

    async def resolve_member(self, handle: str) -> Member:
        """The member a handle names: ``<member:ID>`` from an adapter, ``@name`` or a name."""
        raw = handle.strip()
        match = _PLATFORM_HANDLE.match(raw)
        if match:
            found = await self.tx.member_by_platform_id(self.community.id, match.group(1))
            if found is None:
                raise UserError(
                    "That person hasn't used mentorbot here yet.",
                    "Ask them to say `help` to me first.",
                )
            return found
        name = raw.lstrip("@").strip()
        if not name:
            raise UserError("Please name a member.", "For example: `profile Ada`.")
        matches = await self.tx.members_named(self.community.id, name)
        if not matches:
            raise UserError(
                f"I don't know anyone called “{name[:60]}” here.",
                "Use `find <topic>` to see mentors and their names.",
            )
        if len(matches) > 1:
            raise UserError(
                f"More than one member is called “{name[:60]}”.",
                "Pick them from `find <topic>` instead, or use their @mention.",
            )
        return matches[0]
