"""What every command handler gets: the transaction, who is asking, where, when, and an outbox.

The outbox collects nudges (messages to other people, reminders) that the command causes; they
are written in the same transaction as the change, so a change and its messages commit
together or not at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.caller import Caller
from bot.command import CommandSpec, Kind, MemberRef, Need, value_text
from bot.config import CommunityDefaults
from bot.domain import Community, Member, NewNudge
from bot.errors import NotAllowed, UserError
from bot.messages import FieldKind, Form, FormField, MemberAddress
from bot.repositories import Tx
from bot.syntax import format_command
from bot.text import shorten

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

    def drop_queued(self, *, session_id: int, kinds: tuple[str, ...]) -> None:
        """Forget nudges this command queued about a session (it changed again meanwhile)."""
        self.outbox[:] = [
            n for n in self.outbox if not (n.session_id == session_id and n.kind in kinds)
        ]

    async def resolve_member(self, ref: MemberRef) -> Member:
        """The member a reference names: an id from a mention or picker, or a display name."""
        platform_id = ref.platform_user_id
        if platform_id is not None:
            found = await self.tx.members.by_platform_id(self.community.id, platform_id)
            if found is None:
                raise UserError(
                    "That person hasn't used mentorbot here yet.",
                    "Ask them to say `help` to me first.",
                )
            return found
        name = ref.handle.strip().lstrip("@").strip()
        if not name:
            raise UserError("Please name a member.", "For example: `profile Ada`.")
        matches = await self.tx.members.named(self.community.id, name)
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

    def form(
        self,
        cmd: Any,
        *,
        title: str = "",
        initial: dict[str, str] | None = None,
        placeholders: dict[str, str] | None = None,
        only: tuple[str, ...] | None = None,
    ) -> Form:
        """The form for ``cmd``'s command, derived from its declaration.

        The parameters it always needs (a session number, the mentor) ride in the form's
        command; the others become fields, filled with ``cmd``'s values or ``initial``.
        """
        spec: CommandSpec[Any] = self.registry.spec_of(type(cmd))
        fixed = {
            p.name: value_text(p, getattr(cmd, p.name))
            for p in spec.params if p.need is Need.ALWAYS
        }
        fields = []
        for p in spec.params:
            if p.need is Need.ALWAYS or not p.in_form or (only is not None and p.name not in only):
                continue
            given = value_text(p, getattr(cmd, p.name))
            fields.append(
                FormField(
                    name=p.name,
                    label=p.label,
                    kind=_field_kind(p.kind, p.long, p.choices),
                    required=p.need is Need.FORM,
                    max_length=p.max_length if p.kind is not Kind.INT else len(str(p.high)),
                    min_length=p.min_length,
                    placeholder=(placeholders or {}).get(p.name, p.placeholder),
                    initial=(initial or {}).get(p.name, given),
                    options=p.choices,
                )
            )
        return Form(
            title=shorten(title or spec.form_title or spec.summary, 24),
            command=format_command(spec, fixed),
            fields=tuple(fields[:5]),
            submit_label=spec.submit_label,
        )


def _field_kind(kind: Kind, long: bool, choices: tuple[str, ...]) -> FieldKind:
    if kind in (Kind.CHOICE, Kind.BOOL) or choices:
        return FieldKind.CHOICE
    return FieldKind.LONG_TEXT if long else FieldKind.SHORT_TEXT
