"""Repeating sessions: weekly, every two weeks or monthly, until a date or for N sessions.

How occurrences are materialized: all of them, up front, when the series is set up (at most
:data:`MAX_SESSIONS`, within :data:`HORIZON`). Each occurrence is its own confirmed Session row
with ``series_id`` and ``original_start_at``, so reminders, "did it happen" and cancelling one
work exactly as for a single session, and nothing has to wake up later to create the next one.

Occurrences follow the wall clock in the mentor's zone (dateutil's rrule on local times), so a
weekly Tuesday 18:00 stays 18:00 across daylight-saving changes. A wall time that falls in a
daylight-saving gap moves an hour later; one in a repeated hour takes the first of the two.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Literal
from zoneinfo import ZoneInfo

from dateutil.rrule import MONTHLY, WEEKLY, rrule

from bot.errors import UserError

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


def parse_times(text: str) -> int:
    value = text.strip()
    if not value.isdigit() or not 1 < int(value) <= MAX_SESSIONS:
        raise UserError(
            f"“{value[:20]}” sessions: a series has 2 to {MAX_SESSIONS} sessions in all.",
            "For example: `times: 6`.",
        )
    return int(value)


def occurrences(
    first: datetime,
    zone: str,
    frequency: str,
    *,
    count: int | None = None,
    until: datetime | None = None,
) -> list[datetime]:
    """Start times (UTC) of the series beginning at ``first``, the first included.

    Occurrences start before the instant ``until`` (the caller makes a bare date inclusive
    by passing the end of that day in the person's own zone). Refuses a series of fewer than
    two or more than :data:`MAX_SESSIONS` sessions, or one reaching past :data:`HORIZON`.
    """
    if (count is None) == (until is None):
        raise UserError(
            "Say how long the series runs: `until: <date>` or `times: N`, not both.",
            "For example: `repeat 12 weekly times: 6`.",
        )
    tz = ZoneInfo(zone)
    local_first = first.astimezone(tz).replace(tzinfo=None)
    freq, interval = _RULES[frequency]
    if until is not None:
        local_until = (until - timedelta(microseconds=1)).astimezone(tz).replace(tzinfo=None)
        rule = rrule(freq, interval=interval, dtstart=local_first, until=local_until)
        starts = list(islice(rule, MAX_SESSIONS + 1))
    else:
        starts = list(rrule(freq, interval=interval, dtstart=local_first, count=count))
    if len(starts) < 2:
        raise UserError(
            "That series would have only one session.", "Pick a later date or `times: 2` or more."
        )
    if len(starts) > MAX_SESSIONS:
        raise UserError(
            f"That's more than {MAX_SESSIONS} sessions.", "Pick an earlier date or fewer times."
        )
    out = [wall.replace(tzinfo=tz, fold=0).astimezone(UTC) for wall in starts]
    if out[-1] - first > HORIZON:
        raise UserError(
            "That series runs more than a year.",
            "Set it up for up to a year; you can repeat it later.",
        )
    return out
