"""The core's front door: run a command for a caller and return the reply.

Adapters call :meth:`Mentorbot.handle_text` (a typed line), :meth:`~Mentorbot.handle_click` (a
button's id), :meth:`~Mentorbot.handle_form` (a submitted form), :meth:`~Mentorbot.handle_options`
(Discord's typed options), :meth:`~Mentorbot.suggest` (autocomplete) and
:meth:`~Mentorbot.home` (the member's home view). Each command runs in one transaction: the
change and the nudges it causes commit together, and a refusal or a bug changes nothing. A
person never sees a stack trace; a refusal says which parameter was wrong, so a form can show
the error under that field.

How one command flows, top to bottom:

1. the line (or form, or options) is split by the command's declaration (``bot.syntax``);
2. values are typed and checked (``bot.command.convert``); times are read in the person's zone
   *before* the write transaction opens, so a slow read never holds the database lock;
3. in one transaction: the platform event that carried it, if any (a retried Slack event is
   then answered ``Reply.duplicate``), the community and member rows (created on first
   contact), the role check, the handler, the nudges it queued, and the ids of the reply's
   buttons and forms.

A database that is busy or out of reach is not a bug: the person reads :data:`BUSY` (try again
in a moment) and the log a warning without a trace; the refusal is ``transient``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from bot import choice_ids
from bot.caller import Caller
from bot.clock import Clock
from bot.command import (
    CommandSpec,
    Kind,
    Need,
    ParamError,
    Reading,
    Role,
    Source,
    convert,
)
from bot.config import CommunityDefaults
from bot.context import CommandContext
from bot.domain import Community, Member
from bot.errors import StorageBusy, StorageConflict, StorageUnavailable, UserError
from bot.messages import (
    Form,
    Message,
    MessageBuilder,
    Notice,
    Refusal,
    Reply,
    text,
    with_hints,
)
from bot.registry import Registry
from bot.repositories import Store, Tx
from bot.syntax import Parsed, derive_form, missing_required, refuse_missing
from bot.text import clean, shorten
from bot.timezones import valid_platform_zone

log = logging.getLogger(__name__)

SORRY = (
    "Sorry, something went wrong on my side and nothing was changed. "
    "Please try again in a moment; the organizers can see what happened in the logs."
)
BUSY = ("I can't get to my records right now, so nothing was changed. "
        "Please try again in a moment.")
"""The database is busy (a long write holds it) or out of reach: both pass in a moment."""
ZONE_KINDS = frozenset({Kind.TIME, Kind.TIMES, Kind.DATE})
EVENT_MEMORY = timedelta(days=1)
"""How long processed platform event ids are remembered (Slack retries for minutes)."""
MAX_SUGGESTIONS = 25


@dataclass(frozen=True)
class Suggestion:
    """One autocomplete choice: what the person sees, and the value the command gets."""

    label: str
    value: str


class Mentorbot:
    """The platform-neutral bot."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        defaults: CommunityDefaults,
        registry: Registry,
        on_outbox: Callable[[datetime], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.defaults = defaults
        self.registry = registry
        self._on_outbox = on_outbox

    def on_outbox(self, callback: Callable[[datetime], None]) -> None:
        """Call ``callback`` after a command queued messages, with the earliest due time among
        them (the nudge engine wakes up, or sets its alarm)."""
        self._on_outbox = callback

    # -- the entry points adapters call ----------------------------------------------------------

    async def handle_text(
        self, caller: Caller, line: str, *, event_id: str | None = None
    ) -> Reply:
        """Run a typed line. ``event_id`` is the platform's id of the event that carried it
        (a Slack message event): a retried delivery of an event already handled, by any
        process sharing this database, answers ``Reply(duplicate=True)`` and does nothing.
        The id is recorded in the command's own transaction, so the command's effects happen
        exactly once: a crash before it commits leaves the id unrecorded and the retry runs
        the command. A view or a refusal records it right after; a passing failure (busy,
        unreachable database, a bug) never does, so the retry runs it again."""
        once = _Event(caller.platform, event_id[:120]) if event_id else None
        try:
            parsed = self.registry.grammar.parse(line)
        except UserError as err:
            reply = self._refuse(err)
        else:
            reply = await self._run(caller, parsed, once=once)
        return await self._close_event(once, reply)

    async def handle_click(self, caller: Caller, custom_id: str) -> Reply:
        found = await self._command_of(custom_id)
        if isinstance(found, Reply):
            return found
        if found is None:
            return self._refuse(UserError("That button isn't one of mine any more."))
        community_id, line = found
        try:
            parsed = self.registry.grammar.parse(line)
        except UserError as err:
            return self._refuse(err)
        return await self._run(caller, parsed, community_id=community_id)

    async def handle_form(
        self, caller: Caller, form_id: str, values: Mapping[str, str | None]
    ) -> Reply:
        found = await self._command_of(form_id)
        if isinstance(found, Reply):
            return found
        if found is None:
            return self._refuse(UserError("That form isn't one of mine any more."))
        community_id, line = found
        try:
            parsed = self.registry.grammar.parse(
                line, {k: v for k, v in values.items() if v is not None}
            )
        except UserError as err:
            return self._refuse(err)
        return await self._run(caller, parsed, community_id=community_id)

    async def handle_options(
        self, caller: Caller, verb: str, options: Mapping[str, str | None]
    ) -> Reply:
        """A command given as typed options (Discord): values by parameter name, never joined
        into a line, so text containing ``context:`` stays text."""
        spec = self.registry.grammar.spec(verb)
        if spec is None:
            return self._refuse(UserError(f"I don't know the command “{shorten(verb, 40)}”."))
        raw: dict[str, str] = {}
        for name, value in options.items():
            if value is None or not str(value).strip():
                continue
            if all(p.name != name for p in spec.params):
                return self._refuse(
                    UserError(f"The option “{shorten(name, 40)}” is not one I know."))
            raw[name] = str(value)
        return await self._run(caller, Parsed(spec, raw))

    async def home(self, caller: Caller) -> Reply:
        """The caller's home view (profile, sessions, requests, goals, what's next): read-only."""
        return await self._read_only(caller, None, self._home_sections)

    async def form(self, caller: Caller, form_id: str) -> Form | None:
        """The form ``form_id`` stands for, rebuilt from its command's declaration, for an
        adapter that no longer holds the one it opened (a restart, another instance). Fields,
        labels, kinds, limits and choices are the declaration's; a title or initial values a
        handler chose are not kept (a refused form is refilled with what was typed). None for
        an id that is not one of this bot's forms, a command without fields, or a community
        the caller cannot act in. Read-only."""
        found = await self._command_of(form_id)
        if found is None or isinstance(found, Reply):
            return None
        community_id, line = found
        try:
            async with self.store.reading() as tx:
                await self._find_community(tx, caller, community_id)
            parsed = self.registry.grammar.parse(line)
            # The values the form's command carries stay as typed (derive_form writes them
            # back as text); the fields start empty.
            fixed = {p.name: parsed.raw.get(p.name) if p.need is Need.ALWAYS else None
                     for p in parsed.spec.params}
            form = derive_form(parsed.spec, SimpleNamespace(**fixed))
        except (UserError, ValueError):
            return None
        except (StorageBusy, StorageUnavailable) as exc:
            _storage_trouble(exc, "rebuilding a form")
            return None
        return replace(form, id=form_id)

    async def community_settings(
        self, platform: str, community_external_id: str
    ) -> CommunityDefaults:
        """A community's settings as organizers left them (``settings set`` over the file's
        defaults; the defaults for a community the bot has not met). Read-only: what an
        adapter needs to decide facts (which group organizes, where intros open), without
        reaching into storage. Raises ``StorageBusy``/``StorageUnavailable`` when the database
        cannot answer."""
        async with self.store.reading() as tx:
            community = await tx.communities.get(platform, community_external_id)
            return await self._settings(tx, community)

    async def only_community(
        self, platform: str, platform_user_id: str, candidates: Iterable[str]
    ) -> str | None:
        """The one community among ``candidates`` (external ids, e.g. the servers the bot is
        in) where this person is already a member, or None when there is none or more than
        one. For a command typed where the platform names no community (a Discord DM): an
        adapter uses the answer as the caller's community, or asks the person to use the
        command in their community. Read-only."""
        found: str | None = None
        async with self.store.reading() as tx:
            for external_id in dict.fromkeys(candidates):
                community = await tx.communities.get(platform, external_id)
                if community is None:
                    continue
                if await tx.members.by_platform_id(community.id, platform_user_id) is None:
                    continue
                if found is not None:
                    return None
                found = external_id
        return found

    async def suggest(
        self, caller: Caller, verb: str, param_name: str, prefix: str
    ) -> list[Suggestion]:
        """At most 25 autocomplete choices for one parameter, from read-only queries."""
        spec = self.registry.grammar.spec(verb)
        if spec is None:
            return []
        source = next((p.source for p in spec.params if p.name == param_name), None)
        if source is None:
            return []
        if source is Source.TIMEZONES:
            from bot.zones import zone_choices

            return [Suggestion(z, z) for z in zone_choices(prefix, MAX_SUGGESTIONS)]
        try:
            async with self.store.reading() as tx:
                community = await self._find_community(tx, caller, None)
                if community is None:
                    return []
                me = await tx.members.by_platform_id(community.id, caller.user_id)
                from bot.suggestions import suggestions

                found = await suggestions(tx, community, me, source, prefix, self.clock.now(),
                                          await self._settings(tx, community))
        except UserError:
            return []
        except (StorageBusy, StorageUnavailable) as exc:
            _storage_trouble(exc, f"autocomplete for {verb} {param_name}")
            return []
        except Exception:
            log.exception("autocomplete for %s %s failed", verb, param_name)
            return []
        return [Suggestion(label, value) for label, value in found[:MAX_SUGGESTIONS]]

    async def check_field(
        self, caller: Caller, form_id: str, name: str, value: str
    ) -> Refusal | None:
        """Whether one answer of a form would be accepted, checked as it is typed (a text-only
        adapter asks field by field and re-asks with the reason). Nothing is changed."""
        found = await self._command_of(form_id)
        if isinstance(found, Reply):
            return found.refusal
        if found is None:
            return Refusal("That form isn't one of mine any more.")
        community_id, line = found
        try:
            spec, _rest = self.registry.grammar.split_verb(line)
            param = spec.param(name)
            reading = await self._reading(caller, community_id) if param.kind in ZONE_KINDS \
                else None
            convert(param, value, reading)
        except KeyError:
            return Refusal(f"The form field “{shorten(name, 40)}” is not one I know.")
        except UserError as err:
            return self._refuse(err).refusal
        except (StorageBusy, StorageUnavailable) as exc:
            return busy(exc, "checking a form field").refusal
        return None

    async def ensure_member(self, caller: Caller, community_id: int | None = None) -> Member:
        """Create the caller's community and member rows if this is their first contact."""
        async with self.store.transaction() as tx:
            return (await self._context(tx, caller, community_id)).me

    # -- running one command ---------------------------------------------------------------------

    async def _run(
        self, caller: Caller, parsed: Parsed, *, community_id: int | None = None,
        once: _Event | None = None,
    ) -> Reply:
        spec = parsed.spec
        absent = missing_required(spec, parsed.raw)
        if absent is not None:
            return self._refuse(refuse_missing(spec, absent))
        try:
            values: dict[str, Any] = {
                p.name: convert(p, parsed.raw[p.name], None)
                for p in spec.params
                if p.name in parsed.raw and p.kind not in ZONE_KINDS
            }
            if any(p.kind in ZONE_KINDS and p.name in parsed.raw for p in spec.params):
                reading = await self._reading(caller, community_id)
                for p in spec.params:
                    if p.kind in ZONE_KINDS and p.name in parsed.raw:
                        values[p.name] = convert(p, parsed.raw[p.name], reading)
            cmd = spec.type(**values)
        except UserError as err:
            return self._refuse(err)
        except (StorageBusy, StorageUnavailable) as exc:
            return busy(exc, f"reading {spec.verb}")
        return await self.execute(caller, cmd, community_id=community_id, once=once)

    async def execute(
        self, caller: Caller, cmd: Any, *, community_id: int | None = None,
        once: _Event | None = None,
    ) -> Reply:
        """Run a typed command (its values already checked) for ``caller``."""
        spec: CommandSpec[Any] = self.registry.spec_of(type(cmd))
        if spec.read_only:
            return await self._read_only(caller, community_id, lambda ctx: spec.handler(cmd, ctx),
                                         spec=spec)
        for attempt in (1, 2):
            try:
                async with self.store.transaction() as tx:
                    if once is not None and not await self._record_event(tx, once):
                        return DUPLICATE
                    ctx = await self._context(tx, caller, community_id)
                    await _check_role(spec, ctx)
                    reply = await spec.handler(cmd, ctx)
                    if _should_ask_timezone(spec, ctx.me):
                        await tx.members.update(ctx.me.id, timezone_asked_at=ctx.now)
                        reply = Reply((*reply.messages, _timezone_question(ctx.settings)),
                                      reply.refusal)
                    await tx.nudges.add(ctx.outbox, ctx.now)
                    reply = await self._seal(tx, ctx.community, reply)
            except UserError as err:
                return self._refuse(err)
            except StorageConflict:
                if attempt == 1:
                    continue  # e.g. two first commands of one member raced to create the row
                log.exception("storage conflict running %s", spec.verb)
                return sorry()
            except (StorageBusy, StorageUnavailable) as exc:
                return busy(exc, f"running {spec.verb}")
            except Exception:
                log.exception("bug while running %s", spec.verb)
                return sorry()
            if once is not None:
                once.recorded = True  # committed with the command's changes
            if ctx.outbox and self._on_outbox is not None:
                self._on_outbox(min(n.due_at for n in ctx.outbox))
            return reply
        return sorry()

    async def _record_event(self, tx: Tx, once: _Event) -> bool:
        """Record ``once`` in ``tx``; False if it was recorded before (by any process). Records
        older than a day are forgotten now and then along the way."""
        now = self.clock.now()
        first = await tx.events.first_seen(once.platform, once.event_id, now)
        if first and once.event_id.endswith("0"):  # now and then, not on every event
            await tx.events.forget_before(now - EVENT_MEMORY)
        return first

    async def _close_event(self, once: _Event | None, reply: Reply) -> Reply:
        """After a command that did not record its event in its own transaction (a view, a
        refusal): record it now, and answer a duplicate if another delivery got there first.
        A passing failure is not recorded: the platform's retry should run the command."""
        if once is None or once.recorded or reply.duplicate:
            return reply
        if reply.refusal is not None and reply.refusal.transient:
            return reply
        try:
            async with self.store.transaction() as tx:
                first = await self._record_event(tx, once)
        except (StorageBusy, StorageUnavailable, StorageConflict) as exc:
            log.warning("could not record event %s as handled (%s): a retry may repeat it",
                        once.event_id, type(exc).__name__)
            return reply
        once.recorded = True
        return reply if first else DUPLICATE

    async def _read_only(
        self,
        caller: Caller,
        community_id: int | None,
        view: Callable[[CommandContext], Awaitable[Reply]],
        *,
        spec: CommandSpec[Any] | None = None,
    ) -> Reply:
        """Run a view that changes nothing, in a read-only transaction.

        A first-time caller has no rows yet: they are created first (that is the only write),
        and the one-time timezone question is never used up by a view.
        """
        what = spec.verb if spec else "the home view"
        try:
            shown = await self._view(caller, community_id, view, spec)
            if shown is None:  # a first contact: their rows are created, then the view runs
                await self.ensure_member(caller, community_id)
                shown = await self._view(caller, community_id, view, spec)
            if shown is None:
                raise UserError("That button belongs to a community you're not part of.")
            reply, community = shown
            if _needs_ids(reply):
                async with self.store.transaction() as tx:
                    reply = await self._seal(tx, community, reply)
            return reply
        except UserError as err:
            return self._refuse(err)
        except (StorageBusy, StorageUnavailable) as exc:
            return busy(exc, f"showing {what}")
        except Exception:
            log.exception("bug while showing %s", what)
            return sorry()

    async def _view(
        self, caller: Caller, community_id: int | None,
        view: Callable[[CommandContext], Awaitable[Reply]], spec: CommandSpec[Any] | None,
    ) -> tuple[Reply, Community] | None:
        """The view in one read-only transaction; None if the caller has no rows yet."""
        async with self.store.reading() as tx:
            ctx = await self._existing_context(tx, caller, community_id)
            if ctx is None:
                return None
            if spec is not None:
                await _check_role(spec, ctx)
            reply = await view(ctx)
            if ctx.outbox:
                raise RuntimeError("a read-only view queued nudges")
            return reply, ctx.community

    def _refuse(self, err: UserError) -> Reply:
        """:func:`refusal`, with the commands in its hint as hints."""
        return refusal(err, self.registry.is_command)

    async def _home_sections(self, ctx: CommandContext) -> Reply:
        messages: list[Message] = []
        for section in self.registry.home_sections:
            messages.extend(await section(ctx))
        return Reply(tuple(messages))

    # -- who, where, when ------------------------------------------------------------------------

    async def _reading(self, caller: Caller, community_id: int | None) -> Reading:
        """The caller's zone and now, read without taking the write lock."""
        now = self.clock.now()
        async with self.store.reading() as tx:
            community = await self._find_community(tx, caller, community_id)
            settings = await self._settings(tx, community)
            member = (
                await tx.members.by_platform_id(community.id, caller.user_id)
                if community is not None else None
            )
        zone = (
            (member.timezone if member is not None else None)
            or valid_platform_zone(caller.timezone)
            or settings.default_timezone
        )
        return Reading(zone, now, settings.booking_horizon)

    async def _settings(self, tx: Tx, community: Community | None) -> CommunityDefaults:
        """The defaults with the community's overrides (organizers' `settings set`)."""
        if community is None:
            return self.defaults
        return self.defaults.model_copy(update=await tx.communities.settings(community.id))

    async def _find_community(
        self, tx: Tx, caller: Caller, community_id: int | None
    ) -> Community | None:
        if community_id is not None:
            community = await tx.communities.by_id(community_id)
            if community is None or community.platform != caller.platform or (
                caller.community_id is not None and caller.community_id != community.external_id
            ):
                raise UserError("That button belongs to another community.",
                                "Use the buttons in that community's messages.")
            return community
        if caller.community_id is None:
            raise UserError("I don't know which community you mean here.",
                            "Use me in your community's channels, or in a DM I sent you.")
        return await tx.communities.get(caller.platform, caller.community_id)

    async def _community(self, tx: Tx, caller: Caller, community_id: int | None) -> Community:
        community = await self._find_community(tx, caller, community_id)
        if community is not None:
            return community
        assert caller.community_id is not None
        name = shorten(clean(caller.community_name), 200) or caller.community_id
        return await tx.communities.create(
            caller.platform, caller.community_id, name, self.clock.now()
        )

    async def _member(self, tx: Tx, community: Community, caller: Caller) -> Member:
        """The caller's member row, created on first contact, kept in step with the platform."""
        now = self.clock.now()
        name = shorten(clean(caller.display_name), 80) or caller.user_id
        platform_zone = valid_platform_zone(caller.timezone)
        member = await tx.members.by_platform_id(community.id, caller.user_id)
        if member is None:
            return await tx.members.add(
                community.id, caller.user_id, name, platform_zone, now,
                timezone_source="platform" if platform_zone else None,
            )
        changes = _platform_changes(member, caller)
        if not changes:
            return member
        await tx.members.update(member.id, **changes)
        return await tx.members.get(community.id, member.id) or member

    async def _context(
        self, tx: Tx, caller: Caller, community_id: int | None
    ) -> CommandContext:
        """The command's context; the community and member rows are created on first contact
        (a click in a DM may only reach a community the caller is already part of)."""
        community = await self._community(tx, caller, community_id)
        if community_id is not None and caller.community_id is None:
            existing = await tx.members.by_platform_id(community.id, caller.user_id)
            if existing is None:
                raise UserError("That button belongs to a community you're not part of.")
        me = await self._member(tx, community, caller)
        return self._make_context(tx, caller, community, me, await self._settings(tx, community))

    async def _existing_context(
        self, tx: Tx, caller: Caller, community_id: int | None
    ) -> CommandContext | None:
        """The context from existing rows only (read-only views); None for a first contact."""
        community = await self._find_community(tx, caller, community_id)
        if community is None:
            return None
        me = await tx.members.by_platform_id(community.id, caller.user_id)
        if me is None:
            return None
        changes = _platform_changes(me, caller)  # shown now, stored by the next command
        if changes:
            me = replace(me, **changes)
        return self._make_context(tx, caller, community, me, await self._settings(tx, community))

    def _make_context(
        self, tx: Tx, caller: Caller, community: Community, me: Member,
        settings: CommunityDefaults,
    ) -> CommandContext:
        return CommandContext(
            tx=tx, community=community, settings=settings, caller=caller, me=me,
            now=self.clock.now(), registry=self.registry,
        )

    # -- ids of buttons and forms ----------------------------------------------------------------

    async def _seal(self, tx: Tx, community: Community, reply: Reply) -> Reply:
        now = self.clock.now()

        async def stash(command: str) -> int:
            return await tx.communities.stash_command(community.id, command, now)

        messages = tuple([await choice_ids.seal(m, community.id, stash) for m in reply.messages])
        return Reply(messages, reply.refusal)

    async def _command_of(self, custom_id: str) -> tuple[int, str] | Reply | None:
        """The community and command a button's or form's id stands for; None for an id that
        isn't one of ours; a "busy" reply when a stashed command cannot be read now."""
        decoded = choice_ids.decode(custom_id)
        if decoded is None:
            return None
        if decoded.command is not None:
            return decoded.community_id, decoded.command
        assert decoded.stash_id is not None
        try:
            async with self.store.reading() as tx:
                command = await tx.communities.stashed_command(decoded.community_id,
                                                               decoded.stash_id)
        except (StorageBusy, StorageUnavailable) as exc:
            return busy(exc, "reading a button's command")
        return None if command is None else (decoded.community_id, command)


def _platform_changes(member: Member, caller: Caller) -> dict[str, Any]:
    """What the platform says about the member that the stored row doesn't: a new display
    name, or a new zone (followed unless the member set one by hand with `tz`)."""
    changes: dict[str, Any] = {}
    name = shorten(clean(caller.display_name), 80) or caller.user_id
    if member.display_name != name:
        changes["display_name"] = name
    platform_zone = valid_platform_zone(caller.timezone)
    follows_platform = member.timezone is None or member.timezone_source == "platform"
    if platform_zone and follows_platform and member.timezone != platform_zone:
        changes.update(timezone=platform_zone, timezone_source="platform")
    return changes


async def _check_role(spec: CommandSpec[Any], ctx: CommandContext) -> None:
    if spec.who is Role.ORGANIZER:
        ctx.require_organizer()
    elif spec.who is Role.MENTOR and await ctx.tx.profiles.get(ctx.community.id, ctx.me.id) is None:
        raise UserError("You're not a mentor yet.", "Type `mentor` to become one.")


@dataclass
class _Event:
    """A platform event that carried a command and may be delivered again (a Slack retry)."""

    platform: str
    event_id: str
    recorded: bool = False
    """Recorded as handled (with the command's changes, or right after a view/refusal)."""


def _needs_ids(reply: Reply) -> bool:
    return any(m.choices or m.form is not None for m in reply.messages)


def _should_ask_timezone(spec: CommandSpec[Any], me: Member) -> bool:
    """Ask once, after the first command of a member the platform gave no zone for."""
    return (
        me.timezone is None
        and me.timezone_asked_at is None
        and not any(p.kind is Kind.TIMEZONE for p in spec.params)
    )


def _timezone_question(settings: CommunityDefaults) -> Message:
    return (
        MessageBuilder()
        .say(f"One question, asked only once: what's your timezone? Until you tell me, I show "
             f"times in {settings.default_timezone}, this community's default. Type ")
        .hint("tz Area/City")
        .say(", for example ").hint("tz Europe/Berlin").say(" or ").hint("tz America/New_York")
        .say(".")
        .build()
    )


def refusal(err: UserError, is_command: Callable[[str], bool] | None = None) -> Reply:
    """A friendly refusal; it names the parameter that was wrong, if one was. With
    ``is_command``, the commands the hint mentions (“Type `my` to see them”) are hints."""
    # Refusals often quote what the person typed ("I don't know “@here”"): the message goes out
    # as user text (Plain), so adapters escape all of it and nothing in it can ping or link.
    msg = MessageBuilder().user_text(err.message)
    if err.hint:
        hint = " " + err.hint
        msg.extend(with_hints(hint, is_command) if is_command else [Notice(hint)])
    param = err.param if isinstance(err, ParamError) else None
    return Reply((msg.build(),), Refusal(err.message, err.hint, param))


def busy(exc: Exception | None = None, doing: str = "") -> Reply:
    """The database is busy or out of reach: nothing was done, try again shortly. Logged as a
    warning (an operator's matter, not a bug), without a trace."""
    if exc is not None:
        _storage_trouble(exc, doing)
    return Reply((text(BUSY),), Refusal(BUSY, transient=True))


def sorry() -> Reply:
    """A bug (already logged with its trace): nothing was changed."""
    return Reply((text(SORRY),), Refusal(SORRY, transient=True))


def _storage_trouble(exc: Exception, doing: str) -> None:
    log.warning("%s while %s (%s): answered busy, try again", type(exc).__name__,
                doing or "answering", shorten(str(exc), 120))


DUPLICATE = Reply(duplicate=True)
"""A platform event handled before (by this or another process): show nothing."""

