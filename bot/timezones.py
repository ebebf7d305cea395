"""Time handling for people: zones, weekly availability windows, pause dates, waking hours.

Everything is timezone-aware: a window is in the mentor's own zone, a member's waking hours in
theirs, and overlaps are computed on real instants of the coming week, so daylight-saving
changes and zones with half-hour offsets come out right.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from bot.config import QUIET_HOURS
from bot.domain import WEEKDAYS, Window
from bot.errors import UserError
from bot.zones import zone_info

log = logging.getLogger(__name__)

_DAY_NAMES = {
    **{d.lower(): i for i, d in enumerate(WEEKDAYS)},
    **{
        name: i
        for i, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
    "tues": 1,
    "wednes": 2,
    "thur": 3,
    "thurs": 3,
}
_TIME = r"(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm)?"
_WINDOW = re.compile(
    rf"^(?P<days>[a-z]+(?:\s*-\s*[a-z]+)?)\s+(?P<start>{_TIME})\s*(?:-|–|to)\s*(?P<end>{_TIME})$",
    re.IGNORECASE,
)


def parse_timezone(text: str) -> str:
    """The canonical IANA zone a person typed ("europe/berlin" works too); suggestions if not."""
    from bot.zones import canonical_zone

    return canonical_zone(text)


def valid_platform_zone(zone: str | None) -> str | None:
    """The zone a platform reported, if it is one we accept; None otherwise (never a refusal:
    the person did not type it)."""
    from bot.zones import platform_zone

    return platform_zone(zone)


def _clock(hour: str, minute: str | None, ampm: str | None, *, is_end: bool) -> time:
    h = int(hour)
    m = int(minute or 0)
    if ampm:
        if not 1 <= h <= 12:
            raise ValueError
        h = h % 12 + (12 if ampm.lower() == "pm" else 0)
    if is_end and h == 24 and m == 0:
        return time(23, 59)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValueError
    return time(h, m)


def _days(spec: str) -> list[int]:
    parts = [p.strip().lower() for p in spec.split("-")]
    try:
        indices = [_DAY_NAMES[p] for p in parts]
    except KeyError:
        raise ValueError from None
    if len(indices) == 1:
        return indices
    first, last = indices
    if last < first:
        last += 7
    return [d % 7 for d in range(first, last + 1)]


def parse_windows(text: str) -> tuple[Window, ...]:
    """Parse "Tue 18:00-20:00, Sat 10:00-12:00" (also "Mon-Fri 7pm-9pm") into windows."""
    windows: list[Window] = []
    for raw in re.split(r"[,;\n]+", text):
        chunk = raw.strip()
        if not chunk:
            continue
        match = _WINDOW.match(chunk)
        example = "Please write windows like “Tue 18:00-20:00, Sat 10:00-12:00”."
        if not match:
            raise UserError(f"I can't read the availability window “{chunk[:60]}”.", example)
        try:
            days = _days(match["days"])
            start = _clock(match[3], match[4], match[5], is_end=False)
            end = _clock(match[7], match[8], match[9], is_end=True)
        except ValueError:
            raise UserError(
                f"I can't read the availability window “{chunk[:60]}”.", example
            ) from None
        if end <= start:
            raise UserError(
                f"The window “{chunk[:60]}” ends before it starts.",
                "Windows can't cross midnight: split it in two, "
                "e.g. “Fri 22:00-23:59, Sat 00:00-01:00”.",
            )
        windows.extend(Window(day, start, end) for day in days)
    if len(windows) > 28:
        raise UserError("That is more than 28 weekly windows.", "Please merge some of them.")
    return tuple(sorted(set(windows)))


def describe_windows(
    windows: Sequence[Window], zone: str, *, reader_zone: str | None = None,
    now: datetime | None = None,
) -> str:
    """Weekly windows as a reader reads them: in the reader's zone, the owner's in brackets.

    ``Tue 12:00-14:00 (Tue 18:00-20:00 Europe/Berlin)`` for a reader in New York. Converted on
    the coming week's real dates (``now``), so a daylight-saving difference between the two
    zones comes out as it is that week. Without a reader (or in the same zone) just the
    owner's windows and zone.
    """
    if not windows:
        return "no weekly windows yet"
    own = ", ".join(str(w) for w in windows)
    if reader_zone is None or reader_zone == zone or now is None:
        return f"{own} ({zone})"
    theirs = ", ".join(_window_in(w, zone, reader_zone, now) for w in windows)
    return f"{theirs} your time ({own} {zone})"


def _window_in(window: Window, zone: str, reader_zone: str, now: datetime) -> str:
    week_start = now.astimezone(zone_info(zone)).date()
    start, end = _week_intervals([window], zone, week_start)[0]
    local_start = start.astimezone(zone_info(reader_zone))
    local_end = end.astimezone(zone_info(reader_zone))
    day = WEEKDAYS[local_start.weekday()]
    if local_end.date() == local_start.date() or local_end.time() == time(0, 0):
        return f"{day} {local_start:%H:%M}-{local_end:%H:%M}"
    return f"{day} {local_start:%H:%M}-{WEEKDAYS[local_end.weekday()]} {local_end:%H:%M}"


def parse_quiet_hours(text: str) -> str:
    value = text.strip()
    if value.lower() in {"off", "none", ""}:
        return ""
    if not QUIET_HOURS.match(value):
        raise UserError(
            f"I can't read the quiet hours “{value[:40]}”.", "Please write them as 22:00-08:00."
        )
    return value


def month_start(now: datetime, zone: str) -> datetime:
    """Midnight on the first of ``now``'s calendar month in ``zone`` (aware, in that zone)."""
    local = now.astimezone(zone_info(zone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def local_date(at: datetime, zone: str) -> str:
    local = at.astimezone(zone_info(zone))
    return f"{local:%a} {local.day} {local:%b %Y}"


def waking_hours(quiet_hours: str) -> tuple[time, time]:
    """The complement of quiet hours ("22:00-08:00" → 08:00 to 22:00)."""
    if not quiet_hours:
        return time(0, 0), time(0, 0)  # midnight to midnight: the whole day
    start, end = quiet_hours.split("-")
    quiet_start = time.fromisoformat(start)
    quiet_end = time.fromisoformat(end)
    return quiet_end, quiet_start


def _week_intervals(
    windows: Sequence[Window], zone: str, week_start: date
) -> list[tuple[datetime, datetime]]:
    tz = zone_info(zone)
    out = []
    for w in windows:
        day = week_start + timedelta(days=(w.weekday - week_start.weekday()) % 7)
        start = datetime.combine(day, w.start, tzinfo=tz).astimezone(UTC)
        end = datetime.combine(day, w.end, tzinfo=tz).astimezone(UTC)
        out.append((start, end))
    return out


def overlap_with_waking_hours(
    windows: Sequence[Window],
    mentor_zone: str,
    member_zone: str,
    quiet_hours: str,
    now: datetime,
) -> tuple[timedelta, list[datetime]]:
    """How much of the mentor's coming week falls in the member's waking hours.

    Returns the total overlap and the start of each overlapping stretch (in UTC), which the
    caller describes in the member's own words ("evenings").
    """
    return WakingWeek(member_zone, quiet_hours, now).overlap(windows, mentor_zone)


class WakingWeek:
    """A member's waking hours around the coming week, in UTC, worked out once.

    Why a class: a search measures the overlap with every fitting mentor (a hundred in a big
    community); the member's side is the same for all of them.
    """

    def __init__(self, member_zone: str, quiet_hours: str, now: datetime) -> None:
        self.now = now
        wake_from, wake_to = waking_hours(quiet_hours)
        member_tz = zone_info(member_zone)
        first = now.astimezone(member_tz).date() - timedelta(days=2)
        self.awake: list[tuple[datetime, datetime]] = []
        # A mentor's week starts on their "today", up to a day from the member's; a window
        # ends at most 8 days on; the member's day may have begun the evening before.
        for offset in range(12):
            day = first + timedelta(days=offset)
            start = datetime.combine(day, wake_from, tzinfo=member_tz).astimezone(UTC)
            end = datetime.combine(day, wake_to, tzinfo=member_tz).astimezone(UTC)
            if end <= start:
                end += timedelta(days=1)
            self.awake.append((start, end))
        self.ends = [end for _, end in self.awake]

    def overlap(self, windows: Sequence[Window], mentor_zone: str
                ) -> tuple[timedelta, list[datetime]]:
        week_start = self.now.astimezone(zone_info(mentor_zone)).date()
        total = timedelta(0)
        starts: list[datetime] = []
        for start, end in _week_intervals(windows, mentor_zone, week_start):
            # The member's days are in order: start at the first that ends after the window
            # starts, stop at the first that begins after it ends (one or two in between).
            for awake_start, awake_end in self.awake[bisect_right(self.ends, start):]:
                if awake_start >= end:
                    break
                lo, hi = max(start, awake_start), min(end, awake_end)
                if hi > lo:
                    total += hi - lo
                    starts.append(lo)
        return total, starts


def part_of_day(at: datetime, zone: str) -> str:
    hour = at.astimezone(zone_info(zone)).hour
    if hour < 12:
        return "mornings"
    if hour < 17:
        return "afternoons"
    return "evenings"
