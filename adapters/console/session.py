"""A console session: one line in, everything it caused out; the API scenario tests drive.

Why a session object separate from the terminal loop: tests (and the interactive loop) feed
lines exactly as typed — bot commands, ``/as``, ``/time``, choice numbers, form answers — and
get back all the text that resulted, private messages included. Nudges due after a command or a
``/time`` jump are delivered before ``feed`` returns, so the output is deterministic.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from adapters.console.demo import COMMUNITY_ID, COMMUNITY_NAME, DEFAULT_SPEAKER, DEMO_PEOPLE
from adapters.console.messenger import ConsoleMessenger, SentMessage, Space
from adapters.console.render import ChoiceBook, readable_command, render_message
from bot.bootstrap import App, assemble
from bot.caller import Caller
from bot.clock import Clock
from bot.config import Settings, StorageSettings
from bot.messages import Attachment, FieldKind, Form, FormField, Reply
from bot.ports import ChannelPost, DirectMessage, SpacePost

log = logging.getLogger(__name__)

PLATFORM = "console"
MAX_YEAR = 9000
"""/time never goes further than this (the calendar ends at 9999; nothing is booked that far)."""
ANYONE = "*"
"""Owner of choices posted where everyone in it may click (a channel, an intro space)."""
PLAIN_COMMUNITY_NAME = "Console Community"
_TIME_STEP = re.compile(r"(\d+)\s*([wdhm])")
_TIME_ARG = re.compile(r"^\+?\s*(\d+\s*[wdhm]\s*)+$")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}

CONSOLE_HELP = """Console commands (bot commands have no slash: try `help`):
  /as <name>        speak as someone (a new name creates a new person)
  /who              people here and their timezones
  /inbox [name]     re-read private messages (yours, or someone's)
  /time +3d         move the clock forward (+90m, +25h, +3d, +1w); nudges fire on the way
  /ics 1            show attachment 1 (an invite), as a calendar would read it
  /cancel           leave a form (console commands work inside a form too)
  /help             this list
  /quit             leave (Ctrl-D works too)
A number, e.g. `1`, runs the numbered choice shown with it."""


class AdvancingClock(Clock, Protocol):
    """A clock the console can move forward (OffsetClock, ManualClock)."""

    def advance(self, delta: timedelta) -> object: ...


@dataclass
class Person:
    name: str
    user_id: str
    timezone: str | None = None
    role: str = ""
    organizer: bool = False


@dataclass
class _FormState:
    form: Form
    index: int = 0
    values: dict[str, str] = field(default_factory=dict)

    @property
    def current(self) -> FormField:
        return self.form.fields[self.index]


CONSOLE_WORDS = frozenset({"as", "who", "inbox", "time", "help", "quit", "exit", "cancel", "ics"})


def _console_word(line: str) -> bool:
    """Whether ``line`` is a console command (it works inside an open form too)."""
    return line.startswith("/") and line[1:].split(" ", 1)[0].lower() in CONSOLE_WORDS


def user_id_for(name: str) -> str:
    """A stable platform user id for a console person, derived from the name."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return "console-" + (slug or "someone")


def parse_time_jump(text: str) -> timedelta:
    """``+3d``, ``+25h``, ``+90m``, ``+1w``, ``+1d 2h`` → a timedelta; ValueError otherwise."""
    value = text.strip()
    if not value or not _TIME_ARG.match(value):
        raise ValueError("write a jump like +90m, +25h, +3d or +1w")
    total = timedelta(0)
    try:
        for amount, unit in _TIME_STEP.findall(value):
            total += timedelta(**{_UNITS[unit]: int(amount)})
    except OverflowError:
        raise ValueError("that is beyond the calendar") from None
    if total <= timedelta(0):
        raise ValueError("time only moves forward")
    return total


class ConsoleSession:
    """Everything the console shows, driven one line at a time."""

    def __init__(
        self,
        app: App,
        messenger: ConsoleMessenger,
        clock: AdvancingClock,
        *,
        community_name: str = PLAIN_COMMUNITY_NAME,
    ) -> None:
        self.app = app
        self.messenger = messenger
        self.clock = clock
        self.community_name = community_name
        self.people: dict[str, Person] = {}
        self._community_zone: str | None = None
        self.book = ChoiceBook()
        self.finished = False
        self._speaker: Person | None = None
        self._forms: dict[str, _FormState] = {}
        """Each person's open form (by user id): switching with /as keeps it for later."""
        self._attachments: list[Attachment] = []
        self._buffer: list[str] = []
        self._capturing = 0
        self.live_output: Callable[[str], None] | None = None
        """Where deliveries made outside ``feed`` go (the interactive loop prints them)."""
        messenger.on_delivery = self._delivered
        messenger.on_space = self._space_opened

    # -- public API ----------------------------------------------------------------------------

    @property
    def speaker(self) -> Person | None:
        return self._speaker

    @property
    def _form(self) -> _FormState | None:
        return self._forms.get(self._speaker.user_id) if self._speaker else None

    @property
    def in_form(self) -> bool:
        return self._form is not None

    def prompt(self) -> str:
        if self._form is not None:
            return f"  {self._form.current.label} > "
        now = self.clock.now()
        if self._speaker is None:
            return f"[{self.community_name} · nobody yet: type /as <name> · " \
                   f"{now:%a} {now.day} {now:%b %H:%M} UTC] > "
        zone = self._speaker.timezone or self._default_zone
        local = now.astimezone(ZoneInfo(zone))
        return (
            f"[{self.community_name} · you are {self._speaker.name} ({zone}) · "
            f"{local:%a} {local.day} {local:%b %H:%M}] > "
        )

    def caller(self, person: Person | None = None) -> Caller:
        who = person or self._speaker
        if who is None:
            raise LookupError("nobody is speaking yet")
        return Caller(
            platform=PLATFORM,
            community_id=COMMUNITY_ID,
            community_name=self.community_name,
            user_id=who.user_id,
            display_name=who.name,
            timezone=who.timezone,
            is_platform_admin=who.organizer,
        )

    async def feed(self, line: str) -> str:
        """Process one line as typed at the prompt; return everything it printed."""
        self._capturing += 1
        try:
            await self._line(line.rstrip("\r\n"))
            await self.deliver_due()
            await self._refresh_speaker()
        finally:
            self._capturing -= 1
        return self.take_output()

    def take_output(self) -> str:
        out = "\n".join(self._buffer)
        self._buffer.clear()
        return out

    async def deliver_due(self) -> None:
        """Send every due nudge now (after each command and each /time)."""
        await self.app.engine.run_due()

    async def add_person(
        self, name: str, timezone: str | None = None, *, role: str = "", organizer: bool = False
    ) -> Person:
        """Know a person by name (found in the database, or new); creates the member row."""
        person = self.people.get(name.lower())
        if person is None:
            user_id = await self._existing_user_id(name) or user_id_for(name)
            person = Person(name, user_id, timezone, role, organizer)
            self.people[name.lower()] = person
        await self.app.core.ensure_member(self.caller(person))
        await self._refresh(person)
        return person

    # -- lines -------------------------------------------------------------------------------

    async def _line(self, line: str) -> None:
        stripped = line.strip()
        if self._form is not None and not _console_word(stripped):
            await self._form_answer(line)
            return
        if not stripped:
            return
        if stripped.startswith("/"):
            await self._console_command(stripped)
            return
        if self._speaker is None:
            self._print("Nobody is speaking yet: type /as <name> first (e.g. /as Ada).")
            return
        if stripped.isdigit():
            shown = self.book.get(int(stripped))
            if shown is None:
                self._print(f"There is no choice [{stripped}] on screen.")
                return
            if shown.owner not in (ANYONE, self._speaker.user_id):
                owner = next((p.name for p in self.people.values()
                              if p.user_id == shown.owner), "someone else")
                self._print(f"Choice [{stripped}] was shown to {owner}, not to you: "
                            f"/as {owner} to click it.")
                return
            self._print(f"({self._readable(shown.command)})")
            reply = await self.app.core.handle_click(self.caller(), shown.id)
        else:
            reply = await self.app.core.handle_text(self.caller(), stripped)
        self._show_reply(reply)

    async def _console_command(self, line: str) -> None:
        word, _, arg = line[1:].partition(" ")
        word = word.lower()
        arg = arg.strip()
        if word == "as":
            await self._switch(arg)
        elif word == "who":
            await self._who()
        elif word == "inbox":
            await self._inbox(arg)
        elif word == "time":
            await self._time(arg)
        elif word == "help":
            self._print(CONSOLE_HELP)
        elif word in ("quit", "exit"):
            self.finished = True
            self._print("Bye!")
        elif word == "cancel":
            if self._form is not None and self._speaker is not None:
                del self._forms[self._speaker.user_id]
                self._print("Form cancelled; nothing was sent.")
            else:
                self._print("No form is open.")
        elif word == "ics":
            self._show_attachment(arg)
        else:
            hint = ""
            if word in self.app.registry.grammar.verbs:
                hint = f" Bot commands have no slash: type `{line[1:]}`."
            self._print(f"Unknown console command /{word[:30]}.{hint} Type /help for the list.")

    async def _switch(self, name: str) -> None:
        name = " ".join(name.split())
        if not name or len(name) > 40:
            self._print("Who? Type /as <name>, e.g. /as Ada (up to 40 characters).")
            return
        known = name.lower() in self.people
        person = await self.add_person(name)
        self._speaker = person
        zone = person.timezone or self._default_zone
        if known:
            self._print(f"You are now {person.name} ({zone}).")
        else:
            self._print(
                f"You are now {person.name} ({zone}), new here. "
                f"Set your timezone with `tz Area/City`."
            )
        unread = len(self.messenger.dms_to(person.user_id))
        if unread:
            self._print(f"{unread} private message(s) for {person.name}: /inbox to read them.")

    async def _who(self) -> None:
        if not self.people:
            self._print("Nobody yet. Type /as <name> to start.")
            return
        for person in self.people.values():
            await self._refresh(person)
            me = "  ← you" if person is self._speaker else ""
            role = f"  {person.role}" if person.role else ""
            zone = person.timezone or f"{self._default_zone} (community default)"
            self._print(f"{person.name:<10} {zone:<22}{role}{me}")

    async def _inbox(self, name: str) -> None:
        person = self.people.get(name.lower()) if name else self._speaker
        if person is None:
            self._print(f"I don't know {name!r}. /who lists people." if name else
                        "Nobody is speaking yet: type /as <name> first.")
            return
        records = self.messenger.dms_to(person.user_id)
        spaces = self.messenger.spaces_of(person.user_id)
        if not records and not spaces:
            self._print(f"No private messages for {person.name} yet.")
            return
        for record in records:
            self._print(self._format_delivery(record))
        for space in spaces:
            for record in self.messenger.in_space(space.ref):
                self._print(self._format_delivery(record))

    async def _time(self, arg: str) -> None:
        try:
            delta = parse_time_jump(arg)
            target = self.clock.now() + delta
            if target.year > MAX_YEAR:
                raise OverflowError
        except ValueError as exc:
            self._print(f"/time: {exc} (e.g. /time +3d).")
            return
        except OverflowError:
            self._print(f"/time: that is beyond the calendar; jump less than to the year "
                        f"{MAX_YEAR} (e.g. /time +3d).")
            return
        await self._walk_to(target)
        self._print(f"⏩ It is now {self._local(self.clock.now())}.")

    async def _walk_to(self, target: datetime) -> None:
        """Move the clock to ``target`` one due nudge at a time, delivering each at its moment.

        Jumping straight to ``target`` would look like downtime: reminders for a session that
        has started meanwhile are (rightly) skipped as stale. Stepping shows the ladder as it
        would unfold, each batch stamped with the time it fired.
        """
        while True:
            async with self.app.store.reading() as tx:
                due = await tx.nudges.next_due()
            now = self.clock.now()
            if due is None or due > target:
                break
            if due > now:
                self.clock.advance(due - now)
                self._print(f"⏱ {self._local(due)}")
            before = self.clock.now()
            await self.deliver_due()
            async with self.app.store.reading() as tx:
                again = await tx.nudges.next_due()
            if again is not None and again <= before:
                break  # held back (e.g. a platform rate limit): the scheduler retries later
        now = self.clock.now()
        if target > now:
            self.clock.advance(target - now)

    def _local(self, at: datetime) -> str:
        zone = (self._speaker.timezone if self._speaker else None) or self._default_zone
        local = at.astimezone(ZoneInfo(zone))
        return f"{local:%a} {local.day} {local:%b %Y %H:%M} ({zone})"

    # -- forms -------------------------------------------------------------------------------

    def _start_form(self, form: Form) -> None:
        assert self._speaker is not None
        self._forms[self._speaker.user_id] = _FormState(form)
        self._print(f"📝 {form.title}: answer each field (/cancel to leave).")
        self._describe_field()

    def _describe_field(self) -> None:
        assert self._form is not None
        f = self._form.current
        optional = "optional" if f.initial else "optional, Enter to skip"
        bits = ["required" if f.required else optional]
        if f.min_length:
            bits.append(f"at least {f.min_length} characters")
        bits.append(f"up to {f.max_length} characters")
        if f.kind is FieldKind.CHOICE and f.options:
            bits.append("one of: " + ", ".join(f"{i}) {o}" for i, o in enumerate(f.options, 1)))
        if f.initial:
            bits.append(f"Enter keeps “{f.initial}”")
        if f.placeholder:
            example = f.placeholder
            bits.append(example if example.startswith("e.g.") else f"e.g. {example}")
        n, total = self._form.index + 1, len(self._form.form.fields)
        self._print(f"  ({n}/{total}) {f.label} ({'; '.join(bits)})")

    async def _form_answer(self, line: str) -> None:
        state = self._form
        assert state is not None and self._speaker is not None
        value = line.strip()
        f = state.current
        if not value:
            value = f.initial
        if f.kind is FieldKind.CHOICE and f.options and value:
            if value.isdigit() and 1 <= int(value) <= len(f.options):
                value = f.options[int(value) - 1]
            elif value.lower() not in (o.lower() for o in f.options):
                self._print(f"  Please pick one of: {', '.join(f.options)}.")
                return
        if not value and f.required:
            self._print(f"  {f.label} is required (/cancel to leave the form).")
            return
        if len(value) > f.max_length:
            self._print(f"  That is {len(value)} characters; at most {f.max_length}, please.")
            return
        if value and len(value) < f.min_length:
            self._print(f"  That is {len(value)} characters; at least {f.min_length}, please.")
            return
        if value:
            refused = await self.app.core.check_field(self.caller(), state.form.id, f.name,
                                                      value)
            if refused is not None:  # asked again at once, with the reason
                self._print(f"  {refused.message} {refused.hint}".rstrip())
                return
            state.values[f.name] = value
        state.index += 1
        if state.index < len(state.form.fields):
            self._describe_field()
            return
        form, values = state.form, state.values
        del self._forms[self._speaker.user_id]
        reply = await self.app.core.handle_form(self.caller(), form.id, values)
        self._show_reply(reply)

    # -- output ------------------------------------------------------------------------------

    def _show_attachment(self, arg: str) -> None:
        """``/ics N``: attachment N as text (an .ics invite reads like a calendar entry)."""
        if not arg.strip().isdigit() or not 1 <= int(arg) <= len(self._attachments):
            count = len(self._attachments)
            self._print(f"/ics: give the number of an attachment shown so far (1 to {count})."
                        if count else "/ics: no attachment has been shown yet.")
            return
        attachment = self._attachments[int(arg) - 1]
        self._print(f"{attachment.filename} ({attachment.content_type}):")
        self._print(attachment.data.decode("utf-8", "replace").replace("\r\n", "\n").rstrip())

    def _print(self, text: str) -> None:
        if self._capturing or self.live_output is None:
            self._buffer.append(text)
        else:
            self.live_output(text)

    def _show_reply(self, reply: Reply) -> None:
        form: Form | None = None
        for message in reply.messages:
            self._print(render_message(message, self.book, self._speaker_id,
                                       show_command=self._readable,
                                       attachments=self._attachments))
            form = form or message.form
        if form is not None:
            self._start_form(form)

    def _delivered(self, record: SentMessage) -> None:
        self._print(self._format_delivery(record))

    def _space_opened(self, space: Space) -> None:
        self._print(f"→ private space opened for {_names(space)}")

    def _format_delivery(self, record: SentMessage) -> str:
        dest = record.destination
        owner = ANYONE
        if isinstance(dest, DirectMessage):
            head = f"→ DM to {dest.member.display_name}: "
            owner = dest.member.platform_user_id
        elif isinstance(dest, SpacePost):
            space = self.messenger.spaces.get(dest.space_ref)
            head = f"→ in private space ({_names(space) if space else dest.space_ref}): "
        elif isinstance(dest, ChannelPost):
            head = f"→ #{dest.channel}: "
        else:  # pragma: no cover - Destination is a closed union
            head = "→ "
        body = render_message(
            record.message, self.book, owner, indent="    ", show_command=self._readable,
            attachments=self._attachments,
        )
        return head + body.lstrip()

    def _readable(self, command: str) -> str:
        names = {p.user_id: p.name for p in self.people.values()}
        return readable_command(command, names)

    @property
    def _speaker_id(self) -> str:
        return self._speaker.user_id if self._speaker else ANYONE

    # -- state -------------------------------------------------------------------------------

    @property
    def _default_zone(self) -> str:
        """The community's default zone: as configured, or as an organizer last set it."""
        return self._community_zone or self.app.settings.community.default_timezone

    async def _existing_user_id(self, name: str) -> str | None:
        async with self.app.store.reading() as tx:
            community = await tx.communities.get(PLATFORM, COMMUNITY_ID)
            if community is None:
                return None
            found = await tx.members.named(community.id, name)
        return found[0].platform_user_id if len(found) == 1 else None

    async def _refresh(self, person: Person) -> None:
        async with self.app.store.reading() as tx:
            community = await tx.communities.get(PLATFORM, COMMUNITY_ID)
            member = (
                await tx.members.by_platform_id(community.id, person.user_id)
                if community is not None else None
            )
            overrides = await tx.communities.settings(community.id) if community else {}
        self._community_zone = str(overrides.get("default_timezone") or "") or None
        if member is not None:
            person.timezone = member.timezone
            person.name = member.display_name

    async def _refresh_speaker(self) -> None:
        if self._speaker is not None:
            await self._refresh(self._speaker)

    async def seed_demo(self) -> None:
        """Create the demo community on first run (nothing happens if it exists)."""
        async with self.app.store.reading() as tx:
            exists = await tx.communities.get(PLATFORM, COMMUNITY_ID) is not None
        for demo in DEMO_PEOPLE:
            person = await self.add_person(
                demo.name, demo.timezone, role=demo.role, organizer=demo.name == "Kofi"
            )
            if exists:
                continue
            for command in (f"tz {demo.timezone}", *demo.commands):
                reply = await self.app.core.handle_text(self.caller(person), command)
                log.debug("seed %s: %s → %s", demo.name, command, reply.plain_text())
        self.people["kofi"].role += " and organizer"
        self._speaker = self.people[DEFAULT_SPEAKER.lower()]
        await self.deliver_due()
        self._buffer.clear()


def _names(space: Space) -> str:
    names = [m.display_name for m in space.members]
    return " & ".join(names) if names else space.title


@asynccontextmanager
async def open_console(
    db_url: str,
    clock: AdvancingClock,
    *,
    seed: bool = False,
    settings: Settings | None = None,
    start_scheduler: bool = False,
) -> AsyncIterator[ConsoleSession]:
    """A ready console session over ``db_url`` (migrated; demo seeded if ``seed``).

    Tests keep ``start_scheduler`` False: no background timers, nudges fire in ``feed``.
    """
    base = settings or Settings()
    settings = base.model_copy(update={"storage": StorageSettings(url=db_url)})
    messenger = ConsoleMessenger()
    async with assemble(settings, messenger, clock, start_scheduler=start_scheduler) as app:
        session = ConsoleSession(
            app, messenger, clock,
            community_name=COMMUNITY_NAME if seed else PLAIN_COMMUNITY_NAME,
        )
        if seed:
            await session.seed_demo()
        yield session
