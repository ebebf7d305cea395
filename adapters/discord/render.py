"""The core's messages as Discord markdown, cut to Discord's limits.

* User text (``Plain``, ``Quote``) is data: markdown escaped (``discord.utils.escape_markdown``),
  mentions broken (``escape_mentions``), and ``<`` and ``://`` escaped so nothing in it becomes
  a mention, a channel or command link, a fake timestamp, a masked link or a link at all.
  Bot text is escaped the same way; its `code spans` stay code (or become command mentions).
* A ``Mention`` renders as a real mention (``<@id>``) only when the core marks it as pinging;
  the part then lists that member in ``pinged`` and only those go into ``allowed_mentions``.
  Otherwise it is the member's name as text: no ping, and no "@unknown-user" in a DM.
* A ``Moment`` is ``<t:unix:F>`` (or ``D``, ``t``, ``R``): each reader sees their local time.
* A ``Hint`` (a command the reader could type) is a clickable command mention
  (``</session confirm:123>``) followed by its arguments as code, or the typed form
  (``/session confirm 12``) while the commands' ids are unknown.
* Messages are cut at 2,000 characters and 25 buttons (5 rows of 5) with
  ``bot.messages.split_message``, measured with this very rendering.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import discord

from adapters.discord.commands import CommandBook
from bot.errors import UserError
from bot.messages import (
    Attachment,
    Choice,
    Form,
    Hint,
    LineBreak,
    Mention,
    Message,
    Moment,
    MomentStyle,
    Notice,
    Plain,
    Quote,
    Segment,
    Strong,
    Visibility,
    split_message,
)

log = logging.getLogger(__name__)

MAX_CHARS = 2000
MAX_BUTTONS = 25
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_STYLES = {
    MomentStyle.DATE_TIME: "F",
    MomentStyle.DATE: "D",
    MomentStyle.TIME: "t",
    MomentStyle.RELATIVE: "R",
}


def escape_text(text: str) -> str:
    """Text shown as written: no markdown, no mention, no link, no ``<...>`` markup."""
    escaped = discord.utils.escape_mentions(discord.utils.escape_markdown(text))
    return escaped.replace("<", "\\<").replace("://", "\\://")


def code(text: str) -> str:
    """Inline code (a backtick inside cannot be escaped there: it becomes a look-alike)."""
    return "`" + text.replace("`", "ˋ") + "`"


def timestamp(moment: Moment) -> str:
    return f"<t:{int(moment.at.timestamp())}:{_STYLES[moment.style]}>"


@dataclass(frozen=True)
class Part:
    """One Discord message: its content, buttons, files, and the members it may ping."""

    content: str
    choices: tuple[Choice, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    pinged: tuple[str, ...] = ()
    private: bool = True
    form: Form | None = None


class Renderer:
    """Renders for one bot: hints need its synced command ids (``CommandBook``)."""

    def __init__(self, book: CommandBook) -> None:
        self.book = book
        self._verbs = frozenset(book.registry.grammar.verbs)

    def text(self, segments: Sequence[Segment], guild_id: str | None) -> str:
        out: list[str] = []
        for seg in segments:
            if isinstance(seg, Plain):
                out.append(escape_text(seg.text))
            elif isinstance(seg, Notice):
                out.append(self._bot_text(seg.text, guild_id))
            elif isinstance(seg, Strong):
                out.append(f"**{escape_text(seg.text)}**" if seg.text.strip() else "")
            elif isinstance(seg, Quote):
                lines = seg.text.splitlines() or [""]
                out.append("\n".join("> " + escape_text(line) for line in lines))
            elif isinstance(seg, Mention):
                out.append(self._mention(seg))
            elif isinstance(seg, Moment):
                out.append(timestamp(seg))
            elif isinstance(seg, LineBreak):
                out.append("\n")
            elif isinstance(seg, Hint):
                out.append(self.hint(seg.command, guild_id))
        return "".join(out)

    def hint(self, command: str, guild_id: str | None) -> str:
        words = command.lower().lstrip("/").split(maxsplit=2)
        if not words or (words[0] not in self._verbs and " ".join(words[:2]) not in self._verbs):
            return code(command)  # not a command (`off`, `public: yes`): just code
        try:
            spec, rest = self.book.registry.grammar.split_verb(command)
        except UserError:
            return code(command)
        rest = rest.strip()
        mention = self.book.mention(spec.verb, guild_id)
        if mention is None:
            sub = self.book.subcommand(spec.verb)
            typed = f"/{sub.slash}" if sub is not None else spec.verb
            return code(f"{typed} {rest}".strip())
        return mention + (" " + code(rest) if rest else "")

    def parts(self, message: Message, guild_id: str | None) -> list[Part]:
        """``message`` as Discord messages within 2,000 characters and 25 buttons each."""
        whole = self.text(message.segments, guild_id)
        if len(whole) <= MAX_CHARS and len(message.choices) <= MAX_BUTTONS:
            return [self._part(message, whole)]  # the usual case: no cutting to measure
        pieces = split_message(
            message, max_chars=MAX_CHARS, max_choices=MAX_BUTTONS,
            measure=lambda segments: len(self.text(segments, guild_id)),
        )
        return [self._part(piece, self.text(piece.segments, guild_id)) for piece in pieces]

    @staticmethod
    def _part(message: Message, content: str) -> Part:
        return Part(
            content=content,
            choices=message.choices,
            attachments=message.attachments,
            pinged=tuple(dict.fromkeys(
                m.platform_user_id for m in message.pinged() if m.platform_user_id.isdigit()
            )),
            private=message.visibility is Visibility.PRIVATE,
            form=message.form,
        )

    def _bot_text(self, text: str, guild_id: str | None) -> str:
        """Bot text, escaped; its `code spans` stay code, or become command mentions."""
        out: list[str] = []
        last = 0
        for match in _CODE_SPAN.finditer(text):
            out.append(escape_text(text[last:match.start()]))
            out.append(self.hint(match.group(1), guild_id))
            last = match.end()
        out.append(escape_text(text[last:]))
        return "".join(out)

    @staticmethod
    def _mention(seg: Mention) -> str:
        user_id = seg.member.platform_user_id
        if seg.ping and user_id.isdigit():
            return f"<@{user_id}>"
        return escape_text("@" + seg.member.display_name)


def pack(messages: Sequence[Message]) -> list[Message]:
    """Consecutive text-only messages of one visibility as one (fewer Discord messages); a
    message with buttons, a form or files ends a group."""
    out: list[Message] = []
    for message in messages:
        previous = out[-1] if out else None
        if (
            previous is not None
            and not previous.choices and previous.form is None and not previous.attachments
            and previous.visibility is message.visibility
        ):
            out[-1] = Message(
                (*previous.segments, LineBreak(), LineBreak(), *message.segments),
                message.choices, message.form, message.visibility, message.attachments,
            )
        else:
            out.append(message)
    return out


def allowed_mentions(pinged: Sequence[str]) -> discord.AllowedMentions:
    """Exactly the members a part may ping: never everyone, here or a role."""
    return discord.AllowedMentions(
        everyone=False, roles=False, replied_user=False,
        users=[discord.Object(int(user_id)) for user_id in pinged],
    )


def files(attachments: Sequence[Attachment]) -> list[discord.File]:
    """Fresh file objects (discord.py consumes them on send)."""
    return [discord.File(io.BytesIO(a.data), filename=a.filename) for a in attachments]
