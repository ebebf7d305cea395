"""Reading typed times: relative to the injected "now", in the person's zone, DST-aware."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.errors import UserError
from bot.when import parse_when

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # Mon 13:00 in Berlin, 07:00 in New York


@pytest.mark.parametrize(
    ("typed", "zone", "expected"),
    [
        ("tomorrow 6pm", "Europe/Berlin", datetime(2026, 11, 24, 17, 0, tzinfo=UTC)),
        ("tomorrow 18:00", "America/New_York", datetime(2026, 11, 24, 23, 0, tzinfo=UTC)),
        ("next Tue 18:30", "Europe/Berlin", datetime(2026, 11, 24, 17, 30, tzinfo=UTC)),
        ("Wed 19:00", "Asia/Kolkata", datetime(2026, 11, 25, 13, 30, tzinfo=UTC)),
        ("2026-12-03 09:00", "Europe/Berlin", datetime(2026, 12, 3, 8, 0, tzinfo=UTC)),
        ("2026-12-03 09:00 Europe/Berlin", "America/New_York",
         datetime(2026, 12, 3, 8, 0, tzinfo=UTC)),
        ("2026-12-03 09:00 UTC", "Europe/Berlin", datetime(2026, 12, 3, 9, 0, tzinfo=UTC)),
        ("2026-12-03 09:00 +05:30", "Europe/Berlin", datetime(2026, 12, 3, 3, 30, tzinfo=UTC)),
        ("Dec 3 at 9am", "Europe/London", datetime(2026, 12, 3, 9, 0, tzinfo=UTC)),
        ("in 3 days at 18:00", "Europe/Berlin", datetime(2026, 11, 26, 17, 0, tzinfo=UTC)),
        # Summer time: 18:00 in Berlin is 16:00 UTC.
        ("2027-06-01 18:00", "Europe/Berlin", datetime(2027, 6, 1, 16, 0, tzinfo=UTC)),
        # The repeated hour, told apart.
        ("2027-10-31 02:30 CEST", "Europe/Berlin", datetime(2027, 10, 31, 0, 30, tzinfo=UTC)),
        ("2027-10-31 02:30 CET", "Europe/Berlin", datetime(2027, 10, 31, 1, 30, tzinfo=UTC)),
        ("2027-10-31 02:30 +01:00", "Europe/Berlin", datetime(2027, 10, 31, 1, 30, tzinfo=UTC)),
        ("2027-10-31 02:30 CET Europe/Berlin", "UTC", datetime(2027, 10, 31, 1, 30, tzinfo=UTC)),
    ],
)
def test_reads_times_in_the_persons_zone(typed: str, zone: str, expected: datetime) -> None:
    got = parse_when(typed, zone, NOW)
    assert got == expected
    assert got.tzinfo is not None


def test_relative_to_the_injected_clock() -> None:
    later = datetime(2027, 2, 10, 12, 0, tzinfo=UTC)
    assert parse_when("tomorrow 18:00", "UTC", later) == datetime(2027, 2, 11, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "zone", "message"),
    [
        ("", "UTC", "When? I need a date and time."),
        ("whenever 10:00", "UTC", "I can't read the time “whenever 10:00”."),
        ("tomorrow", "UTC", "“tomorrow” has no time of day."),
        ("yesterday 10:00", "UTC", "Sun 22 Nov 2026 10:00 (UTC) is in the past."),
        ("today 06:00", "America/New_York", "is in the past."),
        ("2027-03-28 02:30", "Europe/Berlin",
         "Sun 28 Mar 2027 02:30 doesn't exist in Europe/Berlin"),
        ("2027-03-14 02:30", "America/New_York", "doesn't exist in America/New_York"),
        ("2027-10-31 02:30", "Europe/Berlin", "happens twice in Europe/Berlin"),
        ("2027-11-07 01:30", "America/New_York", "happens twice in America/New_York"),
        ("2027-10-31 02:30 EST", "Europe/Berlin",
         "Europe/Berlin uses CEST or CET at that time, not EST."),
        ("2026-12-03 09:00 Mars/Olympus", "UTC", "I don't know the timezone “Mars/Olympus”."),
        ("2026-12-03 09:00 +25:00", "UTC", "“+25:00” is not a UTC offset."),
        ("2026-12-03 09:00 Europe/Paris Europe/Berlin", "UTC", "That names two timezones."),
        ("x" * 81 + " 10:00", "UTC", "That time is too long for me to read."),
    ],
)
def test_refuses_with_a_reason(typed: str, zone: str, message: str) -> None:
    with pytest.raises(UserError) as err:
        parse_when(typed, zone, NOW)
    assert message in str(err.value)


def test_ambiguous_hour_names_both_choices() -> None:
    with pytest.raises(UserError) as err:
        parse_when("2027-10-31 02:30", "Europe/Berlin", NOW)
    assert err.value.hint == (
        "Say which by adding CEST (the first, UTC+02:00) or CET (the second, UTC+01:00), "
        "e.g. “2027-10-31 02:30 CET”."
    )
