"""Cleaning user text on the way in.

Why here and not only in adapters: limits and clean-up are rules (a topic is at most 80
characters), and the same text reaches every platform. Adapters still escape on the way out;
this removes what no person means to type: control characters, bidi overrides and isolates
that flip text direction, and invisible characters that hide ``@everyone`` from filters.

Why not strip every invisible character: some are part of real text. A zero-width joiner
(U+200D) builds emoji sequences (👩‍💻, 🏳️‍🌈) and Indic conjuncts and half forms (क्‍ष, the
Malayalam chillu ന്‍); a zero-width non-joiner (U+200C) is spelling in Persian (می‌خواهم) and
Indic scripts; variation selectors pick an emoji's look (❤️, 1️⃣); tag characters spell the
subdivision flags (🏴󠁧󠁢󠁳󠁣󠁴󠁿). So each of these is kept only where a character that uses it stands
beside it, and removed anywhere else ("e\u200dveryone" → "everyone").

Blank-looking characters (U+2800 braille blank, Hangul fillers, the wide spaces...) never
count as content: a value made only of them is empty (``bounded`` refuses it), and they are
trimmed from the ends. A braille blank inside text stays: it is the space of braille text.
"""

from __future__ import annotations

import logging
import re
import unicodedata

from bot.errors import UserError

log = logging.getLogger(__name__)

ZWNJ = "\u200c"
ZWJ = "\u200d"
VS15 = "\ufe0e"
VS16 = "\ufe0f"
KEYCAP = "\u20e3"
BLACK_FLAG = "\U0001f3f4"
CANCEL_TAG = "\U000e007f"

