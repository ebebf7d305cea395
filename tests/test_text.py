"""Cleaning what people type: remove what hides or flips text, keep what real text needs."""

from __future__ import annotations

import pytest

from bot.errors import UserError
from bot.text import bounded, clean, is_blank, plural, shorten

PROGRAMMER = "\U0001f469\u200d\U0001f4bb"  # 👩‍💻
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"  # 🏳️‍🌈
RED_HEART = "\u2764\ufe0f"  # ❤️
KEYCAP_ONE = "1\ufe0f\u20e3"  # 1️⃣
EYE_IN_BUBBLE = "\U0001f441\ufe0f\u200d\U0001f5e8\ufe0f"  # 👁️‍🗨️
ASTRONAUT = "\U0001f9d1\U0001f3fd\u200d\U0001f680"  # 🧑🏽‍🚀 (skin tone before the joiner)
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # 👨‍👩‍👧
SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
TEXT_ARROW = "\u2194\ufe0e"  # ↔︎ in text style
PERSIAN = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # می‌خواهم
DEVANAGARI_HALF = "\u0915\u094d\u200d\u0937"  # क्‍ष (explicit half form)
DEVANAGARI_ZWNJ = "\u0915\u094d\u200c\u0937"  # क्‌ष (no conjunct)
MALAYALAM_CHILLU = "\u0d05\u0d35\u0d28\u0d4d\u200d"  # അവന്‍ (ends in a joiner)
SINHALA_SRI = "\u0dc1\u0dca\u200d\u0dbb\u0dd3"  # ශ්‍රී
CJK_VARIANT = "\u845b\U000e0100"  # 葛󠄀 with an ideographic variation selector


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        # Emoji sequences stay whole.
        (f"I {RED_HEART} python", f"I {RED_HEART} python"),
        (f"{PROGRAMMER} learning", f"{PROGRAMMER} learning"),
        (f"pride {RAINBOW_FLAG}", f"pride {RAINBOW_FLAG}"),
        (f"step {KEYCAP_ONE}", f"step {KEYCAP_ONE}"),
        (EYE_IN_BUBBLE, EYE_IN_BUBBLE),
        (ASTRONAUT, ASTRONAUT),
        (FAMILY, FAMILY),
        (f"go {SCOTLAND}!", f"go {SCOTLAND}!"),
        (f"a {TEXT_ARROW} b", f"a {TEXT_ARROW} b"),
        ("🐍 python", "🐍 python"),
        # Scripts that need joiners keep them.
        (PERSIAN, PERSIAN),
        (f"{PERSIAN} پایتون یاد بگیرم", f"{PERSIAN} پایتون یاد بگیرم"),
        (DEVANAGARI_HALF, DEVANAGARI_HALF),
        (DEVANAGARI_ZWNJ, DEVANAGARI_ZWNJ),
        (f"{MALAYALAM_CHILLU} വന്നു", f"{MALAYALAM_CHILLU} വന്നു"),
        (SINHALA_SRI, SINHALA_SRI),
        (CJK_VARIANT, CJK_VARIANT),
        ("أريد أن أتعلم — ניסיתי", "أريد أن أتعلم — ניסיתי"),
        # Braille text keeps its blanks inside; only the ends are trimmed.
        ("\u2800\u281e\u2811\u2800\u281e\u2800", "\u281e\u2811\u2800\u281e"),
    ],
)
def test_real_text_is_kept_exactly(typed: str, kept: str) -> None:
    assert clean(typed) == kept


