"""Ids for buttons and forms: ``mb:<community key>:<command>``, never over 100 characters.

Why the community rides in the id: a click in a Discord DM carries no server id, and a Slack
modal submission only what we put in ``private_metadata``; with the key in the id the core
knows the community from the click alone, after any restart, with no state in memory.

Why a stash: Discord allows 100 characters per custom id. A command that does not fit (a long
topic in ``notify …``) is kept whole in the database and the id carries its number instead
(``mb:1a:#52``), so nothing is ever cut.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from bot.messages import CHOICE_PREFIX, MAX_ID_LENGTH, Choice, Form, Message

log = logging.getLogger(__name__)

STASHED = "#"


def community_key(community_id: int) -> str:
    """A compact, stable key for a community: its row id in base 36 (``1a``)."""
    if community_id < 0:
        raise ValueError("community ids are positive")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    n = community_id
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


_KEY = re.compile(r"^[0-9a-z]{1,12}$")


def community_id_of(key: str) -> int | None:
    return int(key, 36) if _KEY.match(key) else None


def id_length(value: str) -> int:
    """Length as Discord counts it (UTF-16 code units), so emoji never overflow the limit."""
    return len(value.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class DecodedId:
    community_id: int
    command: str | None
    """The command text, or None when it is stashed under ``stash_id``."""
    stash_id: int | None = None


def decode(custom_id: str) -> DecodedId | None:
    """The community and command behind an id, or None for ids that are not ours."""
    if not custom_id.startswith(CHOICE_PREFIX):
        return None
    key, sep, rest = custom_id[len(CHOICE_PREFIX):].partition(":")
    community_id = community_id_of(key)
    if not sep or community_id is None:
        return None
    if rest.startswith(STASHED) and rest[1:].isdigit():
        return DecodedId(community_id, None, int(rest[1:]))
    return DecodedId(community_id, rest)


Stash = Callable[[str], Awaitable[int]]
"""Keeps a command that is too long for an id; returns its number."""


async def encode(community_id: int, command: str, stash: Stash) -> str:
    head = f"{CHOICE_PREFIX}{community_key(community_id)}:"
    inline = head + command
    if id_length(inline) <= MAX_ID_LENGTH and not command.startswith(STASHED):
        return inline
    return f"{head}{STASHED}{await stash(command)}"


async def seal(message: Message, community_id: int, stash: Stash) -> Message:
    """``message`` with an id on every choice and on its form."""
    if not message.choices and message.form is None:
        return message
    choices = tuple(
        [replace(c, id=await encode(community_id, c.command, stash)) for c in message.choices]
    )
    form: Form | None = message.form
    if form is not None:
        form = replace(form, id=await encode(community_id, form.command, stash))
    return replace(message, choices=choices, form=form)


def unsealed(choice: Choice) -> bool:
    return not choice.id
