"""Turn neutral :class:`~bot.messages.Message` values into console text.

Why its own module: the console's look (``@name`` mentions, ``*bold*``, ``> `` quotes, numbered
choices with their typed command) is decided once here, for replies and DMs alike. User text is
printed literally: the console has no markup to escape.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from bot.messages import Attachment, Message, Segment, render_plain

log = logging.getLogger(__name__)


def render_segments(segments: Iterable[Segment]) -> str:
    """Segments as text; a Moment already carries the reader's zone (the core sets it)."""
    return render_plain(segments, strong="*{}*", quote_prefix="    > ")


@dataclass(frozen=True)
class Shown:
    """A numbered choice on screen: whose screen it was, its id (what a click sends) and its
    command (what the console echoes)."""

    owner: str
    id: str
    command: str


class ChoiceBook:
    """Numbers every printed choice; typing the number clicks it.

    Numbers only grow during a session, so a number seen earlier never changes meaning, and a
    number belongs to the person it was shown to: typing another person's number clicks
    nothing.
    """

    def __init__(self) -> None:
        self._shown: dict[int, Shown] = {}
        self._next = 1

    def add(self, owner: str, choice_id: str, command: str) -> int:
        number = self._next
        self._next += 1
        self._shown[number] = Shown(owner, choice_id, command)
        return number

    def get(self, number: int) -> Shown | None:
        return self._shown.get(number)


_MEMBER_REF = re.compile(r"<member:([^>]+)>")


def readable_command(command: str, names: Mapping[str, str]) -> str:
    """A button's command as a person would type it: ``<member:ID>`` shown as the name."""
    return _MEMBER_REF.sub(lambda m: names.get(m[1], m[0]), command)


def render_message(
    message: Message,
    book: ChoiceBook,
    owner: str,
    indent: str = "",
    show_command: Callable[[str], str] = str,
    attachments: list[Attachment] | None = None,
) -> str:
    """The message text, then its choices (numbered, with their typed command), attachments.

    ``owner`` is the person the message is shown to: only they can click its numbers.
    """
    lines = render_segments(message.segments).split("\n")
    for choice in message.choices:
        number = book.add(owner, choice.id, choice.command)
        lines.append(f"[{number}] {choice.label}  ({show_command(choice.command)})")
    for attachment in message.attachments:
        if attachments is None:
            lines.append(f"(attachment: {attachment.filename}, {attachment.content_type})")
            continue
        attachments.append(attachment)
        lines.append(f"(attachment {len(attachments)}: {attachment.filename}, "
                     f"{attachment.content_type}: /ics {len(attachments)} shows it)")
    return "\n".join(indent + line if line else line for line in lines)