@pytest.mark.parametrize(
    ("typed", "cleaned"),
    [
        # Hidden mentions come out where later escaping sees them.
        ("@\u200beveryone", "@everyone"),
        ("e\u200dveryone", "everyone"),
        ("@e\u200cveryone", "@everyone"),
        ("@e\ufe0fveryone", "@everyone"),
        ("@\u2060here", "@here"),
        ("@\ufeffhere", "@here"),
        ("every\u00adone", "everyone"),
        ("@ever\U000e0041\U000e0042yone", "@everyone"),  # tag characters smuggling text
        ("\U0001f3f4\U000e0041\U000e0042", "\U0001f3f4"),  # tags that are no flag
        # Bidi overrides and isolates.
        ("I tried \u202eevil\u202c things", "I tried evil things"),
        ("\u2066isolated\u2069 text", "isolated text"),
        ("\u202a\u202b\u202c\u202d\u202eX", "X"),
        ("left\u200eright\u200f", "leftright"),
        # Lone, leading and trailing joiners and selectors.
        ("\u200dhello", "hello"),
        ("hello\u200d", "hello"),
        ("hello\u200c world", "hello world"),
        ("\ufe0fhello", "hello"),
        ("\U0001f600\u200d", "\U0001f600"),
        ("\u200d\U0001f600", "\U0001f600"),
        ("a\u200d\U0001f600", "a\U0001f600"),
        ("py\u200bthon", "python"),
        ("\ufeffBOM first", "BOM first"),
        ("x\u034fy", "xy"),
        # Controls removed, spaces folded, ends trimmed.
        ("a\x00b\x07c\x1bd\x7fe\x85f", "abcdef"),
        ("  lots   of\t\tspace  ", "lots of space"),
        ("wide\u3000space\u2003and\u00a0nbsp", "wide space and nbsp"),
        ("line one\nline two", "line one line two"),
        ("line one \n line two", "line one line two"),
        ("crlf\r\nand\rcr", "crlf and cr"),
        ("para\u2029graph", "para graph"),
        ("Hangul\u3164filler", "Hangulfiller"),
        ("e\u0301", "\u00e9"),  # NFC
        ("", ""),
    ],
)
def test_invisible_and_control_characters_are_removed(typed: str, cleaned: str) -> None:
    assert clean(typed) == cleaned


@pytest.mark.parametrize(
    ("typed", "cleaned"),
    [
        ("first\nsecond", "first\nsecond"),
        ("  first  \n  second  ", "first\nsecond"),
        ("first\n\n\n\n\nsecond", "first\n\nsecond"),
        ("first\r\nsecond\rthird", "first\nsecond\nthird"),
        ("first\u2028second", "first\nsecond"),
        ("\n\nfirst\n\n", "first"),
        ("first\n\u2800\u3164\nsecond", "first\n\nsecond"),
        (f"{PROGRAMMER}\n{PERSIAN}", f"{PROGRAMMER}\n{PERSIAN}"),
    ],
)
def test_multiline_keeps_lines_and_at_most_one_blank_line(typed: str, cleaned: str) -> None:
    assert clean(typed, multiline=True) == cleaned


BLANK_LOOKING = [
    "\u2800",
    "\u2800\u2800\u2800",
    "\u3164",
    "\u115f\u1160",
    "\uffa0",
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a",
    "\u205f\u3000",
    "\u180e",
    "\u17b4\u17b5",
    "\u200b\u200c\u200d\ufe0f\u2060",
    " \u2800 \u3164 \u200b \u202e ",
]


@pytest.mark.parametrize("typed", BLANK_LOOKING)
def test_blank_looking_values_count_as_empty(typed: str) -> None:
    assert is_blank(typed)
    assert clean(typed) == ""
    assert clean(typed, multiline=True) == ""
    with pytest.raises(UserError) as err:
        bounded(typed, what="topic", max_length=80)
    assert err.value.message == "The topic is empty."
    assert bounded(typed, what="topic", max_length=80, min_length=0) == ""


def test_visible_text_is_not_blank() -> None:
    assert not is_blank("\u2800x")
    assert not is_blank(RED_HEART)
    assert not is_blank(".")


def test_bounded_keeps_existing_refusals() -> None:
    assert bounded(f" {PROGRAMMER} ", what="topic", max_length=80) == PROGRAMMER
    with pytest.raises(UserError, match="The context is too short"):
        bounded("short", what="context", max_length=800, min_length=20)
    with pytest.raises(UserError, match=r"The topic is too long \(81 characters\)"):
        bounded("p" * 81, what="topic", max_length=80)
    with pytest.raises(UserError, match="The reason is empty"):
        bounded("\n\n", what="reason", max_length=80, multiline=True)


def test_length_is_counted_after_cleaning() -> None:
    assert bounded("\u200b" * 100 + "ok", what="topic", max_length=2) == "ok"


def test_shorten_and_plural_are_unchanged() -> None:
    assert shorten("hello world", 20) == "hello world"
    assert shorten("hello world", 6) == "hello…"
    assert plural(1, "open request") == "1 open request"
    assert plural(2, "open request") == "2 open requests"
    assert plural(0, "session") == "0 sessions"
