"""Repeating sessions: weekly, every two weeks or monthly, until a date or for N sessions.

How occurrences are materialized: all of them, up front, when the series is set up (at most
:data:`MAX_SESSIONS`, within :data:`HORIZON`). Each occurrence is its own confirmed Session row
with ``series_id`` and ``original_start_at``, so reminders, "did it happen" and cancelling one
work exactly as for a single session, and nothing has to wake up later to create the next one.

Occurrences follow the wall clock in the zone the series follows (the person who set it up,
unless they name another), using dateutil's rrule on local times, so a weekly Tuesday 18:00
stays 18:00 there across daylight-saving changes; the other person's local time may shift, and
they are told when. A wall time that falls in a daylight-saving gap is moved later by the gap
(RFC 5545's reading, so calendars agree); one in a repeated hour takes the first of the two. A
monthly series from the 29th-31st falls on the last day of shorter months; every such change
is said, never silent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, Literal
from zoneinfo import ZoneInfo

from dateutil.rrule import MONTHLY, WEEKLY, rrule

from bot.errors import UserError
from bot.when import describe_span
from bot.zones import zone_info

log = logging.getLogger(__name__)

MAX_SESSIONS = 52
HORIZON = timedelta(days=366)
FREQUENCY_WORDS = {
    "weekly": "weekly",
    "every week": "weekly",
    "biweekly": "biweekly",
    "fortnightly": "biweekly",
    "every 2 weeks": "biweekly",
    "every two weeks": "biweekly",
    "monthly": "monthly",
    "every month": "monthly",
}
_Frequency = Literal[0, 1, 2, 3, 4, 5, 6]
_RULES: dict[str, tuple[_Frequency, int]] = {
    "weekly": (WEEKLY, 1),
    "biweekly": (WEEKLY, 2),
    "monthly": (MONTHLY, 1),
}
LABELS = {"weekly": "every week", "biweekly": "every two weeks", "monthly": "every month"}


def parse_frequency(text: str) -> str:
    key = " ".join(text.lower().split())
    if key not in FREQUENCY_WORDS:
        raise UserError(
            f"“{text[:30]}” is not a repetition I know.", "Say weekly, biweekly or monthly."
        )
    return FREQUENCY_WORDS[key]


@dataclass(frozen=True)
class Occurrence:
    """One start of a series, and why it is not at the series' usual wall-clock time, if not."""

    at: datetime
    note: str | None = None


def monthly_days(day: int) -> tuple[int, ...]:
    """BYMONTHDAY for a monthly series from ``day``: from the 29th on, the month's last day
    where the month is shorter ("31, -1" with BYSETPOS=1), never a skipped month."""
    return (day,) if day <= 28 else (day, -1)


def occurrences(
    first: datetime,
    zone: str,
    frequency: str,
    *,
    count: int | None = None,
    until: datetime | None = None,
    horizon: timedelta = HORIZON,
) -> list[Occurrence]:
    """Start times (UTC) of the series beginning at ``first``, the first included.

    Occurrences keep ``first``'s wall-clock time in ``zone`` (dateutil's rrule on local
    times). A monthly series from the 29th-31st falls on the last day of shorter months. A wall
    time that does not exist (the hour skipped when clocks go forward) is read with the offset
    before the change, as RFC 5545 does, which moves it later by the gap; its note says so.
    Occurrences start before the instant ``until`` (the caller makes a bare date inclusive).
    Refuses a series of fewer than two or more than :data:`MAX_SESSIONS` sessions, or one
    reaching past ``horizon``.
    """
    if (count is None) == (until is None):
        raise UserError(
            "Say how long the series runs: `until: <date>` or `times: N`, not both.",
            "For example: `repeat 12 weekly times: 6`.",
        )
    tz = zone_info(zone)
    local_first = first.astimezone(tz).replace(tzinfo=None)
    freq, interval = _RULES[frequency]
    days = monthly_days(local_first.day) if frequency == "monthly" else None
    options: dict[str, Any] = {"interval": interval, "dtstart": local_first}
    if days is not None and len(days) > 1:
        options.update(bymonthday=days, bysetpos=1)
    if until is not None:
        local_until = (until - timedelta(microseconds=1)).astimezone(tz).replace(tzinfo=None)
        starts = list(islice(rrule(freq, until=local_until, **options), MAX_SESSIONS + 1))
    else:
        starts = list(rrule(freq, count=count, **options))
    if len(starts) < 2:
        raise UserError(
            "That series would have only one session.", "Pick a later date or `times: 2` or more."
        )
    if len(starts) > MAX_SESSIONS:
        raise UserError(
            f"That's more than {MAX_SESSIONS} sessions.", "Pick an earlier date or fewer times."
        )
    out = [Occurrence(_instant(wall, tz), _note(wall, local_first, tz)) for wall in starts]
    if out[-1].at - first > horizon:
        raise UserError(
            f"That series runs past {describe_span(horizon)} from now, as far ahead as "
            "sessions may be booked here.",
            "Set it up for a shorter time; you can repeat it again later.",
        )
    return out


def _ordinal(day: int) -> str:
    return f"{day}{'st' if day % 10 == 1 and day != 11 else 'th'}"


def local_times(starts: list[datetime], zone: str) -> list[tuple[datetime, str]]:
    """When the wall-clock time of a series changes for a reader in ``zone``: the first start
    with its local time, then each start from which the local time is different ("from 29
    Mar: 19:00 for you")."""
    tz = zone_info(zone)
    out: list[tuple[datetime, str]] = []
    for at in starts:
        shown = f"{at.astimezone(tz):%H:%M}"
        if not out or out[-1][1] != shown:
            out.append((at, shown))
    return out


def _instant(wall: datetime, tz: ZoneInfo) -> datetime:
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _note(wall: datetime, first: datetime, tz: ZoneInfo) -> str | None:
    """Why this occurrence is not on the series' usual day and wall time, if it is not."""
    day = f"{wall:%a} {wall.day} {wall:%b %Y}"
    if wall.day != first.day and first.day > 28:
        return f"{day}: the last day of {wall:%B} (it has no {_ordinal(first.day)})"
    real = _instant(wall, tz).astimezone(tz).replace(tzinfo=None)
    if real != wall:
        return (f"{day}: {wall:%H:%M} does not exist there (the clocks go forward), "
                f"so it is at {real:%H:%M}")
    return None
