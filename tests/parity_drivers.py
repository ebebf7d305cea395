"""The parity journey's three drivers: each performs a neutral step the platform's own way and
reads back what each person was shown.

* Console: lines typed into a ``ConsoleSession`` (``/as``, commands, choice numbers, form
  answers one field at a time, ``/time``); answers read from what it printed, deliveries from
  its messenger's records rendered as it prints them.
* Slack: the real Bolt app over Socket Mode against the stand-in (``tests/slack_harness.py``):
  ``/mentor`` slash commands, ``block_actions`` on the buttons shown, ``view_submission`` of the
  modals opened; answers are the ``response_url`` posts, the messages in the bot's DM and the
  modals opened; nudges are the DM and group-DM messages that carry a nudge key.
* Discord: the real discord.py client against the stand-in (``tests/discord_harness.py``):
  INTERACTION_CREATE slash commands with typed options, component clicks, modal submits;
  answers are the interaction responses and follow-ups, nudges the DM and thread messages.

A step is over when the platform has finished answering it (Slack: the adapter's interaction
tasks; Discord: its interaction handler), then due nudges are delivered, as the console does
after every line. Each driver reads its own markup back into meaning (:class:`tests.parity.Shown`)
at once, before a later click edits the message it was on.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from adapters.console.messenger import SentMessage
from adapters.console.render import render_segments
from adapters.console.session import ANYONE, ConsoleSession, open_console, user_id_for
from adapters.discord.commands import BOOLEAN, INTEGER, USER
from bot.choice_ids import decode
from bot.clock import ManualClock
from bot.messages import Message
from bot.ports import ChannelPost, DirectMessage, SpacePost
from bot.repositories import Store
from bot.syntax import Grammar, format_command
from tests.discord_harness import SAFETY, Bot, discord_bot
from tests.discord_harness import shown as discord_shown
from tests.parity import (
    JOURNEY,
    MENTEE,
    MENTOR,
    PAUSE,
    SPACE,
    START,
    ZONES,
    Advance,
    Click,
    Fill,
    Member,
    Outcome,
    Say,
    Shown,
    Step,
    Value,
    display_names,
    end_state,
    facts_of,
    fallback_moments,
    moment,
    normalize,
)
from tests.slack_harness import SlackWorld, slack_world
from tests.standins.discord import ALICE_ID, BOB_ID, InteractionHandle, StoredMessage
from tests.standins.slack import (
    ALICE,
    BOB,
    GENERAL,
    Ack,
    EphemeralMessage,
    ResponsePost,
    SlackMessage,
)
from tests.template_db import migrated_sqlite_url

log = logging.getLogger(__name__)

PLATFORMS = ("console", "slack", "discord")
_CODE = re.compile(r"`([^`\n]+)`")


class Driver(Protocol):
    platform: str
    roles: dict[str, str]
    """Platform user id → role."""
    names: dict[str, str]
    """Role → the display name the platform gives that person."""
    store: Store
    grammar: Grammar
    shown: list[Shown]

    async def act(self, index: int, step: Step) -> None: ...


def _walk(step: Step) -> timedelta:
    """How far the clock moves after ``step``, delivering what falls due on the way."""
    return step.by if isinstance(step, Advance) else PAUSE


def _roles_in(title: str, names: Mapping[str, str]) -> str:
    """A form title with people's names as roles (``Ask Alice`` → ``Ask <mentor>``)."""
    for role, name in names.items():
        title = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", f"<{role}>", title)
    return title


def _matches(command: str | None, wanted: str) -> bool:
    return command is not None and (command == wanted or command.startswith(wanted + " "))


def _mentions(text: str, names: Mapping[str, str], ids: Mapping[str, str],
              ping: re.Pattern[str]) -> tuple[str, ...]:
    """Roles mentioned in ``text``: real mentions (``ping``'s group 1 is the platform id) and
    names written as ``@name``, in the order they appear."""
    found = [(m.start(), ids.get(m[1], f"? {m[1]}")) for m in ping.finditer(text)]
    for role, name in names.items():
        found += [(m.start(), role) for m in re.finditer("@" + re.escape(name) + r"(?!\w|\.\w)",
                                                          text)]
    return tuple(role for _pos, role in sorted(found))


