"""The core's front door: run a command for a caller and return the reply.

Every adapter calls one of three methods: :meth:`Mentorbot.handle_text` (typed commands),
:meth:`Mentorbot.handle_click` (a button) and :meth:`Mentorbot.handle_form` (a submitted form).
Each runs in one transaction: the change and the nudges it causes commit together, and a
refusal or a bug changes nothing. A person never sees a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from bot import commands as c
from bot.clock import Clock
from bot.config import CommunityDefaults, validate_timezone
from bot.context import FlowContext
from bot.domain import Community, Member
from bot.errors import UserError
from bot.flows.registry import load_all
from bot.messages import Message, MessageBuilder, Reply, command_from_custom_id, text
from bot.text import clean, shorten
from bot.textcommands import parse
from storage.store import Store, Tx

log = logging.getLogger(__name__)

SORRY = (
    "Sorry, something went wrong on my side and nothing was changed. "
    "Please try again in a moment; the organizers can see what happened in the logs."
)


@dataclass(frozen=True)
class Scope:
    community: Community
    member: Member
    settings: CommunityDefaults


class Mentorbot:
    """The platform-neutral bot."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        defaults: CommunityDefaults,
        on_outbox: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.defaults = defaults
        self._on_outbox = on_outbox
        self._handlers = load_all()

    def on_outbox(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after a command queued messages (the nudge engine wakes up)."""
        self._on_outbox = callback

    async def handle_text(self, caller: c.Caller, text_in: str) -> Reply:
        try:
            command = parse(text_in)
        except UserError as err:
            return _refusal(err)
        return await self.execute(caller, command)

    async def handle_click(self, caller: c.Caller, custom_id: str) -> Reply:
        command_text = command_from_custom_id(custom_id)
        if command_text is None:
            return Reply.of(text("That button isn't one of mine any more."))
        return await self.handle_text(caller, command_text)

    async def handle_form(
        self, caller: c.Caller, command_text: str, values: Mapping[str, str]
    ) -> Reply:
        try:
            command = parse(command_text, {k: v for k, v in values.items() if v is not None})
        except UserError as err:
            return _refusal(err)
        return await self.execute(caller, command)

    async def execute(self, caller: c.Caller, command: c.Command) -> Reply:
        handler = self._handlers.get(type(command))
        if handler is None:
            log.error("no handler for %s", type(command).__name__)
            return Reply.of(text(SORRY))
        for attempt in (1, 2):
            try:
                async with self.store.transaction() as tx:
                    scope = await self.scope(tx, caller)
                    ctx = FlowContext(
                        tx=tx,
                        community=scope.community,
                        settings=scope.settings,
                        caller=caller,
                        me=scope.member,
                        now=self.clock.now(),
                    )
                    reply = await handler(command, ctx)
                    if _should_ask_timezone(command, ctx.me):
                        await tx.update_member(ctx.me.id, timezone_asked_at=ctx.now)
                        reply = Reply((*reply.messages, _timezone_question(ctx.settings)))
                    await tx.add_nudges(ctx.outbox, ctx.now)
            except UserError as err:
                return _refusal(err)
            except IntegrityError:
                if attempt == 1:
                    # Two first commands of one member raced to create their row: once more.
                    continue
                log.exception("integrity error running %s", type(command).__name__)
                return Reply.of(text(SORRY))
            except Exception:
                log.exception("bug while running %s", type(command).__name__)
                return Reply.of(text(SORRY))
            if ctx.outbox and self._on_outbox is not None:
                self._on_outbox()
            return reply
        return Reply.of(text(SORRY))

    async def scope(self, tx: Tx, caller: c.Caller) -> Scope:
        """The caller's community and member rows (created on first contact) and settings."""
        now = self.clock.now()
        community = await tx.community(caller.platform, caller.community_id)
        if community is None:
            community = await tx.create_community(
                caller.platform, caller.community_id, shorten(clean(caller.community_name), 200)
                or caller.community_id, now
            )
        overrides = await tx.community_settings(community.id)
        settings = self.defaults.model_copy(update=overrides)
        name = shorten(clean(caller.display_name), 80) or caller.user_id
        member = await tx.member_by_platform_id(community.id, caller.user_id)
        platform_zone = _valid_zone(caller.timezone)
        if member is None:
            member = await tx.add_member(community.id, caller.user_id, name, platform_zone, now)
        elif member.display_name != name or (member.timezone is None and platform_zone):
            zone = member.timezone or platform_zone
            await tx.update_member(member.id, display_name=name, timezone=zone)
            member = await tx.member(community.id, member.id) or member
        return Scope(community, member, settings)


def _should_ask_timezone(command: c.Command, me: Member) -> bool:
    """Ask once, after the first command of a member the platform gave no zone for."""
    return (
        me.timezone is None
        and me.timezone_asked_at is None
        and not isinstance(command, c.SetTimezone)
    )


def _timezone_question(settings: CommunityDefaults) -> Message:
    return (
        MessageBuilder()
        .say(f"One question, asked only once: what's your timezone? Until you tell me, I show "
             f"times in {settings.default_timezone}, this community's default. Type `tz Area/City`,"
             " for example `tz Europe/Berlin` or `tz America/New_York`.")
        .build()
    )


def _valid_zone(zone: str | None) -> str | None:
    if not zone:
        return None
    try:
        return validate_timezone(zone)
    except ValueError:
        return None


def _refusal(err: UserError) -> Reply:
    # Refusals often quote what the person typed ("I don't know “@here”"): the message goes out
    # as user text (Plain), so adapters escape all of it and nothing in it can ping or link.
    msg = MessageBuilder().user_text(err.message)
    if err.hint:
        msg.say(" " + err.hint)
    return Reply.of(msg.build())
