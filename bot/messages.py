"""The neutral message model: what the core says, before any platform renders it.

Why a model and not strings: each platform renders mentions, local times, buttons and forms its
own way, and user text must never become markup. So a message is a sequence of typed segments:

* :class:`Plain` is text written by a *user*; adapters escape it (no pings, no links, no markup).
* :class:`Notice` is text written by the bot itself (safe, may use **bold** via :class:`Strong`).
* :class:`Mention` is bound to a member reference; it pings only when ``ping`` is true.
* :class:`Moment` is a point in time, rendered in the reader's local time
  (Slack ``<!date^...>``, Discord ``<t:...>``, the console with the reader's zone).
* :class:`Hint` is a command a person could type ("accept 12"): the console shows ``accept 12``,
  Slack ``/mentor accept 12``, Discord a clickable command mention.

Choices are buttons that always carry the typed command they stand for, so a text-only adapter
shows "type ``accept 12``" and a click after a restart still works: all state is in the database.
Forms are typed fields that Slack and Discord render as modals and the console as prompts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from bot.zones import zone_info

log = logging.getLogger(__name__)

#: Discord's custom_id limit (Slack's action_id allows 255): every button and form id fits.
MAX_ID_LENGTH = 100
CHOICE_PREFIX = "mb:"


@dataclass(frozen=True)
class MemberAddress:
    """How an adapter reaches a member: the platform's own user id, plus a display name."""

    platform_user_id: str
    display_name: str
    timezone: str = "UTC"


@dataclass(frozen=True)
class Notice:
    """Bot-authored text. Still escaped by adapters, but never treated as user content."""

    text: str


@dataclass(frozen=True)
class Strong:
    """Bot-authored text shown in bold where the platform can."""

    text: str


@dataclass(frozen=True)
class Plain:
    """User-authored text: data, never markup. Adapters escape it completely."""

    text: str


@dataclass(frozen=True)
class Quote:
    """A block of user-authored text shown as a quotation (e.g. the context of a request)."""

    text: str


@dataclass(frozen=True)
class Mention:
    """A member reference. ``ping`` says whether the core intends a real notification."""

    member: MemberAddress
    ping: bool = False


class MomentStyle(Enum):
    DATE_TIME = "date_time"
    DATE = "date"
    TIME = "time"
    RELATIVE = "relative"


@dataclass(frozen=True)
class Moment:
    """A point in time. ``reader_timezone`` is used for text fallbacks (console, notifications)."""

    at: datetime
    reader_timezone: str = "UTC"
    style: MomentStyle = MomentStyle.DATE_TIME

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("Moment needs a timezone-aware datetime")

    def fallback_text(self) -> str:
        """The time as a reader in ``reader_timezone`` reads it, e.g. 'Tue 3 Dec 2026 18:30 CET'."""
        local = self.at.astimezone(zone_info(self.reader_timezone))
        if self.style is MomentStyle.DATE:
            return f"{local:%a} {local.day} {local:%b %Y}"
        if self.style is MomentStyle.TIME:
            return f"{local:%H:%M} {local.tzname()}"
        return f"{local:%a} {local.day} {local:%b %Y} {local:%H:%M} {local.tzname()}"


@dataclass(frozen=True)
class LineBreak:
    """Starts a new line."""


@dataclass(frozen=True)
class Hint:
    """A command the reader could type, e.g. ``accept 12``; each adapter renders it its way."""

    command: str


Segment = Notice | Strong | Plain | Quote | Mention | Moment | LineBreak | Hint


class ChoiceStyle(Enum):
    DEFAULT = "default"
    PRIMARY = "primary"
    DANGER = "danger"


@dataclass(frozen=True)
class Choice:
    """A button. ``command`` is the typed command it stands for (e.g. ``accept 12``).

    ``id`` is what a platform button carries (``mb:<community key>:<command>``, see
    ``bot.choice_ids``); the core fills it in before a message leaves it, so a click works
    after a restart and in a DM, where Discord sends no server id.
    """

    label: str
    command: str
    style: ChoiceStyle = ChoiceStyle.DEFAULT
    id: str = ""

    def __post_init__(self) -> None:
        if not self.label.strip():
            raise ValueError("a choice needs a label")


class FieldKind(Enum):
    SHORT_TEXT = "short_text"
    LONG_TEXT = "long_text"
    CHOICE = "choice"