# -- console ----------------------------------------------------------------------------------

_PROMPT = re.compile(r"^  \((\d+)/(\d+)\) (.*) \((?:required|optional)[;,)]")
_FORM = re.compile(r"^📝 (.+): answer each field")
_NUMBERED = re.compile(r"^\[(\d+)\] ")
_ATTACHED = re.compile(r"^\(attachment \d+: ([^,]+), ")
_NO_PING = re.compile(r"(?!)")


class ConsoleDriver:
    platform = "console"

    def __init__(self, session: ConsoleSession) -> None:
        self.session = session
        self.names = {MENTOR: "Alice", MENTEE: "Bob"}
        self.ids = {role: user_id_for(name) for role, name in self.names.items()}
        self.roles = {uid: role for role, uid in self.ids.items()}
        self.store = session.app.store
        self.grammar = session.app.registry.grammar
        self.labels: dict[str, set[str]] = {}
        for spec in session.app.registry.commands:
            for p in spec.params:
                self.labels.setdefault(p.label, set()).add(p.name)
        self.shown: list[Shown] = []
        self._sent = 0
        self._numbers = 0
        self._last: dict[str, str] = {}

    async def act(self, index: int, step: Step) -> None:
        said: list[tuple[str, bool]] = []  # what was printed, and whether it opens with an echo
        if not isinstance(step, Advance):
            await self._as(step.who)
            if isinstance(step, Say):
                values = {k: self._value(v) for k, v in step.args.items()}
                spec = self.grammar.spec(step.verb)
                assert spec is not None, step.verb
                said.append((await self._feed(step.who, format_command(spec, values)), False))
            elif isinstance(step, Click):
                said.append((await self._feed(step.who, str(self._number(step))), True))
            else:
                said += await self._fill(step)
        await self.session.feed(f"/time +{int(_walk(step).total_seconds() // 60)}m")
        self._collect(index, step, said)

    async def _as(self, who: str) -> None:
        speaker = self.session.speaker
        if speaker is None or speaker.user_id != self.ids[who]:
            await self.session.feed(f"/as {self.names[who]}")

    async def _feed(self, who: str, line: str) -> str:
        out = await self.session.feed(line)
        self._last[who] = out
        return out

    def _value(self, value: Value) -> str:
        return self.names[value.role] if isinstance(value, Member) else value

    def _number(self, step: Click) -> int:
        """The newest numbered choice shown to ``step.who`` (or to anyone) that runs the
        command: typing its number is the console's click."""
        while self.session.book.get(self._numbers + 1) is not None:
            self._numbers += 1
        for number in range(self._numbers, 0, -1):
            choice = self.session.book.get(number)
            assert choice is not None
            decoded = decode(choice.id)
            if choice.owner in (ANYONE, self.ids[step.who]) and decoded is not None \
                    and _matches(decoded.command, step.command):
                return number
        raise AssertionError(f"no choice running {step.command!r} was shown to {step.who}")

    async def _fill(self, step: Fill) -> list[tuple[str, bool]]:
        """Answer the open form field by field, as its prompts ask (Enter keeps a value)."""
        assert self.session.in_form, f"{step.who} has no form open"
        said: list[tuple[str, bool]] = []
        for _ in range(10):
            if not self.session.in_form:
                return said
            prompts = [m for m in map(_PROMPT.match, self._last[step.who].splitlines()) if m]
            assert prompts, self._last[step.who]
            names = self.labels.get(prompts[-1][3], set()) & set(step.values)
            answer = step.values[names.pop()] if names else ""
            said.append((await self._feed(step.who, answer), False))
        raise AssertionError(f"the form did not take {dict(step.values)}: {said[-1][0]}")

    def _collect(self, index: int, step: Step, said: list[tuple[str, bool]]) -> None:
        if not isinstance(step, Advance):
            self._answer(index, step.who, said)
        for record in self.session.messenger.sent[self._sent:]:
            self.shown.append(self._delivery(index, record))
        self._sent = len(self.session.messenger.sent)

    def _answer(self, index: int, who: str, said: list[tuple[str, bool]]) -> None:
        """The answer printed for the person's own line(s): up to the first delivery."""
        lines: list[str] = []
        for out, echoed in said:
            for n, line in enumerate(out.splitlines()):
                if line.startswith(("→ ", "⏱", "⏩")):
                    break
                if not (echoed and n == 0) and not _PROMPT.match(line):
                    lines.append(line)
        forms = [m[1] for m in map(_FORM.match, lines) if m]
        files = [m[1] for m in map(_ATTACHED.match, lines) if m]
        choices = []
        for m in map(_NUMBERED.match, lines):
            if m:
                choice = self.session.book.get(int(m[1]))
                assert choice is not None
                choices.append(choice.id)
        text = "\n".join(line for line in lines
                         if not (_FORM.match(line) or _NUMBERED.match(line)
                                 or _ATTACHED.match(line)))
        if not (text.strip() or forms or files or choices):
            return
        self.shown.append(self._read(index, who, None, text, tuple(choices), tuple(files),
                                     tuple(_roles_in(f, self.names) for f in forms)))

    def _delivery(self, index: int, record: SentMessage) -> Shown:
        destination = record.destination
        if isinstance(destination, DirectMessage):
            to = self.roles.get(destination.member.platform_user_id, "?")
        elif isinstance(destination, SpacePost):
            to = SPACE
        else:
            assert isinstance(destination, ChannelPost)
            to = f"#{destination.channel}"
        message: Message = record.message
        return self._read(index, to, record.idempotency_key, render_segments(message.segments),
                          tuple(c.id for c in message.choices),
                          tuple(a.filename for a in message.attachments), ())

    def _read(self, index: int, to: str, key: str | None, text: str,
              choice_ids: tuple[str, ...], files: tuple[str, ...],
              forms: tuple[str, ...]) -> Shown:
        return Shown(
            index, to, key, hints=tuple(_CODE.findall(text)),
            mentioned=_mentions(text, self.names, self.roles, _NO_PING),
            moments=tuple(fallback_moments(text, ZONES.get(to))),
            choice_ids=choice_ids, files=files, forms=forms, text=text,
        )


