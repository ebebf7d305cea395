"""Cleaning user text on the way in.

Why here and not only in adapters: limits and clean-up are rules (a topic is at most 80
characters), and the same text reaches every platform. Adapters still escape on the way out;
this removes what no person means to type: control characters, zero-width and bidi override
characters that hide ``@everyone`` from filters or flip text direction.
"""

from __future__ import annotations

import logging
import re
import unicodedata

from bot.errors import UserError

log = logging.getLogger(__name__)

_INVISIBLE = re.compile(
    "[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]"
)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def clean(text: str, *, multiline: bool = False) -> str:
    """Normalize (NFC), drop invisible/control characters, fold runs of spaces, trim."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    text = _SPACES.sub(" ", text)
    if multiline:
        lines = [line.strip() for line in text.split("\n")]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    else:
        text = text.replace("\n", " ")
    return text.strip()


def bounded(value: str, *, what: str, max_length: int, min_length: int = 1,
            multiline: bool = False) -> str:
    """Clean ``value`` and check its length, naming ``what`` in the refusal."""
    value = clean(value, multiline=multiline)
    if len(value) < min_length:
        if min_length <= 1 or not value:
            raise UserError(f"The {what} is empty.", f"Please write the {what}.")
        raise UserError(
            f"The {what} is too short ({len(value)} characters).",
            f"Please write at least {min_length} characters.",
        )
    if len(value) > max_length:
        raise UserError(
            f"The {what} is too long ({len(value):,} characters).",
            f"Please keep it under {max_length} characters.",
        )
    return value


def shorten(value: str, limit: int) -> str:
    """Cut ``value`` to ``limit`` characters with an ellipsis, for previews."""
    return value if len(value) <= limit else value[: max(0, limit - 1)].rstrip() + "…"


def plural(count: int, noun: str) -> str:
    """``plural(1, "open request")`` → "1 open request"; 2 → "2 open requests"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