@dataclass(frozen=True)
class FormField:
    """One input of a form; Slack and Discord render these as modal inputs."""

    name: str
    label: str
    kind: FieldKind = FieldKind.SHORT_TEXT
    required: bool = True
    max_length: int = 200
    min_length: int = 0
    placeholder: str = ""
    initial: str = ""
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Form:
    """A form; submitting it runs ``command`` with the field values as labelled arguments.

    ``id`` is filled in by the core like a :class:`Choice`'s (it carries the community).
    """

    title: str
    command: str
    fields: tuple[FormField, ...]
    submit_label: str = "Submit"
    id: str = ""

    def __post_init__(self) -> None:
        if not 1 <= len(self.fields) <= 5:
            # Discord modals hold one to five inputs.
            raise ValueError("a form holds one to five fields")
        if len(self.title) > 24:
            raise ValueError(f"form title over 24 characters (Slack's limit): {self.title!r}")
        for f in self.fields:
            if len(f.label) > 45:
                raise ValueError(f"form label over 45 characters (Discord's): {f.label!r}")


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message, e.g. a calendar invite (``text/calendar``)."""

    filename: str
    content_type: str
    data: bytes


class Visibility(Enum):
    """Who sees a reply to a command: only the caller (ephemeral) or the whole channel."""

    PRIVATE = "private"
    PUBLIC = "public"


@dataclass(frozen=True)
class Message:
    """One message: text segments, optional buttons, optional form to open."""

    segments: tuple[Segment, ...]
    choices: tuple[Choice, ...] = ()
    form: Form | None = None
    visibility: Visibility = Visibility.PRIVATE
    attachments: tuple[Attachment, ...] = ()

    def plain_text(self) -> str:
        """A text rendering without any markup, for logs, tests and text-only fallbacks."""
        return render_plain(self.segments)

    def pinged(self) -> tuple[MemberAddress, ...]:
        """The members this message is meant to notify."""
        return tuple(s.member for s in self.segments if isinstance(s, Mention) and s.ping)


def render_plain(
    segments: Iterable[Segment], *, strong: str = "{}", quote_prefix: str = "> ",
    hint: str = "`{}`",
) -> str:
    """Render segments as plain text (notifications, tests; the console with its own marks).

    ``strong`` formats bold text (``"*{}*"`` shows it), ``quote_prefix`` starts quoted lines,
    ``hint`` formats a command hint.
    """
    out: list[str] = []
    for seg in segments:
        if isinstance(seg, Notice | Plain):
            out.append(seg.text)
        elif isinstance(seg, Strong):
            out.append(strong.format(seg.text))
        elif isinstance(seg, Quote):
            lines = seg.text.splitlines() or [""]
            out.append("\n".join(quote_prefix + line for line in lines))
        elif isinstance(seg, Mention):
            out.append("@" + seg.member.display_name)
        elif isinstance(seg, Moment):
            out.append(seg.fallback_text())
        elif isinstance(seg, LineBreak):
            out.append("\n")
        elif isinstance(seg, Hint):
            out.append(hint.format(seg.command))
    return "".join(out)


class MessageBuilder:
    """Small helper so flows read like sentences: ``msg.say("Hi ").mention(m).user_text(x)``."""

    def __init__(self) -> None:
        self._segments: list[Segment] = []
        self._choices: list[Choice] = []

    def say(self, text: str) -> MessageBuilder:
        self._segments.append(Notice(text))
        return self

    def strong(self, text: str) -> MessageBuilder:
        self._segments.append(Strong(text))
        return self

    def user_text(self, text: str) -> MessageBuilder:
        self._segments.append(Plain(text))
        return self

    def quote(self, text: str) -> MessageBuilder:
        self._segments.append(LineBreak())
        self._segments.append(Quote(text))
        self._segments.append(LineBreak())
        return self

    def mention(self, member: MemberAddress, *, ping: bool = False) -> MessageBuilder:
        self._segments.append(Mention(member, ping))
        return self

    def moment(
        self, at: datetime, reader_timezone: str, style: MomentStyle = MomentStyle.DATE_TIME
    ) -> MessageBuilder:
        self._segments.append(Moment(at, reader_timezone, style))
        return self

    def hint(self, command: str) -> MessageBuilder:
        """A command the reader could type: ``.say("Type ").hint("accept 12")``."""
        self._segments.append(Hint(command))
        return self

    def line(self, text: str = "") -> MessageBuilder:
        if self._segments:
            self._segments.append(LineBreak())
        if text:
            self._segments.append(Notice(text))
        return self

    def choice(
        self, label: str, command: str, style: ChoiceStyle = ChoiceStyle.DEFAULT
    ) -> MessageBuilder:
        self._choices.append(Choice(label, command, style))
        return self

    def extend(self, segments: Sequence[Segment]) -> MessageBuilder:
        self._segments.extend(segments)
        return self

    def build(
        self,
        *,
        visibility: Visibility = Visibility.PRIVATE,
        form: Form | None = None,
        attachments: tuple[Attachment, ...] = (),
    ) -> Message:
        return Message(
            tuple(self._segments), tuple(self._choices), form, visibility, attachments
        )


def text(message: str, *, visibility: Visibility = Visibility.PRIVATE) -> Message:
    """A one-line bot message."""
    return Message((Notice(message),), visibility=visibility)


_BACKTICKED = re.compile(r"`([^`\n]+)`")


def with_hints(text: str, is_command: Callable[[str], bool]) -> list[Segment]:
    """Bot text written as one string, with its backticked commands as :class:`Hint` segments
    ("Type `help`." → Notice, Hint, Notice), so each platform shows them its way. A backticked
    span that is not a command (``topics: python``, ``2 weeks``) stays text as written.

    For text that comes as a string from where segments cannot be built: a refusal's hint, a
    command's summary. Text written in a flow uses :meth:`MessageBuilder.hint` directly.
    """
    out: list[Segment] = []
    start = 0
    for match in _BACKTICKED.finditer(text):
        command = match.group(1).strip()
        if not is_command(command):
            continue
        if match.start() > start:
            out.append(Notice(text[start:match.start()]))
        out.append(Hint(command))
        start = match.end()
    if start < len(text):
        out.append(Notice(text[start:]))
    return out


@dataclass(frozen=True)
class Refusal:
    """Why a command was refused: ``param`` names the parameter that was wrong, if one was,
    so a modal keeps what was typed and shows the error under that field."""

    message: str
    hint: str = ""
    param: str | None = None
    transient: bool = False
    """Refused for a passing reason (the database was busy or out of reach, a bug): the same
    request may work in a moment. A platform's retried delivery should run it again."""