# Removed wherever they are: controls (not \n, \t), soft hyphen, combining grapheme joiner,
# bidi marks, overrides and isolates, zero-width space, word joiner and invisible operators,
# deprecated format characters, Hangul fillers, Khmer inherent vowels, BOM, interlinear
# annotation marks, shorthand and musical format controls.
_ALWAYS = (
    "\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u200b\u200e\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufeff\uffa0\ufff0-\ufffb"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
)
# Kept only next to a character that uses them (decided one by one).
_CONTEXTUAL = "\u180b-\u180f\u200c\u200d\ufe00-\ufe0f\U000e0000-\U000e0fff"
_INVISIBLE = re.compile(f"[{_ALWAYS}]")
_SPECIAL = re.compile(f"[{_ALWAYS}{_CONTEXTUAL}\u2028\u2029]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
# Look blank but are not whitespace to ``str.strip``; never content on their own.
_BLANK_LOOKING = "\u2800\u3164\u115f\u1160\uffa0\u180e\u17b4\u17b5\u2000-\u200b\u205f\u3000"
_EDGES = re.compile(f"^[\\s{_BLANK_LOOKING}]+|[\\s{_BLANK_LOOKING}]+$")
_ALL_BLANK = re.compile(f"^[\\s{_BLANK_LOOKING}{_ALWAYS}{_CONTEXTUAL}]*$")

# Scripts where ZWJ/ZWNJ shape letters: Arabic, Syriac, Thaana, N'Ko, Indic (Devanagari to
# Malayalam), Sinhala, Tibetan, Myanmar, Khmer, Mongolian, Arabic presentation forms.
_JOINING_SCRIPTS = (
    (0x0600, 0x07FF), (0x0860, 0x08FF), (0x0900, 0x0DFF), (0x0F00, 0x0FFF), (0x1000, 0x109F),
    (0x1780, 0x18AF), (0xA8E0, 0xA8FF), (0xA9E0, 0xA9FF), (0xAA60, 0xAA7F), (0xFB50, 0xFDFF),
    (0xFE70, 0xFEFC), (0x11000, 0x111FF),
)
# Brahmic scripts, where a joiner may end a word (Malayalam chillu "ന്‍").
_BRAHMIC = ((0x0900, 0x0DFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x11000, 0x111FF))
# Characters that take an emoji/text variation selector or join emoji sequences.
_EMOJI = (
    (0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x203C), (0x2049, 0x2049),
    (0x2122, 0x2122), (0x2139, 0x2139), (0x2190, 0x21FF), (0x2300, 0x23FF),
    (0x24C2, 0x24C2), (0x25A0, 0x27BF), (0x2900, 0x297F), (0x2B00, 0x2BFF),
    (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3297), (0x3299, 0x3299),
    (0x1F000, 0x1FAFF),
)
# Characters with standardized variants (VS1–VS14): CJK, maths, Myanmar, Phags-pa...
_VARIANT_BASES = (
    (0x2200, 0x22FF), (0x2A00, 0x2AFF), (0x1000, 0x109F), (0xA840, 0xA87F),
    (0x3000, 0x9FFF), (0xF900, 0xFAFF), (0x10AC0, 0x10AFF), (0x20000, 0x3FFFF),
)
_FLAG_TAGS = re.compile(
    f"{BLACK_FLAG}[\U000e0030-\U000e0039\U000e0061-\U000e007a]{{2,7}}{CANCEL_TAG}"
)
_MONGOLIAN = ((0x1800, 0x18AF),)
_CJK = ((0x3400, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF))


def _within(char: str, ranges: tuple[tuple[int, int], ...]) -> bool:
    """Whether ``char`` (a single character, or "" at either end of the text) is in ``ranges``."""
    if not char:
        return False
    code = ord(char)
    return any(low <= code <= high for low, high in ranges)


def _letter_like(char: str) -> bool:
    return unicodedata.category(char)[0] in "LM"


def _keep_script_joiner(prev: str, following: str) -> bool:
    """A ZWJ/ZWNJ after a letter or mark of a script that shapes with it."""
    if not (_within(prev, _JOINING_SCRIPTS) and _letter_like(prev)):
        return False
    # Brahmic scripts may end a word with one (the Malayalam chillu); others join two letters.
    return _within(prev, _BRAHMIC) or _within(following, _JOINING_SCRIPTS)


def _keep_emoji_joiner(prev: str, following: str) -> bool:
    """A ZWJ inside an emoji sequence: an emoji (or its selector or tag end) on both sides."""
    joins_from = prev in (VS16, CANCEL_TAG) or _within(prev, _EMOJI)
    return joins_from and _within(following, _EMOJI)


def _keep_variation(prev: str, following: str, selector: str) -> bool:
    """VS15/VS16 after an emoji or a keycap base; VS1–VS14 after a standardized-variant base."""
    if selector in (VS15, VS16):
        if _within(prev, _EMOJI):
            return True
        return prev in "0123456789#*" and following == KEYCAP
    return _within(prev, _VARIANT_BASES)


def _flag_tags(text: str) -> set[int]:
    """Positions of tag characters that spell a subdivision flag (🏴 + "gbsct" + cancel tag)."""
    return {
        index
        for match in _FLAG_TAGS.finditer(text)
        for index in range(match.start() + 1, match.end())
    }


def _keeps(char: str, prev: str, following: str) -> bool:
    """Whether a contextual invisible ``char`` is needed between ``prev`` and ``following``."""
    if not prev:
        return False  # nothing before it uses it
    if char == ZWJ:
        return _keep_emoji_joiner(prev, following) or _keep_script_joiner(prev, following)
    if char == ZWNJ:
        return _keep_script_joiner(prev, following)
    if "\ufe00" <= char <= "\ufe0f":
        return _keep_variation(prev, following, char)
    if char == "\u180e":  # Mongolian vowel separator: only between Mongolian letters
        return _within(prev, _MONGOLIAN) and _within(following, _MONGOLIAN)
    if "\u180b" <= char <= "\u180f":  # Mongolian free variation selectors
        return _within(prev, _MONGOLIAN)
    if "\U000e0100" <= char <= "\U000e01ef":  # ideographic variation selectors
        return _within(prev, _CJK)
    return False  # tag characters are decided by ``_flag_tags``


def _drop_invisible(text: str) -> str:
    """Remove invisible characters, keeping joiners and selectors where text needs them."""
    if not _SPECIAL.search(text):
        return text
    flag_tags = _flag_tags(text) if BLACK_FLAG in text else set()
    out: list[str] = []
    for index, char in enumerate(text):
        if char in "\u2028\u2029":
            out.append("\n")
        elif index in flag_tags or not _SPECIAL.match(char):
            out.append(char)
        elif _INVISIBLE.match(char):
            continue
        elif _keeps(char, out[-1] if out else "", text[index + 1 : index + 2]):
            out.append(char)
    return "".join(out)


def _trim(text: str) -> str:
    return _EDGES.sub("", text)


def is_blank(text: str) -> bool:
    """Whether ``text`` shows nothing: only spaces, invisible and blank-looking characters."""
    return bool(_ALL_BLANK.match(text))


def clean(text: str, *, multiline: bool = False) -> str:
    """Normalize (NFC), drop invisible/control characters, fold runs of spaces, trim.

    Joiners and variation selectors inside emoji and scripts that need them are kept; a value
    that only looks blank becomes "".
    """
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _drop_invisible(text)
    text = _SPACES.sub(" ", text)
    if multiline:
        lines = [_trim(line) for line in text.split("\n")]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    else:
        text = text.replace("\n", " ")
        text = _SPACES.sub(" ", text)
    return "" if is_blank(text) else _trim(text)


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