# -- Slack -------------------------------------------------------------------------------------

_SLACK_PING = re.compile(r"<@(U[A-Z0-9]+)(?:\|[^>]*)?>")
_SLACK_NAME = re.compile(r"\*@([^*\n]+)\*")
_SLACK_DATE = re.compile(r"<!date\^(\d+)\^([^|^]*)(?:\^[^|]*)?\|[^>]*>")
_SLACK_STYLES = {"{date_short_pretty} {time}": "at", "{date_short_pretty}": "date",
                 "{time}": "time", "{ago}": "at"}
SLASH = "/mentor"


def _slack_text(blocks: list[dict[str, Any]] | None, text: str) -> str:
    """The mrkdwn a person reads: sections and context lines (or the bare text)."""
    out: list[str] = []
    for block in blocks or []:
        if block.get("type") == "section":
            out.append(str(block["text"]["text"]))
        elif block.get("type") == "context":
            out += [str(e.get("text", "")) for e in block.get("elements", [])]
    return "\n".join(out) if blocks else text


def _slack_buttons(blocks: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [e for b in blocks or [] if b.get("type") == "actions"
            for e in b.get("elements", []) if e.get("type") == "button"]


class SlackDriver:
    platform = "slack"

    def __init__(self, world: SlackWorld) -> None:
        self.world = world
        self.slack = world.slack
        self.ids = {MENTOR: ALICE, MENTEE: BOB}
        self.roles = {uid: role for role, uid in self.ids.items()}
        self.names = {role: self.slack.users[uid].display_name for role, uid in self.ids.items()}
        self.store = world.app.store
        self.grammar = world.app.registry.grammar
        self.shown: list[Shown] = []
        self._urls: dict[str, str] = {}
        """response_url → the role whose command or click it answers."""
        self._visible: list[tuple[str, SlackMessage | ResponsePost]] = []
        self._submitted: set[str] = set()
        self._posts = self._ephemerals = self._views = self._space = 0
        self._dms = dict.fromkeys(self.ids, 0)

    async def act(self, index: int, step: Step) -> None:
        if not isinstance(step, Advance):
            user = self.ids[step.who]
            payloads = self.slack.payloads
            if isinstance(step, Say):
                spec = self.grammar.spec(step.verb)
                assert spec is not None, step.verb
                values = {k: self._value(v) for k, v in step.args.items()}
                inbound = payloads.slash_command(SLASH, format_command(spec, values), user=user)
            elif isinstance(step, Click):
                on, action_id = self._button(step)
                inbound = payloads.block_action(action_id, user=user, message=on)
            else:
                view_id = self._view(step)
                inbound = payloads.view_submission(view_id, values=self._state(view_id, step))
            if "response_url" in inbound.body:
                self._urls[inbound.body["response_url"]] = step.who
            ack = await self.world.deliver(inbound)
            assert isinstance(ack, Ack), ack
            if isinstance(step, Fill):
                assert ack.payload is None, f"the modal was not accepted: {ack.payload}"
            await self._settled()
        await self.world.advance(_walk(step))
        self._collect(index)

    def _value(self, value: Value) -> str:
        if isinstance(value, Member):
            uid = self.ids[value.role]
            return f"<@{uid}|{self.slack.user_name(uid)}>"
        return html.escape(value, quote=False)  # Slack sends &, < and > as entities

    async def _settled(self) -> None:
        """Until the adapter has finished every interaction it started (it acks first and
        works in a task of its own)."""
        bot = self.world.adapter.bot
        assert bot is not None
        await asyncio.wait_for(bot.settled(), SAFETY)

    def _button(self, step: Click) -> tuple[SlackMessage | EphemeralMessage, str]:
        for to, where in reversed(self._visible):
            if to not in (step.who, SPACE):
                continue
            if isinstance(where, ResponsePost):
                blocks = where.body.get("blocks")
                on: SlackMessage | EphemeralMessage = EphemeralMessage(
                    GENERAL, self.ids[step.who], self.slack.next_ts(),
                    str(where.body.get("text") or ""), blocks)
            else:  # as it is now: a click may have replaced its buttons since
                on = next(m for m in self.slack.messages_in(where.channel) if m.ts == where.ts)
                blocks = on.blocks
            for button in _slack_buttons(blocks):
                decoded = decode(str(button.get("value") or ""))
                if decoded is not None and _matches(decoded.command, step.command):
                    return on, str(button["action_id"])
        raise AssertionError(f"no button running {step.command!r} was shown to {step.who}")

    def _view(self, step: Fill) -> str:
        opened = [v for v in self.slack.views_opened
                  if v.user == self.ids[step.who] and v.view_id not in self._submitted]
        assert opened, f"{step.who} has no modal open"
        self._submitted.add(opened[-1].view_id)
        return opened[-1].view_id

    def _state(self, view_id: str, step: Fill) -> dict[str, Any]:
        """``state.values`` as Slack sends them: the values typed, else what the modal showed."""
        view = self.slack.view(view_id)
        values: dict[str, Any] = {}
        for block in view["blocks"]:
            if block.get("type") != "input":
                continue
            name, element = str(block["block_id"]), block["element"]
            if element["type"] == "static_select":
                wanted = step.values.get(name) or (element.get("initial_option") or {}).get(
                    "value")
                option = next((o for o in element["options"] if o["value"] == wanted), None)
                state = {"type": "static_select", "selected_option": option}
            else:
                state = {"type": element["type"],
                         "value": step.values.get(name, element.get("initial_value"))}
            values[name] = {"value": state}
        unknown = set(step.values) - set(values)
        assert not unknown, f"the modal has no field {sorted(unknown)}"
        return values

    def _collect(self, index: int) -> None:
        for post in self.slack.response_posts[self._posts:]:
            if post.body.get("replace_original"):
                continue  # the clicked ephemeral message, marked as chosen: not a new message
            to = self._urls[post.url]
            self.shown.append(self._read(index, to, None, post.body.get("blocks"),
                                         str(post.body.get("text") or ""), ()))
            self._visible.append((to, post))
        self._posts = len(self.slack.response_posts)
        for ephemeral in self.slack.ephemerals[self._ephemerals:]:
            self.shown.append(self._read(index, self.roles[ephemeral.user], None,
                                         ephemeral.blocks, ephemeral.text, ()))
        self._ephemerals = len(self.slack.ephemerals)
        for opened in self.slack.views_opened[self._views:]:
            title = str(opened.view["title"]["text"])
            self.shown.append(Shown(index, self.roles[opened.user], None,
                                    forms=(_roles_in(title, self.names),), text=title))
        self._views = len(self.slack.views_opened)
        for role, uid in self.ids.items():
            dm = self.slack.dm_messages_to(uid)
            self._messages(index, role, dm[self._dms[role]:])
            self._dms[role] = len(dm)
        space = self.slack.group_dm_of(self.ids.values())
        if space is not None:
            posts = [m for m in self.slack.messages_in(space) if m.by_bot]
            self._messages(index, SPACE, posts[self._space:])
            self._space = len(posts)

    def _messages(self, index: int, to: str, messages: list[SlackMessage]) -> None:
        """Messages in a conversation, in order; a shared file belongs to the message after
        it (files go first, the message that carries the nudge key last)."""
        files: list[str] = []
        for message in messages:
            if message.files:
                files += [str(f.get("title") or f.get("name")) for f in message.files]
                continue
            metadata = message.metadata or {}
            key = (metadata.get("event_payload") or {}).get("key") \
                if metadata.get("event_type") == "mentorbot_nudge" else None
            self.shown.append(self._read(index, to, key, message.blocks, message.text,
                                         tuple(files)))
            self._visible.append((to, message))
            files = []
        assert not files, f"files without their message: {files}"

    def _read(self, index: int, to: str, key: str | None, blocks: list[dict[str, Any]] | None,
              text: str, files: tuple[str, ...]) -> Shown:
        markup = _slack_text(blocks, text)
        hints = []
        for code in _CODE.findall(markup):
            command = html.unescape(code)
            hints.append(command[len(SLASH) + 1:] if command.startswith(SLASH + " ") else command)
        found = [(m.start(), self.roles.get(m[1], f"? {m[1]}"))
                 for m in _SLACK_PING.finditer(markup)]
        by_name = {name: role for role, name in self.names.items()}
        found += [(m.start(), by_name.get(html.unescape(m[1]), f"? {m[1]}"))
                  for m in _SLACK_NAME.finditer(markup)]
        moments = [moment(datetime.fromtimestamp(int(m[1]), UTC),
                          _SLACK_STYLES.get(m[2], m[2]), ZONES.get(to))
                   for m in _SLACK_DATE.finditer(markup)]
        return Shown(index, to, key, hints=tuple(hints),
                     mentioned=tuple(role for _pos, role in sorted(found)),
                     moments=tuple(moments),
                     choice_ids=tuple(str(b.get("value") or "") for b in _slack_buttons(blocks)),
                     files=files, text=markup)


# -- Discord ----------------------------------------------------------------------------------

_DISCORD_PING = re.compile(r"<@!?(\d+)>")
_DISCORD_TIME = re.compile(r"<t:(-?\d+):([tTdDfFR])>")
_DISCORD_STYLES = {"F": "at", "f": "at", "R": "at", "D": "date", "d": "date", "t": "time",
                   "T": "time"}
_DISCORD_HINT = re.compile(r"</([-_a-z0-9]+(?: [-_a-z0-9]+){0,2}):\d+>(?: `([^`\n]*)`)?"
                           r"|`([^`\n]+)`")


class Tracked:
    """The adapter's interaction handler, counting the interactions it is answering: a step
    is over when none is under way (discord.py runs each in a task of its own)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.busy = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def _run(self, work: Any) -> None:
        self.busy += 1
        self.idle.clear()
        try:
            await work
        finally:
            self.busy -= 1
            if not self.busy:
                self.idle.set()

    async def on_interaction(self, interaction: Any) -> None:
        await self._run(self.inner.on_interaction(interaction))

    async def on_click(self, interaction: Any, custom_id: str) -> None:
        await self._run(self.inner.on_click(interaction, custom_id))

    async def on_retry(self, interaction: Any, token: str) -> None:
        await self._run(self.inner.on_retry(interaction, token))


class DiscordDriver:
    platform = "discord"

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.sd = bot.sd
        self.users = {MENTOR: "alice", MENTEE: "bob"}
        self.ids = {MENTOR: ALICE_ID, MENTEE: BOB_ID}
        self.roles = {uid: role for role, uid in self.ids.items()}
        self.names = {MENTOR: "Alice", MENTEE: "Bob"}
        self.store = bot.app.store
        self.grammar = bot.app.registry.grammar
        self.book = bot.adapter.book
        self.verbs = {sub.slash: sub.verb for subs in self.book.tops.values() for sub in subs}
        self.tracked = Tracked(bot.adapter.client.handler)
        bot.adapter.client.handler = self.tracked
        self.shown: list[Shown] = []
        self._handles: list[tuple[str, InteractionHandle]] = []
        self._answered = 0
        self._modals: list[tuple[str, InteractionHandle]] = []
        self._visible: list[tuple[str, str]] = []
        self._dms = dict.fromkeys(self.ids, 0)
        self._threads: dict[str, int] = {}

    async def act(self, index: int, step: Step) -> None:
        if not isinstance(step, Advance):
            user = self.users[step.who]
            if isinstance(step, Say):
                sub = self.book.subcommand(step.verb)
                assert sub is not None, step.verb
                handle = await self.sd.slash(sub.slash, self._options(step), user=user)
            elif isinstance(step, Click):
                message_id, custom_id = self._button(step)
                handle = await self.sd.click(message_id, custom_id, user=user)
            else:
                opener = self._modal(step)
                handle = await self.sd.submit_modal(opener, self._inputs(opener, step))
            await handle.reply(timeout=SAFETY)
            await asyncio.wait_for(self.tracked.idle.wait(), SAFETY)
            self._handles.append((step.who, handle))
        await self.bot.advance(_walk(step))
        self._collect(index)

    def _options(self, step: Say) -> dict[str, Any]:
        sub = self.book.subcommand(step.verb)
        assert sub is not None
        options: dict[str, Any] = {}
        for name, value in step.args.items():
            option = next(o for o in sub.options if o.param.name == name)
            if isinstance(value, Member):
                uid = self.ids[value.role]
                options[option.name] = uid if option.type == USER else f"<member:{uid}>"
            elif option.type == INTEGER:
                options[option.name] = int(value)
            elif option.type == BOOLEAN:
                options[option.name] = value == "yes"
            else:
                options[option.name] = value
        return options

    def _button(self, step: Click) -> tuple[str, str]:
        for to, message_id in reversed(self._visible):
            if to not in (step.who, SPACE):
                continue
            for button in _discord_buttons(self.sd.message(message_id)):
                decoded = decode(str(button.get("custom_id") or ""))
                if not button.get("disabled") and decoded is not None \
                        and _matches(decoded.command, step.command):
                    return message_id, str(button["custom_id"])
        raise AssertionError(f"no button running {step.command!r} was shown to {step.who}")

    def _modal(self, step: Fill) -> InteractionHandle:
        opened = [h for who, h in self._handles if who == step.who and h.modal is not None
                  and (step.who, h) not in self._modals]
        assert opened, f"{step.who} has no modal open"
        self._modals.append((step.who, opened[-1]))
        return opened[-1]

    @staticmethod
    def _inputs(opener: InteractionHandle, step: Fill) -> dict[str, Any]:
        """The values typed, by input (the field's name), else what the modal showed."""
        assert opener.modal is not None
        values: dict[str, Any] = {}
        for top in opener.modal.get("components") or []:
            inner = top.get("component") if top.get("type") == 18 else \
                (top.get("components") or [None])[0]
            if not isinstance(inner, dict) or "custom_id" not in inner:
                continue
            name = str(inner["custom_id"])
            if name in step.values:
                values[name] = step.values[name]
            elif inner.get("type") == 4:
                values[name] = inner.get("value") or ""
            else:
                values[name] = [o["value"] for o in inner.get("options") or []
                                if o.get("default")]
        unknown = set(step.values) - set(values)
        assert not unknown, f"the modal has no input {sorted(unknown)}"
        return values

    def _collect(self, index: int) -> None:
        for who, handle in self._handles[self._answered:]:
            first = handle.replies[0]
            if first.type in (4, 5) and handle.original is not None:
                self._message(index, who, None, handle.original)
            elif first.type == 9 and handle.modal is not None:
                title = str(handle.modal.get("title") or "")
                words = "\n".join(str(c.get("content") or "")
                                  for c in handle.modal.get("components") or []
                                  if c.get("type") == 10)  # the text above the fields
                shown = self._read_text(index, who, None, words) if words else Shown(
                    index, who, None)
                self.shown.append(replace(shown, forms=(_roles_in(title, self.names),),
                                          text=f"{title}\n{shown.text}".strip()))
            for followup in handle.followups:
                self._message(index, who, None, followup)
        self._answered = len(self._handles)
        for role, user in self.users.items():
            dm = self.sd.dms_to(user)
            for message in dm[self._dms[role]:]:
                if message.interaction_id is None:  # answers are read from their interaction
                    self._message(index, role, _nudge_key(message), message)
            self._dms[role] = len(dm)
        for thread in self.sd.threads:
            posts = self.sd.messages_in(thread.id)
            for message in posts[self._threads.get(thread.id, 0):]:
                self._message(index, SPACE, _nudge_key(message), message)
            self._threads[thread.id] = len(posts)

    def _message(self, index: int, to: str, key: str | None, message: StoredMessage) -> None:
        self.shown.append(self._read(index, to, key, message))
        self._visible.append((to, message.id))

    def _read(self, index: int, to: str, key: str | None, message: StoredMessage) -> Shown:
        shown = self._read_text(index, to, key, message.content)
        return replace(shown,
                       choice_ids=tuple(str(b.get("custom_id"))
                                        for b in _discord_buttons(message)),
                       files=tuple(a.filename for a in message.attachments))

    def _read_text(self, index: int, to: str, key: str | None, content: str) -> Shown:
        text = discord_shown(content)
        hints = []
        for m in _DISCORD_HINT.finditer(text):
            if m[1] is not None:
                hints.append(" ".join([self.verbs.get(m[1], f"/{m[1]}"), *(m[2] or "").split()]))
            else:
                hints.append(m[3])
        moments = [moment(datetime.fromtimestamp(int(m[1]), UTC), _DISCORD_STYLES[m[2]],
                          ZONES.get(to)) for m in _DISCORD_TIME.finditer(text)]
        return Shown(index, to, key, hints=tuple(hints),
                     mentioned=_mentions(text, self.names, self.roles, _DISCORD_PING),
                     moments=tuple(moments), text=text)


def _nudge_key(message: StoredMessage) -> str | None:
    """The key a nudge carries on Discord: the footer of its marker embed."""
    footers = [str((e.get("footer") or {}).get("text") or "") for e in message.embeds]
    return next((f for f in footers if f.startswith("mentorbot-nudge-")), None)


def _discord_buttons(message: StoredMessage) -> list[dict[str, Any]]:
    return [c for row in message.components for c in row.get("components", [])
            if c.get("type") == 2]


# -- running the journey ----------------------------------------------------------------------


@asynccontextmanager
async def driving(platform: str, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Driver]:
    """A fresh world for ``platform`` (its own database) and the driver for it."""
    if platform == "console":
        async with open_console(migrated_sqlite_url(tmp_path / "console.db"),
                                clock) as session:
            yield ConsoleDriver(session)
    elif platform == "slack":
        async with slack_world(tmp_path, clock=clock) as world:
            yield SlackDriver(world)
    elif platform == "discord":
        async with discord_bot(tmp_path, clock) as bot:
            yield DiscordDriver(bot)
    else:
        raise ValueError(f"no driver for {platform!r}")


async def run_journey(platform: str, tmp_path: Path, journey: tuple[Step, ...] = JOURNEY,
                      start: datetime | None = None) -> Outcome:
    """Drive ``journey`` on ``platform`` from ``start``; what it left, by meaning."""
    began = time.perf_counter()
    clock = ManualClock(start or START)
    async with driving(platform, tmp_path, clock) as driver:
        for index, step in enumerate(journey):
            try:
                await driver.act(index, step)
            except BaseException as error:
                error.add_note(f"{platform}, step {index}: {step}")
                raise
        kept = await display_names(driver.store, driver.roles)
        assert kept == driver.names, f"display names read as {driver.names}, kept as {kept}"
        facts = await facts_of(driver.store, driver.roles)
        trace = normalize(driver.shown, driver.grammar, facts, journey)
        state = await end_state(driver.store, driver.roles)
        shown = tuple(driver.shown)
    return Outcome(platform, trace, state, shown, time.perf_counter() - began)
