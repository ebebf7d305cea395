"""Whether a session may start at a given time, and the next times that may.

The guards, in the order a refusal names them: not in the past; at least ``min_notice_hours``
from now; the mentor is not on a break then; inside one of the mentor's weekly windows (in the
mentor's own zone; skipped when the mentor proposes the time themselves); the mentor's monthly
cap; no overlap with either person's other sessions (proposed with a time, or confirmed).

The monthly cap counts the calendar month of the session's start in the *mentor's zone*, the
same months the mentor ranking uses ("sessions free this month"), so both agree.

A mentor without weekly windows has not restricted their times: the window guard does not
apply, and suggestions are taken from 09:00-18:00 in their zone.

Why pure functions over a :class:`Calendar` fetched once (``bot.sessions.calendar``): the
refusal and the "next free slots"
suggestion must agree exactly, and a series checks dozens of times with one query.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain import Member, MentorProfile, Session, Window
from bot.timezones import describe_windows, local_date
from bot.zones import zone_info

log = logging.getLogger(__name__)

SUGGESTIONS = 3
SUGGESTION_STEP = timedelta(minutes=30)
SUGGESTION_HORIZON = timedelta(weeks=8)
DEFAULT_DAY = (time(9, 0), time(18, 0))


@dataclass(frozen=True)
class Rules:
    """The fixed facts of one booking: who, when is now, which guards apply."""

    now: datetime
    min_notice: timedelta
    profile: MentorProfile
    mentor: Member
    booker_id: int
    month_zone: str
    enforce_windows: bool = True
    """False when the mentor chose the time: their windows and their break don't apply."""
    exclude: frozenset[int] = frozenset()
    """Session ids to ignore (the session being moved, its own earlier version)."""
    zone: str = "UTC"
    """The zone of the person choosing: refusals echo the time as they read it."""


@dataclass(frozen=True)
class Calendar:
    """Both people's busy sessions and the mentor's counted sessions, fetched once."""

    busy: tuple[Session, ...]
    counted: tuple[Session, ...]
    pending: tuple[datetime, ...] = field(default_factory=tuple)
    """Starts being booked in the same command (a series' earlier occurrences): they count
    against the monthly cap too."""


def _in_window(start: datetime, end: datetime, windows: Sequence[Window], zone: str) -> bool:
    tz = zone_info(zone)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    if local_end.date() != local_start.date() and local_end.time() != time(0, 0):
        return False
    for w in windows:
        if w.weekday != local_start.weekday() or local_start.time() < w.start:
            continue
        window_end = datetime.combine(local_start.date(), w.end, tzinfo=tz)
        if w.end == time(23, 59):
            next_day = local_start.date() + timedelta(days=1)
            window_end = datetime.combine(next_day, time(0), tzinfo=tz)
        if end <= window_end:
            return True
    return False


def _month_key(at: datetime, zone: str) -> tuple[int, int]:
    local = at.astimezone(zone_info(zone))
    return local.year, local.month


def refusal(start: datetime, duration: int, rules: Rules, calendar: Calendar) -> str | None:
    """Why a session of ``duration`` minutes may not start at ``start``; None if it may."""
    end = start + timedelta(minutes=duration)
    name = rules.mentor.display_name
    profile = rules.profile
    if start <= rules.now:
        local = start.astimezone(zone_info(rules.zone))
        return f"{local:%a} {local.day} {local:%b %Y %H:%M} ({rules.zone}) is in the past."
    if start < rules.now + rules.min_notice:
        hours = int(rules.min_notice.total_seconds() // 3600)
        return f"That's less than {hours} hours from now; sessions need {hours} hours' notice."
    if (
        rules.enforce_windows
        and profile.paused_until is not None
        and start < profile.paused_until
    ):
        until = local_date(profile.paused_until, profile.availability_timezone)
        return f"{name} is taking a break until {until}."
    if rules.enforce_windows and profile.windows and not _in_window(
        start, end, profile.windows, profile.availability_timezone
    ):
        windows = describe_windows(profile.windows, profile.availability_timezone,
                                   reader_zone=rules.zone, now=rules.now)
        return f"That's outside {name}'s availability: {windows}."
    month = _month_key(start, rules.month_zone)
    used = sum(
        1
        for s in calendar.counted
        if s.id not in rules.exclude
        and s.start_at is not None
        and _month_key(s.start_at, rules.month_zone) == month
    ) + sum(1 for p in calendar.pending if _month_key(p, rules.month_zone) == month)
    if used >= profile.max_sessions_per_month:
        return (
            f"{name} already has {profile.max_sessions_per_month} sessions that month, "
            "the most they take."
        )
    for other in calendar.busy:
        if other.id in rules.exclude or other.start_at is None or other.end_at is None:
            continue
        if other.start_at < end and start < other.end_at:
            if rules.booker_id in (other.mentor_id, other.member_id):
                return f"You already have session #{other.id} at that time."
            if rules.mentor.id in (other.mentor_id, other.member_id):
                return f"{name} already has another session at that time."
            return "They already have another session at that time."
    return None


def _day_windows(windows: Sequence[Window], weekday: int) -> list[tuple[time, time]]:
    if not windows:
        return [DEFAULT_DAY]
    return sorted((w.start, w.end) for w in windows if w.weekday == weekday)


def next_free(
    duration: int, rules: Rules, calendar: Calendar, *, count: int = SUGGESTIONS
) -> list[datetime]:
    """The next ``count`` start times inside the mentor's windows that pass every guard."""
    profile = rules.profile
    tz = zone_info(profile.availability_timezone)
    earliest = rules.now + rules.min_notice
    if profile.paused_until is not None and profile.paused_until > earliest:
        earliest = profile.paused_until
    day: date = earliest.astimezone(tz).date()
    last_day = (rules.now + SUGGESTION_HORIZON).astimezone(tz).date()
    found: list[datetime] = []
    while day <= last_day and len(found) < count:
        for lo, hi in _day_windows(profile.windows, day.weekday()):
            cursor = datetime.combine(day, lo)
            stop = datetime.combine(day, hi) if hi != time(23, 59) else datetime.combine(
                day + timedelta(days=1), time(0)
            )
            while cursor + timedelta(minutes=duration) <= stop and len(found) < count:
                at = _existing(cursor, tz)
                if (
                    at is not None
                    and at >= earliest
                    and refusal(at, duration, rules, calendar) is None
                ):
                    found.append(at)
                cursor += SUGGESTION_STEP
        day += timedelta(days=1)
    return found


def _existing(wall: datetime, tz: ZoneInfo) -> datetime | None:
    """The instant of a wall-clock time, or None in a daylight-saving gap."""
    at = wall.replace(tzinfo=tz)
    if at.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        return None
    return at.astimezone(UTC)


def describe_times(times: Iterable[datetime], zone: str) -> str:
    """Times as a reader in ``zone`` reads them, in a form ``parse_when`` reads back."""
    out = []
    for at in times:
        local = at.astimezone(zone_info(zone))
        name = local.tzname() or ""
        if not name.isalpha():
            offset = int((local.utcoffset() or timedelta(0)).total_seconds() // 60)
            sign = "+" if offset >= 0 else "-"
            name = f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
        out.append(f"{local:%a} {local:%Y-%m-%d %H:%M} {name}")
    return "; ".join(out)
