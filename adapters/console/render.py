"""Turn neutral :class:`~bot.messages.Message` values into console text.

Why its own module: the console's look (``@name`` mentions, ``*bold*``, ``> `` quotes, numbered
choices with their typed command) is decided once here, for replies and DMs alike. User text is
printed literally: the console has no markup to escape.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping

from bot.messages import Message, Segment, render_plain

log = logging.getLogger(__name__)


def render_segments(segments: Iterable[Segment]) -> str:
    """Segments as text; a Moment already carries the reader's zone (the core sets it)."""
    return render_plain(segments, strong="*{}*", quote_prefix="    > ")


class ChoiceBook:
    """Numbers every printed choice; typing the number runs its command.

    Numbers only grow during a session, so a number seen earlier (in someone else's DM, say)
    never changes meaning.
    """

    def __init__(self) -> None:
        self._commands: dict[int, str] = {}
        self._next = 1

    def add(self, command: str) -> int:
        number = self._next
        self._next += 1
        self._commands[number] = command
        return number

    def command(self, number: int) -> str | None:
        return self._commands.get(number)


_MEMBER_REF = re.compile(r"<member:([^>]+)>")


def readable_command(command: str, names: Mapping[str, str]) -> str:
    """A button's command as a person would type it: ``<member:ID>`` shown as the name."""
    return _MEMBER_REF.sub(lambda m: names.get(m[1], m[0]), command)


def render_message(
    message: Message,
    book: ChoiceBook,
    indent: str = "",
    show_command: Callable[[str], str] = str,
) -> str:
    """The message text, then its choices (numbered, with their typed command), attachments."""
    lines = render_segments(message.segments).split("\n")
    for choice in message.choices:
        number = book.add(choice.command)  # the number runs the exact command
        lines.append(f"[{number}] {choice.label}  ({show_command(choice.command)})")
    for attachment in message.attachments:
        lines.append(f"(attachment: {attachment.filename}, {attachment.content_type})")
    return "\n".join(indent + line if line else line for line in lines)