@dataclass(frozen=True)
class Reply:
    """What the caller of a command sees, in order.

    ``refusal`` is set when nothing was done: an adapter keeps a form open and leaves a clicked
    button active. ``duplicate`` is set when the platform delivered an event the core had
    handled already (a retried Slack event): the adapter shows nothing.
    """

    messages: tuple[Message, ...] = field(default_factory=tuple)
    refusal: Refusal | None = None
    duplicate: bool = False

    @staticmethod
    def of(*messages: Message) -> Reply:
        return Reply(tuple(messages))

    @property
    def refused(self) -> bool:
        return self.refusal is not None

    @property
    def form(self) -> Form | None:
        """The form this reply asks the person to fill in, if any."""
        return next((m.form for m in self.messages if m.form is not None), None)

    def plain_text(self) -> str:
        return "\n".join(m.plain_text() for m in self.messages)


def _lines(segments: Sequence[Segment]) -> list[list[Segment]]:
    """Segments cut at line breaks (a quote keeps its own lines inside it)."""
    lines: list[list[Segment]] = [[]]
    for seg in segments:
        if isinstance(seg, LineBreak):
            lines.append([])
        else:
            lines[-1].append(seg)
    return lines


def _join(lines: Sequence[Sequence[Segment]]) -> tuple[Segment, ...]:
    out: list[Segment] = []
    for i, line in enumerate(lines):
        if i:
            out.append(LineBreak())
        out.extend(line)
    return tuple(out)


def _cut_line(line: Sequence[Segment], fits: Callable[[Sequence[Segment]], bool]) -> list[
        list[Segment]]:
    """A line too long for one message, cut inside its text segments (never inside a mention,
    a time or a hint)."""
    pieces: list[list[Segment]] = [[]]
    for seg in line:
        if fits([*pieces[-1], seg]):
            pieces[-1].append(seg)
            continue
        if isinstance(seg, Notice | Plain | Quote | Strong):
            rest = seg.text
            while rest:
                size = len(rest)
                while size > 1 and not fits([*pieces[-1], type(seg)(rest[:size])]):
                    size = size * 3 // 4
                if not fits([*pieces[-1], type(seg)(rest[:size])]) and pieces[-1]:
                    pieces.append([])
                    continue
                pieces[-1].append(type(seg)(rest[:size]))
                rest = rest[size:]
                if rest:
                    pieces.append([])
        else:
            pieces.append([seg])
    return [p for p in pieces if p]


def split_message(
    message: Message,
    *,
    max_chars: int,
    max_choices: int,
    measure: Callable[[Sequence[Segment]], int],
) -> list[Message]:
    """``message`` as several messages within a platform's limits, cut at line breaks.

    ``measure`` is the adapter's own idea of length (its rendering: escapes, mention markup).
    Text comes first; the choices follow on the last part, ``max_choices`` per message, and
    attachments and the form stay with the first part that has choices (or the last part).
    """

    def fits(segments: Sequence[Segment]) -> bool:
        return measure(segments) <= max_chars

    parts: list[list[list[Segment]]] = [[]]
    for line in _lines(message.segments):
        if fits(_join([*parts[-1], line])):
            parts[-1].append(line)
        elif fits(line):
            parts.append([line])
        else:
            for piece in _cut_line(line, fits):
                parts.append([piece])
    texts = [_join(p) for p in parts if any(p)] or [()]
    choice_groups = [message.choices[i:i + max_choices]
                     for i in range(0, len(message.choices), max_choices)] or [()]
    out: list[Message] = [Message(t, visibility=message.visibility) for t in texts[:-1]]
    out.append(Message(texts[-1], choice_groups[0], message.form, message.visibility,
                       message.attachments))
    for group in choice_groups[1:]:
        out.append(Message((Notice("More choices:"),), group, visibility=message.visibility))
    return out
