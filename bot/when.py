"""Reading a time a person typed: "tomorrow 6pm", "next Tue 18:30", "2026-12-03 09:00 UTC".

The rule: do exactly what the person wrote, or refuse with a message that shows how to say
it. A booking at the wrong hour is worse than a refusal.

Why a small grammar and not dateparser: dateparser fills whatever it did not read from "now"
and guesses the rest. Measured on dateparser 1.2–1.5 with "now" = Mon 23 Nov 12:07:
"tomorrow 6.30pm", "tomorrow at 5", "tomorrow 13pm" and "tomorrow 18:75" all became tomorrow
at 12:07; "Tue at 5" became 23 May 2027; "the 3rd" and "Thursday the 3rd" 23 Mar 2027;
"3.12.2026" 12 Mar; "tomorrow week" tomorrow. Checking its answer needs an independent reading
of every part anyway, and once that reading exists it is the answer. So the forms below are
read by this module alone, every accepted phrasing has one meaning pinned by
``tests/test_when_table.py``, and anything else is refused with examples.

What is read (case-insensitive; "at", "on", "the", "of" and commas may be added anywhere):

- **Time of day** (exactly one): ``18:30``, ``18.30``, ``18h30``, ``18h``, ``6:30pm``,
  ``6.30 pm``, ``6pm``, ``6 p.m.``, ``noon``/``midday``, ``midnight``, ``at 18``, ``18``
  after a day. ``H:MM`` without am/pm is the 24-hour clock (``5:30`` is 05:30).
  Refused: a bare hour 1–12 without am/pm (``at 5``, ``Tue 5``, ``5 o'clock``: "5:00 or
  17:00?"; ``at 6`` is refused the same way, and ``at 12`` asks "noon or midnight?"),
  ``12am`` (write 00:00), 12-hour values above 12 (``13pm``), minutes above 59, ``24:00``,
  seconds other than ``:00``, two times of day (``10:00-11:00``).
- **Day**: nothing (today), ``today``/``tonight``, ``tomorrow``, ``yesterday``, ``day after
  tomorrow``, ``in 3 days`` / ``in a week`` / ``in 2 weeks`` / ``in a fortnight`` / ``in 2
  months`` / ``in a year`` (also "3 days from now"; months keep the day of the month, the
  last day of a shorter month when needed), a weekday (``Tue``, ``on Friday``, ``next
  Tuesday``, ``coming Friday``: the first such day after today, so "Mon" typed on a Monday
  is next week's; ``this Monday``: today included), and dates in three formats: ISO
  ``2026-12-03`` (or ``2026/12/03``), ``3 Dec 2026`` / ``3rd of December`` and ``Dec 3`` /
  ``December 3rd, 2026``. A date without a year is the next one that is not over (today
  included). A weekday given with a date must match it.
  All-numeric dates other than ISO (``03/12/2026``, ``3.12.2026``, ``12/3``) are refused:
  people write day/month and month/day alike.
- **Midnight**: alone or with "tonight" it is the coming midnight (the end of today); with
  any other day it is refused, asking for ``00:00`` of the day meant.
- **Zone** (at the end; the day is read in that zone too): a canonical IANA zone in any case
  (``Europe/Berlin``, ``asia/kolkata``; see ``bot.zones``), ``UTC``/``GMT``/``Z``, a UTC offset
  (``+05:30``, ``UTC+5:30``, ``GMT-3``), or an abbreviation the zone uses at that time
  (``CET``/``CEST``), which also tells apart the repeated hour when clocks go back.

Why we localize ourselves: a wall-clock time that does not exist (the hour skipped when clocks
go forward) is refused, and one that exists twice (the hour repeated when they go back) must
be told apart with an offset ("+01:00") or an abbreviation ("CET").

Limits: the calendar ends at years 1 and 9999; anything that would cross them is refused with
a message (never an OverflowError). ``horizon`` refuses times further ahead than the
community allows ("I can book up to 12 months ahead").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from bot.errors import UserError
from bot.text import plural
from bot.zones import canonical_zone, zone_suggestions

log = logging.getLogger(__name__)

EXAMPLES = "Try “tomorrow 18:00”, “next Tue 18:30” or “2026-12-03 09:00 Europe/Berlin”."
DATE_EXAMPLES = "Write a date such as 2026-12-01, “3 Dec”, “next Monday” or “in 2 weeks”."
MAX_WHEN = 80

_ZONE = re.compile(r"^[A-Za-z][A-Za-z_+-]*(?:/[A-Za-z0-9_+-]+)+$")
_UTC_WORDS = frozenset({"UTC", "GMT", "Z"})
_OFFSET = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_ABBREVIATION = re.compile(r"^[A-Z]{3,5}$")

_WEEKDAYS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "weds": 2,
    "wednesday": 2, "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}
_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}
_NOT_ABBREVIATIONS = frozenset(
    {"AM", "PM", "NOON", "TODAY", "MIDDAY"} | {name.upper() for name in (*_WEEKDAYS, *_MONTHS)}
)
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}
_FILLERS = frozenset({"at", "@", "on", "the", "of"})

_WD = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
_MON = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ORD = r"(?:st|nd|rd|th)?"
_ISO = re.compile(r"(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})")
_DAY_MONTH = re.compile(rf"(?P<d>\d{{1,2}}){_ORD}[ -](?P<mon>{_MON})(?:[ -](?P<y>\d{{4}}))?")
_MONTH_DAY = re.compile(rf"(?P<mon>{_MON}) (?P<d>\d{{1,2}}){_ORD}(?: (?P<y>\d{{4}}))?")
_NUMERIC_DATE = re.compile(r"\d{1,4}[/.-]\d{1,2}(?:[/.-]\d{1,4})?")
_WEEKDAY = re.compile(
    rf"(?:(?P<which>this coming|next|this|coming) )?(?P<wd>{_WD})(?: (?P<rest>.+))?"
)
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_COUNT = "|".join(["\\d{1,9}", *_NUMBER_WORDS])
_UNIT = "days?|weeks?|fortnights?|months?|years?"
_IN = re.compile(rf"in (?P<n>{_COUNT}) (?P<unit>{_UNIT})")
_FROM_NOW = re.compile(rf"(?P<n>{_COUNT}) (?P<unit>{_UNIT}) from now")
_RELATIVE_DAYS = {
    "": 0, "today": 0, "tonight": 0, "tomorrow": 1, "tmrw": 1, "yesterday": -1,
    "day after tomorrow": 2,
}

# Times of day, most specific first; each match is blanked before the next pattern looks.
_NOT_BEFORE = r"(?<![\w:.])"
_CLOCK = re.compile(
    _NOT_BEFORE
    + r"(?P<h>\d{1,2})(?P<sep>[:.h])(?P<m>\d{2})(?::(?P<s>\d{2}))?"
    r"(?:\s*(?P<ap>[ap])\.?\s?m\b\.?)?(?![\d:]|[./]\d)",
    re.IGNORECASE,
)
_HOUR_AMPM = re.compile(_NOT_BEFORE + r"(?P<h>\d{1,2})\s*(?P<ap>[ap])\.?\s?m\b\.?", re.IGNORECASE)
_HOUR_H = re.compile(_NOT_BEFORE + r"(?P<h>\d{1,2})h\b", re.IGNORECASE)
_OCLOCK = re.compile(_NOT_BEFORE + r"(?P<h>\d{1,2})\s*o'?clock\b", re.IGNORECASE)
_AT_HOUR = re.compile(r"(?<![\w])(?:at|@)\s*(?P<h>\d{1,2})(?![\w:]|\.\d)", re.IGNORECASE)
_BARE_HOUR = re.compile(r"(?P<h>\d{1,2})")
_WORDS = re.compile(r"\b(?:12\s*)?(?P<word>noon|midday|midnight)\b", re.IGNORECASE)


class PastTime(UserError):
    """The time is readable but already over (booking adds the next free times to the hint)."""


@dataclass(frozen=True)
class _Suffix:
    zone: str | None = None
    offset: timedelta | None = None
    abbreviation: str | None = None


@dataclass(frozen=True)
class _Clock:
    """The time of day as written."""

    hour: int
    minute: int
    written: str
    midnight: bool = False
    ambiguous_hour: int | None = None  # "at 5": refused with "5:00 or 17:00?"


@dataclass(frozen=True)
class _Day:
    """The day as read; how it was written decides the hints."""

    day: date
    written: str
    named_weekday: bool = False  # "this Mon", today included
    bare: bool = False  # no day written: today
    tonight: bool = False
    relative: timedelta | relativedelta | None = None  # "in 2 weeks" (keeps the time of day)


# -- limits -----------------------------------------------------------------------------------


@contextmanager
def _calendar_limits() -> Iterator[None]:
    """Turn arithmetic past year 1 or 9999 into a refusal instead of OverflowError."""
    try:
        yield
    except (OverflowError, ValueError):
        raise UserError(
            "That is beyond the calendar I can work with (years 1 to 9999).",
            "Please pick a date in the coming months.",
        ) from None


def describe_span(span: timedelta) -> str:
    """A horizon as people say it: "12 months" (a month is 30 days), "8 weeks", "10 days"."""
    days = span.days
    if span < timedelta(days=1):
        return plural(max(1, round(span.total_seconds() / 3600)), "hour")
    if days in (365, 366):
        return "12 months"
    if days % 30 == 0 and days >= 60:
        return plural(days // 30, "month")
    if days % 7 == 0:
        return plural(days // 7, "week")
    return plural(days, "day")


def check_horizon(at: datetime, now: datetime, horizon: timedelta | None, what: str) -> None:
    """Refuse ``at`` further than ``horizon`` after ``now``, naming ``what`` and the horizon."""
    if horizon is not None and at - now > horizon:
        span = describe_span(horizon)
        raise UserError(
            f"{what} is too far ahead: I can book up to {span} ahead.",
            "Please pick an earlier date.",
        )


# -- the zone suffix --------------------------------------------------------------------------


def _split_suffix(value: str) -> tuple[str, _Suffix]:
    """Take an explicit zone, offset or abbreviation off the end of ``value``."""
    parts = value.rsplit(maxsplit=1)
    if len(parts) < 2:
        return value, _Suffix()
    head, last = parts
    offset = _OFFSET.match(last)
    if offset and (offset.group(3) is not None or last[:3].upper() in {"UTC", "GMT"}):
        hours, minutes = int(offset.group(2)), int(offset.group(3) or 0)
        if hours > 14 or minutes > 59:
            raise UserError(f"“{last[:20]}” is not a UTC offset.", "Write it like +01:00.")
        sign = 1 if offset.group(1) == "+" else -1
        return head, _Suffix(offset=sign * timedelta(hours=hours, minutes=minutes))
    if last.upper() in _UTC_WORDS:
        return head, _Suffix(zone="UTC")
    if _ZONE.match(last):
        return head, _Suffix(zone=canonical_zone(last))
    if _ABBREVIATION.match(last) and last not in _NOT_ABBREVIATIONS:
        return head, _Suffix(abbreviation=last)
    return value, _Suffix()


def _normalize(text: str) -> str:
    """Whitespace folded; an ISO timestamp ("2026-12-03T09:00+05:30") split into its parts.

    Only the "T" form may carry an attached offset: "10:00-11:00" is a range, not 10:00 at
    UTC-11:00.
    """
    value = " ".join(text.split())
    iso = re.search(
        r"(\d{4}-\d{2}-\d{2})T(\d{1,2}:\d{2}(?::\d{2})?)(Z|[+-]\d{2}:?\d{2})?$",
        value,
        re.IGNORECASE,
    )
    if iso:
        parts = [iso.group(1), iso.group(2), *([iso.group(3).upper()] if iso.group(3) else [])]
        value = value[: iso.start()] + " ".join(parts)
    return value


# -- the time of day --------------------------------------------------------------------------


def _clocks(body: str) -> tuple[list[tuple[str, re.Match[str]]], str]:
    """Every time of day in ``body`` and what is left when they are blanked out."""
    found: list[tuple[str, re.Match[str]]] = []
    work = body
    for kind, pattern in (
        ("clock", _CLOCK), ("ampm", _HOUR_AMPM), ("h", _HOUR_H), ("oclock", _OCLOCK),
        ("at", _AT_HOUR), ("word", _WORDS),
    ):
        for match in pattern.finditer(work):
            found.append((kind, match))
        work = pattern.sub(lambda m: " " * len(m.group(0)), work)
    return found, work


def _ambiguous(hour: int, written: str, day_text: str) -> UserError:
    prefix = f"{day_text} " if day_text else ""
    if hour == 12:
        return UserError(
            f"“{written}”: noon or midnight?",
            f"Write “{prefix}12:00” for noon or “{prefix}00:00” for midnight.",
        )
    return UserError(
        f"“{written}”: {hour}:00 or {hour + 12}:00?",
        f"Write “{prefix}{hour:02d}:00” or “{prefix}{hour + 12}:00” "
        f"(or {hour}am / {hour}pm).",
    )


def _twelve_hour(hour: int, minute: int) -> str:
    return f"{hour}:{minute:02d}" if minute else str(hour)


def _read_clock(kind: str, match: re.Match[str], day_text: str) -> _Clock:
    """Check the time of day as written; refuse what is not a time or could be two."""
    written = " ".join(match.group(0).split())
    prefix = f"{day_text} " if day_text else ""
    if kind == "word":
        word = match.group("word").lower()
        return _Clock(0, 0, written, midnight=True) if word == "midnight" else _Clock(
            12, 0, written
        )
    hour = int(match.group("h"))
    minute = int(match.groupdict().get("m") or 0)
    ampm = (match.groupdict().get("ap") or "").lower()
    if minute > 59:
        raise UserError(
            f"“{written}” isn't a time: minutes go from 00 to 59.",
            f"Write it like “{prefix}{hour:02d}:30”.",
        )
    seconds = match.groupdict().get("s")
    if seconds is not None and int(seconds) != 0:
        raise UserError(f"“{written}”: I book to the minute.",
                        f"Write “{prefix}{hour:02d}:{minute:02d}”.")
    if ampm:
        if hour == 0 or hour > 12:
            better = f"“{prefix}{hour:02d}:{minute:02d}”"
            if 12 < hour < 24:
                better += f" or “{prefix}{_twelve_hour(hour - 12, minute)}pm”"
            raise UserError(
                f"“{written}” isn't a time: the 12-hour clock goes from 1 to 12.",
                f"Write {better}.",
            )
        if hour == 12 and ampm == "a":
            raise UserError(
                f"“{written}” is easy to misread.",
                f"Write “{prefix}00:{minute:02d}” for just after midnight, or "
                f"“{prefix}12:{minute:02d}” for just after noon.",
            )
        return _Clock(hour % 12 + (12 if ampm == "p" else 0), minute, written)
    if hour == 24 and minute == 0:
        raise UserError(
            f"“{written}” is the end of the day.",
            "Write 00:00 with the next day, e.g. “tomorrow 00:00”, or 23:59.",
        )
    if hour > 23:
        raise UserError(
            f"“{written}” isn't a time: hours go from 0 to 23.", f"{EXAMPLES}"
        )
    if kind in ("at", "oclock") and 1 <= hour <= 12:
        return _Clock(0, 0, written, ambiguous_hour=hour)  # refused once the day is known
    return _Clock(hour, minute, written)


# -- the day ----------------------------------------------------------------------------------


def _day_words(text: str) -> str:
    words = []
    for raw in text.replace(",", " ").split():
        word = raw.lower()
        if word.isalpha() or word.rstrip(".").isalpha():
            word = word.rstrip(".")
        if word not in _FILLERS:
            words.append(word)
    return " ".join(words)


def _show_date(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def _pretty(words: str) -> str:
    """Day words as people write them back: "31 nov" → "31 Nov"."""
    return " ".join(w.capitalize() if w in _MONTHS or w in _WEEKDAYS else w for w in words.split())


def _calendar_date(year: int, month: int, day: int, written: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise UserError(f"There is no such date as “{_pretty(written)}”.", EXAMPLES) from None


def _date_of(words: str, today: date) -> date | None:
    """A written date (ISO or with a month name), or None when ``words`` is not one."""
    iso = _ISO.fullmatch(words)
    if iso:
        return _calendar_date(int(iso["y"]), int(iso["m"]), int(iso["d"]), words)
    named = _DAY_MONTH.fullmatch(words) or _MONTH_DAY.fullmatch(words)
    if named:
        month, day = _MONTHS[named["mon"]], int(named["d"])
        if named["y"]:
            return _calendar_date(int(named["y"]), month, day, words)
        _calendar_date(2024, month, day, words)  # a leap year: is it a date in any year?
        for year in (today.year, today.year + 1):
            try:
                candidate = date(year, month, day)
            except ValueError:
                continue
            if candidate >= today:
                return candidate
        raise UserError(f"There is no {_pretty(words)} in the coming year.",
                        "Write it with the year, like 2028-02-29.")
    if _NUMERIC_DATE.fullmatch(words):
        raise UserError(
            f"I don't read all-numeric dates like “{words}”: day/month and month/day look "
            "alike.",
            _numeric_hint(words, today),
        )
    return None


def _numeric_hint(words: str, today: date) -> str:
    """The readings an all-numeric date could have, written the way I read dates."""
    parts = [int(part) for part in re.split(r"[/.-]", words)]
    readings: list[str] = []
    if len(parts) in (2, 3) and parts[0] < 100:
        year = parts[2] if len(parts) == 3 else today.year
        for day, month in ((parts[0], parts[1]), (parts[1], parts[0])):
            try:
                reading = date(year, month, day)
            except ValueError:
                continue
            shown = reading.isoformat() if len(parts) == 3 else f"{day} {reading:%b}"
            if shown not in readings:
                readings.append(shown)
    if readings:
        return f"Write it as {' or '.join(f'“{r}”' for r in readings)}."
    return "Write the date like 2026-12-03 or 3 Dec 2026."


def _count(text: str) -> int:
    return _NUMBER_WORDS[text] if text in _NUMBER_WORDS else int(text)


def _read_day(text: str, today: date) -> _Day | None:
    """The day ``text`` names relative to ``today``, or None when it is not a day I read."""
    words = _day_words(text)
    written = " ".join(text.replace(",", " ").split())
    with _calendar_limits():
        if words in _RELATIVE_DAYS:
            shift = _RELATIVE_DAYS[words]
            return _Day(today + timedelta(days=shift), written, bare=not words,
                        tonight=words == "tonight")
        relative = _IN.fullmatch(words) or _FROM_NOW.fullmatch(words)
        if relative:
            amount, unit = _count(relative["n"]), relative["unit"]
            step: timedelta | relativedelta
            if unit.startswith("day"):
                step = timedelta(days=amount)
            elif unit.startswith("week"):
                step = timedelta(weeks=amount)
            elif unit.startswith("fortnight"):
                step = timedelta(weeks=2 * amount)
            elif unit.startswith("month"):
                step = relativedelta(months=amount)
            else:
                step = relativedelta(years=amount)
            return _Day(today + step, written, relative=step)
        weekday = _WEEKDAY.fullmatch(words)
        if weekday:
            wanted = _WEEKDAYS[weekday["wd"]]
            if weekday["rest"]:
                written_date = _date_of(weekday["rest"], today)
                if written_date is None:
                    return None
                if written_date.weekday() != wanted:
                    raise UserError(
                        f"{_show_date(written_date)} is a {written_date:%A}, "
                        f"not a {_WEEKDAY_NAMES[wanted]}.",
                        "Please check the day or the date.",
                    )
                return _Day(written_date, written)
            # "this Mon" may be today; "Mon", "next Mon", "coming Mon" are after today.
            may_be_today = weekday["which"] == "this"
            ahead = (wanted - today.weekday()) % 7 or (0 if may_be_today else 7)
            return _Day(today + timedelta(days=ahead), written, named_weekday=may_be_today)
        written_date = _date_of(words, today)
        return None if written_date is None else _Day(written_date, written)


def _unreadable(value: str, day_text: str) -> UserError:
    last = day_text.split()[-1] if day_text.split() else ""
    if last and last.isalpha() and len(last) > 2:
        close = zone_suggestions(last, limit=1)
        if close and close[0].rsplit("/", 1)[-1].lower() == last.lower():
            return UserError(
                f"I can't read the time “{value[:60]}”.",
                f"For the timezone, write its full name at the end, like “{close[0]}”.",
            )
    return UserError(f"I can't read the time “{value[:60]}”.", EXAMPLES)


def _reading_zone(zone: str, suffix: _Suffix) -> tuple[tzinfo, str]:
    if suffix.offset is not None and suffix.zone is None:
        offset = _offset_text(suffix.offset)
        return timezone(suffix.offset), f"UTC{offset}"
    return ZoneInfo(zone), zone


# -- reading a time ---------------------------------------------------------------------------


def parse_when(
    text: str,
    zone: str,
    now: datetime,
    *,
    horizon: timedelta | None = None,
    allow_past: bool = False,
) -> datetime:
    """The UTC instant meant by ``text``, read in ``zone`` relative to ``now``.

    Refuses (UserError) unreadable text, a date without a time, an ambiguous hour, a time in
    the past (PastTime, unless ``allow_past``), a time beyond ``horizon``, a wall-clock time
    skipped by a daylight-saving change, and an ambiguous one (repeated hour) unless an offset
    or abbreviation says which.
    """
    value = _normalize(text)
    if not value:
        raise UserError("When? I need a date and time.", EXAMPLES)
    if len(value) > MAX_WHEN:
        raise UserError("That time is too long for me to read.", EXAMPLES)
    body, suffix = _split_suffix(value)
    if suffix.zone:
        zone = suffix.zone
        body, inner = _split_suffix(body)  # "02:30 CET Europe/Berlin"
        if inner.zone:
            raise UserError("That names two timezones.", "Give one, at the end.")
        suffix = _Suffix(zone, inner.offset, inner.abbreviation)
    tz, zone_label = _reading_zone(zone, suffix)
    with _calendar_limits():
        today = now.astimezone(tz).date()
    clock, day = _read_parts(value, body, today)
    if clock.midnight:
        day = _midnight(day)
    with _calendar_limits():
        wall = datetime.combine(day.day, time(clock.hour, clock.minute))
        if suffix.offset is not None:
            _check_offset(wall, suffix, zone)
            result = wall.replace(tzinfo=timezone(suffix.offset)).astimezone(UTC)
        else:
            result = _localize(wall, ZoneInfo(zone), zone, suffix.abbreviation)
    if result <= now and not allow_past:
        raise PastTime(f"{_show(wall)} ({zone_label}) is in the past.", _past_hint(day, clock))
    check_horizon(result, now, horizon, f"{_show(wall)} ({zone_label})")
    return result


def _read_parts(value: str, body: str, today: date) -> tuple[_Clock, _Day]:
    """The time of day and the day ``body`` names; refusals quote ``value``."""
    found, rest = _clocks(body)
    day_text = " ".join(rest.split())
    if len(found) > 1:
        shown = " and ".join(f"“{' '.join(m.group(0).split())}”" for _, m in found)
        raise UserError(
            f"That has more than one time of day ({shown}).",
            "Give one, e.g. “tomorrow 18:30”; for a session, give its start.",
        )
    if found:
        kind, match = found[0]
        clock = _read_clock(kind, match, _day_words_for_hint(day_text))
        day = _read_day(rest, today)
        if day is None:
            raise _unreadable(value, day_text)
    else:
        words = day_text.split()
        day = None
        bare = _BARE_HOUR.fullmatch(words[-1]) if words else None  # "tomorrow 18"
        if bare is not None and int(bare["h"]) <= 24:
            day = _read_day(" ".join(words[:-1]), today)
        if day is None or bare is None:
            readable_day = bool(words) and _read_day(rest, today) is not None
            raise UserError(
                f"“{value[:60]}” has no time of day.",
                f"Add one, e.g. “{value[:60]} 18:00”." if readable_day else EXAMPLES,
            )
        day_text = " ".join(words[:-1])
        clock = _read_clock("at" if 1 <= int(bare["h"]) <= 12 else "h", bare, day_text)
    if clock.ambiguous_hour is not None:
        raise _ambiguous(clock.ambiguous_hour, clock.written, _day_words_for_hint(day_text))
    return clock, day


def _day_words_for_hint(day_text: str) -> str:
    """The day as the person wrote it, without "at"/"@", to build "write it like" hints."""
    return " ".join(w for w in day_text.split() if w.lower() not in {"at", "@"})


def _midnight(day: _Day) -> _Day:
    """"midnight" alone or "tonight": the end of today; with another day: ask which."""
    if day.bare or day.tonight:
        with _calendar_limits():
            return _Day(day.day + timedelta(days=1), day.written)
    with _calendar_limits():
        after = day.day + timedelta(days=1)
    raise UserError(
        f"Midnight at the start or at the end of {_show_date(day.day)}?",
        f"Write “{day.day.isoformat()} 00:00” for the start or “{after.isoformat()} 00:00” "
        "for the end.",
    )


def _past_hint(day: _Day, clock: _Clock) -> str:
    at = f"{clock.hour:02d}:{clock.minute:02d}"
    if day.named_weekday:
        return f"For next week's, write “next {day.day:%a} {at}”."
    if day.bare:
        return f"For tomorrow, write “tomorrow {at}”."
    return "Please pick a time in the future."


def _check_offset(wall: datetime, suffix: _Suffix, zone: str) -> None:
    """With a zone named as well, the offset must be one that zone uses at that time."""
    if suffix.zone is None or suffix.offset is None:
        return
    tz = ZoneInfo(zone)
    offsets = {wall.replace(tzinfo=tz, fold=fold).utcoffset() for fold in (0, 1)}
    if suffix.offset not in offsets:
        used = " or ".join(sorted(_offset_text(o or timedelta(0)) for o in offsets))
        raise UserError(
            f"{zone} is at UTC{used} at that time, not UTC{_offset_text(suffix.offset)}.",
            "Give the zone or the offset, not both.",
        )


def _show(wall: datetime) -> str:
    return f"{wall:%a} {wall.day} {wall:%b %Y %H:%M}"


def _localize(wall: datetime, tz: ZoneInfo, zone: str, abbreviation: str | None) -> datetime:
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    back = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if back != wall:
        raise UserError(
            f"{_show(wall)} doesn't exist in {zone}: the clocks skip that hour "
            "when daylight saving starts.",
            "Please pick another time, e.g. an hour later.",
        )
    ambiguous = first.utcoffset() != second.utcoffset()
    if abbreviation is not None:
        for candidate in (first, second):
            if candidate.tzname() == abbreviation:
                return candidate.astimezone(UTC)
        names = " or ".join(sorted({str(first.tzname()), str(second.tzname())}))
        raise UserError(
            f"{zone} uses {names} at that time, not {abbreviation}.",
            "Write the zone's abbreviation for that time, or a UTC offset like +01:00.",
        )
    if ambiguous:
        raise UserError(
            f"{_show(wall)} happens twice in {zone}: the clocks go back that night.",
            f"Say which by adding {first.tzname()} (the first, UTC{_offset(first)}) "
            f"or {second.tzname()} (the second, UTC{_offset(second)}), "
            f"e.g. “{wall:%Y-%m-%d %H:%M} {second.tzname()}”.",
        )
    return first.astimezone(UTC)


def _offset(at: datetime) -> str:
    return _offset_text(at.utcoffset() or timedelta(0))


def _offset_text(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# -- reading a date ("until") -----------------------------------------------------------------


def parse_date_until(
    text: str,
    zone: str,
    now: datetime,
    *,
    horizon: timedelta | None = None,
    through_day: bool = False,
) -> datetime:
    """A future moment from "2026-12-01", "3 Dec", "next monday", "in 2 weeks" in ``zone``.

    A day (a date, a weekday, "tomorrow")
    means the start of that day in the person's zone, or its end (00:00 of the next day) with
    ``through_day``; "in 2 weeks" is the same time of day two weeks on; a time of day may be
    given too ("2026-12-01 18:00"). A weekday is the next such day after today, even with
    "this" (the start of today is always over). Refuses the past, ``horizon`` and the
    calendar's ends.
    """
    value = " ".join(text.split())
    if not value:
        raise UserError("Until when?", DATE_EXAMPLES)
    if len(value) > MAX_WHEN:
        raise UserError("That date is too long for me to read.", DATE_EXAMPLES)
    tz = ZoneInfo(zone)
    body, suffix = _split_suffix(_normalize(value))
    found, _ = _clocks(body)
    if found or suffix != _Suffix():
        try:
            return parse_when(value, zone, now, horizon=horizon)
        except PastTime:
            raise UserError(
                "That date is in the past.", "Please pick a date in the future."
            ) from None
    with _calendar_limits():
        local_now = now.astimezone(tz)
    day = _read_day(value, local_now.date())
    if day is None:
        raise UserError(f"I can't read the date “{value[:60]}”.", DATE_EXAMPLES)
    with _calendar_limits():
        if day.named_weekday and day.day == local_now.date():
            day = _Day(day.day + timedelta(days=7), day.written)
        if day.relative is not None:
            wall = local_now.replace(tzinfo=None) + day.relative
        else:
            wall = datetime.combine(day.day + timedelta(days=1 if through_day else 0), time())
        result = wall.replace(tzinfo=tz).astimezone(UTC)
    if result <= now:
        raise UserError("That date is in the past.", "Please pick a date in the future.")
    check_horizon(result, now, horizon, _show_date(day.day))
    return result


def warm_up() -> None:
    """One representative read, so the first person's command does not pay for loading
    the zone list, the zone data and the compiled patterns."""
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    parse_when("next Tue 18:30 Europe/Berlin", "UTC", now)
    parse_date_until("in 2 weeks", "UTC", now)
    log.debug("time reading warmed up")
