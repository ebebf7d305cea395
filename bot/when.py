"""Reading a time a person typed: "tomorrow 6pm", "next Tue 18:30", "2026-12-03 09:00 UTC".

Why not hand dateparser the zone: dateparser localizes silently, so a time that does not exist
(the hour skipped when clocks go forward) or exists twice (the hour repeated when they go back)
would quietly become *some* instant. We let dateparser read the words into a naive wall-clock
time relative to the person's "now", then localize it ourselves with zoneinfo and ask the person
when the wall-clock time is not one instant: a gap is refused, an overlap must be told apart
with a UTC offset ("+01:00") or the zone's abbreviation ("CET").

What may follow the time: an IANA zone (overrides the person's own), a UTC offset, or an
abbreviation the zone uses at that time.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import dateparser

from bot.errors import UserError
from bot.timezones import parse_timezone

log = logging.getLogger(__name__)

EXAMPLES = "Try “tomorrow 18:00”, “next Tue 18:30” or “2026-12-03 09:00 Europe/Berlin”."
MAX_WHEN = 80

_ZONE = re.compile(r"^(?:UTC|GMT|Z|[A-Za-z][A-Za-z_+-]*(?:/[A-Za-z0-9_+-]+)+)$")
_OFFSET = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_ABBREVIATION = re.compile(r"^[A-Z]{3,5}$")
_NOT_ABBREVIATIONS = frozenset({"AM", "PM", "NOON"})
_HAS_TIME = re.compile(
    r"\d{1,2}\s*[:.h]\s*\d{2}|\d{1,2}\s*(?:am|pm)\b|\bnoon\b|\bmidnight\b|\bat\s+\d{1,2}\b",
    re.IGNORECASE,
)


class PastTime(UserError):
    """The time is readable but already over (booking adds the next free times to the hint)."""


@dataclass(frozen=True)
class _Suffix:
    zone: str | None = None
    offset: timedelta | None = None
    abbreviation: str | None = None


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
    if _ZONE.match(last):
        if last.upper() in {"UTC", "GMT", "Z"}:
            return head, _Suffix(zone="UTC")
        return head, _Suffix(zone=parse_timezone(last))
    if _ABBREVIATION.match(last) and last not in _NOT_ABBREVIATIONS:
        return head, _Suffix(abbreviation=last)
    return value, _Suffix()


def parse_when(text: str, zone: str, now: datetime) -> datetime:
    """The UTC instant meant by ``text``, read in ``zone`` relative to ``now``.

    Refuses (UserError) unreadable text, a date without a time, a time in the past, a
    wall-clock time skipped by a daylight-saving change, and an ambiguous one (repeated hour)
    unless an offset or abbreviation says which.
    """
    value = " ".join(text.split())
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
    tz = ZoneInfo(zone)
    if not _HAS_TIME.search(body):
        raise UserError(f"“{value[:60]}” has no time of day.", EXAMPLES)
    parsed = dateparser.parse(
        body,
        languages=["en"],
        settings={
            "RELATIVE_BASE": now.astimezone(tz).replace(tzinfo=None),
            "PREFER_DATES_FROM": "future",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    if parsed is None:
        raise UserError(f"I can't read the time “{value[:60]}”.", EXAMPLES)
    wall: datetime = parsed.replace(tzinfo=None, second=0, microsecond=0)
    if suffix.offset is not None:
        result = wall.replace(tzinfo=timezone(suffix.offset)).astimezone(UTC)
    else:
        result = _localize(wall, tz, zone, suffix.abbreviation)
    if result <= now:
        raise PastTime(
            f"{_show(wall)} ({zone}) is in the past.", "Please pick a time in the future."
        )
    return result


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
    delta = at.utcoffset() or timedelta(0)
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
