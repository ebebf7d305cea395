"""Every phrasing a person might type, with the one instant it means or the refusal they see.

Each expected instant is worked out by hand from the zone's offset on that day (noted beside
it), not by the code under test. "Now" is fixed; a few rows use another "now" to show that
"today" is the person's today, not the server's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.errors import UserError
from bot.when import (
    PastTime,
    check_horizon,
    describe_span,
    parse_date_until,
    parse_when,
    warm_up,
)

# Mon 23 Nov 2026 12:00 UTC = Mon 13:00 Berlin (CET +1), 07:00 New York (EST -5),
# 04:00 Los Angeles (PST -8), 17:30 Kolkata (+5:30), 23:00 Sydney (AEDT +11).
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
# Mon 23 Nov 22:30 UTC = already Tue 04:00 in Kolkata and Tue 09:30 in Sydney; Mon 23:30 Berlin.
LATE = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)
# Sat 3 Apr 2027 12:00 UTC = Sat 23:00 Sydney (AEDT); clocks go back 03:00 → 02:00 on Sun 4 Apr.
SYDNEY_AUTUMN = datetime(2027, 4, 3, 12, 0, tzinfo=UTC)
# The last day of the calendar.
LAST_DAY = datetime(9999, 12, 31, 12, 0, tzinfo=UTC)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
LOS_ANGELES = "America/Los_Angeles"
KOLKATA = "Asia/Kolkata"
SYDNEY = "Australia/Sydney"
LONDON = "Europe/London"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class Refused:
    """A refusal: words the message must contain, and optionally words of the hint."""

    message: str
    hint: str = ""
    past: bool = False


ROWS: list[tuple[str, str, datetime, datetime | Refused]] = [
    # -- weekdays --------------------------------------------------------------------------
    ("Tue 18:30", BERLIN, NOW, utc(2026, 11, 24, 17, 30)),
    ("next Tuesday 18:30", BERLIN, NOW, utc(2026, 11, 24, 17, 30)),
    ("on Friday at 6pm", BERLIN, NOW, utc(2026, 11, 27, 17, 0)),
    ("Friday 6.30pm", NEW_YORK, NOW, utc(2026, 11, 27, 23, 30)),  # 18:30 EST
    ("this Wed 19:00", KOLKATA, NOW, utc(2026, 11, 25, 13, 30)),  # 19:00 IST
    # A weekday is after today ("Mon" on a Monday is next week's); "this Mon" may be today.
    ("Mon 18:00", BERLIN, NOW, utc(2026, 11, 30, 17, 0)),
    ("next Mon 18:00", BERLIN, NOW, utc(2026, 11, 30, 17, 0)),
    ("Mon 10:00", BERLIN, NOW, utc(2026, 11, 30, 9, 0)),
    ("this Mon 18:00", BERLIN, NOW, utc(2026, 11, 23, 17, 0)),
    ("this Mon 10:00", BERLIN, NOW, Refused("is in the past", "next Mon 10:00", past=True)),
    ("Sun 09:00", SYDNEY, NOW, utc(2026, 11, 28, 22, 0)),  # Sun 29 Nov 09:00 AEDT
    ("Tue 08:00", SYDNEY, NOW, utc(2026, 11, 23, 21, 0)),  # Tue 24 Nov 08:00 AEDT
    ("this Mon 23:30", SYDNEY, NOW, utc(2026, 11, 23, 12, 30)),  # today there, 30 min on
    ("Mon 23:30", SYDNEY, NOW, utc(2026, 11, 30, 12, 30)),
    ("Sat noon", "UTC", NOW, utc(2026, 11, 28, 12, 0)),
    ("Thursday 18h30", BERLIN, NOW, utc(2026, 11, 26, 17, 30)),
    ("wednesday at 17", NEW_YORK, NOW, utc(2026, 11, 25, 22, 0)),
    ("TUE 18:00", BERLIN, NOW, utc(2026, 11, 24, 17, 0)),
    ("this coming friday 10:00", BERLIN, NOW, utc(2026, 11, 27, 9, 0)),
    ("Tue at 5", BERLIN, NOW, Refused("5:00 or 17:00?", "“Tue 05:00” or “Tue 17:00”")),
    ("Tue 5", BERLIN, NOW, Refused("5:00 or 17:00?", "“Tue 17:00”")),
    ("Fri 2026-12-04 10:00", BERLIN, NOW, utc(2026, 12, 4, 9, 0)),
    ("Thu 2026-12-04 10:00", BERLIN, NOW, Refused("is a Friday, not a Thursday")),
    ("Thu 3 Dec 18:00", BERLIN, NOW, utc(2026, 12, 3, 17, 0)),
    # -- relative days ---------------------------------------------------------------------
    ("today 18:00", BERLIN, NOW, utc(2026, 11, 23, 17, 0)),
    ("tonight 9pm", NEW_YORK, NOW, utc(2026, 11, 24, 2, 0)),  # Mon 21:00 EST
    ("tomorrow 6.30pm", BERLIN, NOW, utc(2026, 11, 24, 17, 30)),
    ("tomorrow 6:30 pm", LOS_ANGELES, NOW, utc(2026, 11, 25, 2, 30)),  # Tue 18:30 PST
    ("tomorrow 6 p.m.", BERLIN, NOW, utc(2026, 11, 24, 17, 0)),
    ("tomorrow 6pm", KOLKATA, NOW, utc(2026, 11, 24, 12, 30)),
    ("tomorrow at 18:00", SYDNEY, NOW, utc(2026, 11, 24, 7, 0)),  # Tue 18:00 AEDT
    ("tmrw 7:45am", BERLIN, NOW, utc(2026, 11, 24, 6, 45)),
    ("day after tomorrow 09:15", BERLIN, NOW, utc(2026, 11, 25, 8, 15)),
    ("in 3 days at 18:00", BERLIN, NOW, utc(2026, 11, 26, 17, 0)),
    ("3 days from now 18:00", BERLIN, NOW, utc(2026, 11, 26, 17, 0)),
    ("in 2 weeks 10am", NEW_YORK, NOW, utc(2026, 12, 7, 15, 0)),
    ("in two weeks 10am", NEW_YORK, NOW, utc(2026, 12, 7, 15, 0)),
    ("in a fortnight noon", "UTC", NOW, utc(2026, 12, 7, 12, 0)),
    ("in 1 month 09:00", BERLIN, NOW, utc(2026, 12, 23, 8, 0)),
    ("yesterday 10:00", "UTC", NOW, Refused("Sun 22 Nov 2026 10:00 (UTC) is in the past",
                                             past=True)),
    ("tomorrow 18", BERLIN, NOW, utc(2026, 11, 24, 17, 0)),
    ("tomorrow at 0", BERLIN, NOW, utc(2026, 11, 23, 23, 0)),  # Tue 00:00 CET
    ("tomorrow 0:30", BERLIN, NOW, utc(2026, 11, 23, 23, 30)),
    ("tomorrow 12pm", BERLIN, NOW, utc(2026, 11, 24, 11, 0)),
    ("tomorrow noon", KOLKATA, NOW, utc(2026, 11, 24, 6, 30)),
    ("18:30", NEW_YORK, NOW, utc(2026, 11, 23, 23, 30)),  # today, 18:30 EST
    ("midnight", BERLIN, NOW, utc(2026, 11, 23, 23, 0)),  # the coming one: Tue 00:00 CET
    ("tonight at midnight", BERLIN, NOW, utc(2026, 11, 23, 23, 0)),
    ("noon", BERLIN, NOW, Refused("is in the past", "tomorrow 12:00", past=True)),
    # -- what is not a time, or could be two -----------------------------------------------
    ("tomorrow 18:75", BERLIN, NOW, Refused("minutes go from 00 to 59")),
    ("tomorrow 13pm", BERLIN, NOW, Refused("12-hour clock", "“tomorrow 1pm”")),
    ("tomorrow 13:30pm", BERLIN, NOW, Refused("12-hour clock", "“tomorrow 13:30”")),
    ("tomorrow 0am", BERLIN, NOW, Refused("12-hour clock")),
    ("tomorrow at 5", BERLIN, NOW, Refused("5:00 or 17:00?", "“tomorrow 05:00”")),
    ("tomorrow at 6", BERLIN, NOW, Refused("6:00 or 18:00?", "“tomorrow 18:00”")),
    ("tomorrow 5", BERLIN, NOW, Refused("5:00 or 17:00?")),
    ("5", BERLIN, NOW, Refused("5:00 or 17:00?")),
    ("tomorrow 5 o'clock", BERLIN, NOW, Refused("5:00 or 17:00?")),
    ("tomorrow at 12", BERLIN, NOW, Refused("noon or midnight?")),
    ("tomorrow 12am", BERLIN, NOW, Refused("easy to misread", "“tomorrow 00:00”")),
    ("tomorrow 24:00", BERLIN, NOW, Refused("the end of the day", "00:00")),
    ("tomorrow 25:00", BERLIN, NOW, Refused("hours go from 0 to 23")),
    ("tomorrow midnight", BERLIN, NOW, Refused("Midnight at the start or at the end",
                                               "“2026-11-25 00:00” for the end")),
    ("tomorrow 10:00-11:00", BERLIN, NOW, Refused("more than one time of day")),
    ("tomorrow 09:00:30", BERLIN, NOW, Refused("to the minute")),
    ("tomorrow", BERLIN, NOW, Refused("has no time of day", "“tomorrow 18:00”")),
    ("Dec 3", BERLIN, NOW, Refused("has no time of day", "“Dec 3 18:00”")),
    ("soon", BERLIN, NOW, Refused("“soon” has no time of day", "tomorrow 18:00")),
    ("whenever 10:00", BERLIN, NOW, Refused("I can't read the time “whenever 10:00”")),
    # -- dates: ISO ------------------------------------------------------------------------
    ("2026-12-03 09:00", BERLIN, NOW, utc(2026, 12, 3, 8, 0)),
    ("2026-12-03 9am", KOLKATA, NOW, utc(2026, 12, 3, 3, 30)),
    ("2026/12/03 18:00", SYDNEY, NOW, utc(2026, 12, 3, 7, 0)),  # 18:00 AEDT
    ("2026-12-03T09:00Z", BERLIN, NOW, utc(2026, 12, 3, 9, 0)),
    ("2026-12-03T09:00+05:30", BERLIN, NOW, utc(2026, 12, 3, 3, 30)),
    ("2027-06-01 18:00", BERLIN, NOW, utc(2027, 6, 1, 16, 0)),  # CEST +2
    ("2027-06-01 18:00", SYDNEY, NOW, utc(2027, 6, 1, 8, 0)),  # AEST +10 (southern winter)
    ("2026-02-30 10:00", BERLIN, NOW, Refused("There is no such date as “2026-02-30”")),
    # -- dates: month names ----------------------------------------------------------------
    ("3 Dec 2026 18:00", BERLIN, NOW, utc(2026, 12, 3, 17, 0)),
    ("Dec 3 at 9am", LONDON, NOW, utc(2026, 12, 3, 9, 0)),  # GMT in winter
    ("December 3rd, 2026 at 9:15 am", NEW_YORK, NOW, utc(2026, 12, 3, 14, 15)),
    ("3rd of December 18:00", KOLKATA, NOW, utc(2026, 12, 3, 12, 30)),
    ("dec. 3 18:00", BERLIN, NOW, utc(2026, 12, 3, 17, 0)),
    ("Dec 3 18", BERLIN, NOW, utc(2026, 12, 3, 17, 0)),
    ("Jan 5 10:00", BERLIN, NOW, utc(2027, 1, 5, 9, 0)),  # no year: the next 5 Jan
    ("Nov 22 10:00", BERLIN, NOW, utc(2027, 11, 22, 9, 0)),  # this year's is over
    ("23 Nov 10:00", BERLIN, NOW, Refused("Mon 23 Nov 2026 10:00", past=True)),  # today's
    ("31 Nov 18:00", BERLIN, NOW, Refused("There is no such date as “31 Nov”")),
    ("Feb 29 10:00", BERLIN, NOW, Refused("There is no Feb 29 in the coming year",
                                          "with the year")),
    ("Feb 29 2028 10:00", "UTC", NOW, utc(2028, 2, 29, 10, 0)),
    # -- dates: all-numeric (refused: day/month or month/day?) ------------------------------
    ("03/12/2026 18:00", BERLIN, NOW, Refused("day/month and month/day",
                                             "“2026-12-03” or “2026-03-12”")),
    ("12/3 10:00", BERLIN, NOW, Refused("day/month and month/day", "“12 Mar” or “3 Dec”")),
    ("3.12.2026 18:00", BERLIN, NOW, Refused("day/month and month/day")),
    ("25/12/2026 10:00", BERLIN, NOW, Refused("day/month and month/day", "“2026-12-25”")),
    # -- zones and offsets -----------------------------------------------------------------
    ("2026-12-03 09:00 UTC", BERLIN, NOW, utc(2026, 12, 3, 9, 0)),
    ("2026-12-03 09:00 utc", BERLIN, NOW, utc(2026, 12, 3, 9, 0)),
    ("2026-12-03 09:00 GMT", BERLIN, NOW, utc(2026, 12, 3, 9, 0)),
    ("2026-12-03 09:00 +05:30", BERLIN, NOW, utc(2026, 12, 3, 3, 30)),
    ("2026-12-03 09:00 UTC+5:30", BERLIN, NOW, utc(2026, 12, 3, 3, 30)),
    ("2026-12-03 09:00 GMT-3", BERLIN, NOW, utc(2026, 12, 3, 12, 0)),
    ("2026-12-03 09:00 asia/kolkata", NEW_YORK, NOW, utc(2026, 12, 3, 3, 30)),
    ("2026-12-03 09:00 Europe/Berlin", NEW_YORK, NOW, utc(2026, 12, 3, 8, 0)),
    # "tomorrow" is read in the zone named: it is already Mon 23:00 in Sydney.
    ("tomorrow 18:00 Australia/Sydney", BERLIN, NOW, utc(2026, 11, 24, 7, 0)),
    ("today 09:00 Asia/Kolkata", BERLIN, NOW, Refused("(Asia/Kolkata) is in the past",
                                                      past=True)),
    ("tomorrow 18:00 +01:00 Europe/Berlin", "UTC", NOW, utc(2026, 11, 24, 17, 0)),
    ("tomorrow 18:00 +05:30 Europe/Berlin", "UTC", NOW, Refused("not UTC+05:30")),
    ("tomorrow 18:00 Europe/Paris Europe/Berlin", "UTC", NOW, Refused("two timezones")),
    ("tomorrow 18:00 US/Eastern", BERLIN, NOW, Refused("I don't know the timezone",
                                                       "America/New_York")),
    ("tomorrow 18:00 berlin", BERLIN, NOW, Refused("I can't read the time", "Europe/Berlin")),
    ("tomorrow 18:00 Etc/GMT+5", BERLIN, NOW, Refused("its sign is reversed")),
    ("2026-12-03 09:00 +25:00", BERLIN, NOW, Refused("is not a UTC offset")),
    ("2026-12-03 09:00 EST", BERLIN, NOW, Refused("uses CET at that time, not EST")),
    # -- another "now": late evening in UTC is already tomorrow further east ---------------
    ("today 18:00", KOLKATA, LATE, utc(2026, 11, 24, 12, 30)),  # Tue 18:00 IST
    ("tomorrow 09:00", KOLKATA, LATE, utc(2026, 11, 25, 3, 30)),  # Wed 09:00 IST
    ("today 18:00", SYDNEY, LATE, utc(2026, 11, 24, 7, 0)),  # Tue 18:00 AEDT
    ("this Tue 08:00", SYDNEY, LATE, Refused("Tue 24 Nov 2026 08:00 (Australia/Sydney)",
                                             "next Tue 08:00", past=True)),
    ("Tue 08:00", SYDNEY, LATE, utc(2026, 11, 30, 21, 0)),  # Tue 1 Dec 08:00 AEDT
    ("tomorrow 18:00", LOS_ANGELES, LATE, utc(2026, 11, 25, 2, 0)),  # Tue 18:00 PST
    ("midnight", BERLIN, LATE, utc(2026, 11, 23, 23, 0)),  # in 30 minutes
    ("23:00", "UTC", LATE, utc(2026, 11, 23, 23, 0)),
    # -- daylight saving: Sydney's clocks go back, Berlin's forward ------------------------
    ("tomorrow 02:30", SYDNEY, SYDNEY_AUTUMN, Refused("happens twice in Australia/Sydney",
                                                      "AEDT")),
    ("tomorrow 02:30 AEDT", SYDNEY, SYDNEY_AUTUMN, utc(2027, 4, 3, 15, 30)),  # +11
    ("tomorrow 02:30 AEST", SYDNEY, SYDNEY_AUTUMN, utc(2027, 4, 3, 16, 30)),  # +10
    ("tomorrow 02:30 +10:00", SYDNEY, SYDNEY_AUTUMN, utc(2027, 4, 3, 16, 30)),
    ("tomorrow 10:00", SYDNEY, SYDNEY_AUTUMN, utc(2027, 4, 4, 0, 0)),  # AEST now
    ("2027-10-03 02:30", SYDNEY, NOW, Refused("doesn't exist in Australia/Sydney")),
    ("2027-03-28 02:30", BERLIN, NOW, Refused("doesn't exist in Europe/Berlin")),
    ("2027-10-31 02:30 CET", BERLIN, NOW, utc(2027, 10, 31, 1, 30)),
    # -- the calendar's ends ---------------------------------------------------------------
    ("9999-12-31 23:30", BERLIN, NOW, utc(9999, 12, 31, 22, 30)),
    ("9999-12-31 23:30", NEW_YORK, NOW, Refused("beyond the calendar")),
    ("0001-01-01 10:00", BERLIN, NOW, Refused("is in the past", past=True)),
    ("0001-01-01 00:30 Europe/Berlin", "UTC", NOW, Refused("beyond the calendar")),
    ("in 3000000 days at 10:00", BERLIN, NOW, Refused("beyond the calendar")),
    ("in 999999999 weeks at 10:00", BERLIN, NOW, Refused("beyond the calendar")),
    ("in 9999 years 10:00", BERLIN, NOW, Refused("beyond the calendar")),
    ("tomorrow 10:00", "UTC", LAST_DAY, Refused("beyond the calendar")),
    ("Fri 10:00", "UTC", LAST_DAY, Refused("beyond the calendar")),  # today is a Friday
    ("this Fri 10:00", "UTC", LAST_DAY, Refused("is in the past", past=True)),
    ("Sat 10:00", "UTC", LAST_DAY, Refused("beyond the calendar")),
    ("today 18:00", "UTC", LAST_DAY, utc(9999, 12, 31, 18, 0)),
]


def test_the_table_is_broad() -> None:
    assert len(ROWS) >= 60
    zones = {zone for _, zone, _, _ in ROWS}
    assert {BERLIN, NEW_YORK, KOLKATA, SYDNEY, "UTC"} <= zones
    assert len({typed for typed, *_ in ROWS}) >= 60


@pytest.mark.parametrize(("typed", "zone", "now", "expected"), ROWS)
def test_each_phrasing_means_one_instant_or_is_refused(
    typed: str, zone: str, now: datetime, expected: datetime | Refused
) -> None:
    if isinstance(expected, datetime):
        got = parse_when(typed, zone, now)
        assert got == expected, f"{typed!r} in {zone}: {got:%a %Y-%m-%d %H:%M} UTC"
        assert got.tzinfo is UTC
        return
    with pytest.raises(UserError) as err:
        parse_when(typed, zone, now)
    assert expected.message in err.value.message
    assert expected.hint in err.value.hint
    assert isinstance(err.value, PastTime) == expected.past


def test_every_refusal_shows_how_to_say_it() -> None:
    for typed, zone, now, expected in ROWS:
        if isinstance(expected, Refused):
            with pytest.raises(UserError) as err:
                parse_when(typed, zone, now)
            assert err.value.hint, f"{typed!r} is refused without a hint"


def test_a_past_time_can_be_let_through_for_the_caller_to_explain() -> None:
    assert parse_when("this Mon 10:00", BERLIN, NOW, allow_past=True) == utc(2026, 11, 23, 9, 0)


# -- the booking horizon ---------------------------------------------------------------------

HORIZON = timedelta(days=360)  # 12 months of 30 days, as the settings count them


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2027-11-10 10:00", utc(2027, 11, 10, 9, 0)),  # 352 days ahead
        ("in 51 weeks 10:00", utc(2027, 11, 15, 9, 0)),
        ("2027-11-30 10:00", Refused("is too far ahead: I can book up to 12 months ahead")),
        ("Nov 22 10:00", Refused("Mon 22 Nov 2027 10:00 (Europe/Berlin) is too far ahead")),
        ("in 2 years 10:00", Refused("12 months ahead")),
        ("9999-12-31 10:00", Refused("12 months ahead")),
    ],
)
def test_times_beyond_the_horizon_are_refused(typed: str, expected: datetime | Refused) -> None:
    if isinstance(expected, datetime):
        assert parse_when(typed, BERLIN, NOW, horizon=HORIZON) == expected
        return
    with pytest.raises(UserError) as err:
        parse_when(typed, BERLIN, NOW, horizon=HORIZON)
    assert expected.message in err.value.message


@pytest.mark.parametrize(
    ("span", "said"),
    [
        (timedelta(days=360), "12 months"),
        (timedelta(days=365), "12 months"),
        (timedelta(days=90), "3 months"),
        (timedelta(weeks=8), "8 weeks"),
        (timedelta(days=30), "30 days"),
        (timedelta(days=10), "10 days"),
        (timedelta(days=1), "1 day"),
        (timedelta(hours=5), "5 hours"),
    ],
)
def test_the_horizon_is_named_as_people_say_it(span: timedelta, said: str) -> None:
    assert describe_span(span) == said


def test_check_horizon_names_what_and_how_far() -> None:
    check_horizon(NOW + timedelta(days=10), NOW, timedelta(days=10), "The session")
    check_horizon(NOW + timedelta(days=9000), NOW, None, "The session")
    with pytest.raises(UserError) as err:
        check_horizon(NOW + timedelta(days=11), NOW, timedelta(days=10), "The series end")
    assert err.value.message == "The series end is too far ahead: I can book up to 10 days ahead."
    assert err.value.hint


# -- "until" dates ---------------------------------------------------------------------------

UNTIL_ROWS: list[tuple[str, str, datetime, datetime | Refused]] = [
    # A day means the start of that day in the person's zone.
    ("2026-12-24", "Asia/Tokyo", NOW, utc(2026, 12, 23, 15, 0)),  # 00:00 JST (+9)
    ("2026-12-01", BERLIN, NOW, utc(2026, 11, 30, 23, 0)),
    ("Dec 1", BERLIN, NOW, utc(2026, 11, 30, 23, 0)),
    ("1st of December 2026", BERLIN, NOW, utc(2026, 11, 30, 23, 0)),
    ("tomorrow", KOLKATA, NOW, utc(2026, 11, 23, 18, 30)),  # Tue 00:00 IST
    ("next monday", BERLIN, NOW, utc(2026, 11, 29, 23, 0)),  # Mon 30 Nov 00:00 CET
    ("monday", BERLIN, NOW, utc(2026, 11, 29, 23, 0)),
    ("this monday", BERLIN, NOW, utc(2026, 11, 29, 23, 0)),  # today's start is over
    ("Friday", SYDNEY, NOW, utc(2026, 11, 26, 13, 0)),  # Fri 27 Nov 00:00 AEDT
    # A span keeps the time of day.
    ("in 2 weeks", "UTC", NOW, NOW + timedelta(weeks=2)),
    ("in 10 days", BERLIN, NOW, utc(2026, 12, 3, 12, 0)),
    ("in 1 month", "UTC", NOW, utc(2026, 12, 23, 12, 0)),
    # A time may be given too.
    ("2026-12-01 18:00", BERLIN, NOW, utc(2026, 12, 1, 17, 0)),
    # Refused.
    ("2026-01-01", "UTC", NOW, Refused("That date is in the past.")),
    ("1999-01-01", "UTC", NOW, Refused("That date is in the past.")),
    ("today", "UTC", NOW, Refused("That date is in the past.")),
    ("yesterday 10:00", "UTC", NOW, Refused("That date is in the past.")),
    ("when the cows come home", "UTC", NOW, Refused("I can't read the date")),
    ("", "UTC", NOW, Refused("Until when?")),
    ("03/12/2026", "UTC", NOW, Refused("day/month and month/day")),
    ("2026-11-31", "UTC", NOW, Refused("There is no such date")),
    ("in 3000000 days", "UTC", NOW, Refused("beyond the calendar")),
    ("tomorrow", "UTC", LAST_DAY, Refused("beyond the calendar")),
    ("9999-12-31", "Pacific/Kiritimati", NOW, utc(9999, 12, 30, 10, 0)),  # 00:00 at +14
]


@pytest.mark.parametrize(("typed", "zone", "now", "expected"), UNTIL_ROWS)
def test_until_dates(typed: str, zone: str, now: datetime, expected: datetime | Refused) -> None:
    if isinstance(expected, datetime):
        assert parse_date_until(typed, zone, now) == expected
        return
    with pytest.raises(UserError) as err:
        parse_date_until(typed, zone, now)
    assert expected.message in err.value.message


def test_until_through_the_day_means_the_days_end() -> None:
    assert parse_date_until("2026-12-01", BERLIN, NOW, through_day=True) == utc(
        2026, 12, 1, 23, 0
    )
    assert parse_date_until("in 2 weeks", "UTC", NOW, through_day=True) == NOW + timedelta(
        weeks=2
    )
    with pytest.raises(UserError, match="beyond the calendar"):
        parse_date_until("9999-12-31", "UTC", NOW, through_day=True)


def test_until_respects_the_horizon() -> None:
    assert parse_date_until("2027-11-01", "UTC", NOW, horizon=HORIZON) == utc(2027, 11, 1)
    with pytest.raises(UserError) as err:
        parse_date_until("2031-01-01", "UTC", NOW, horizon=HORIZON)
    assert "is too far ahead: I can book up to 12 months ahead" in err.value.message


def test_warm_up_reads_one_time_quickly_afterwards() -> None:
    warm_up()
    started = time.perf_counter()
    parse_when("next Tue 18:30 Europe/Berlin", "UTC", NOW)
    assert time.perf_counter() - started < 0.05


@pytest.mark.parametrize(
    "zone", [BERLIN, NEW_YORK, KOLKATA, SYDNEY, "America/Sao_Paulo", "Asia/Kathmandu", "UTC"]
)
def test_the_times_the_bot_suggests_read_back_to_the_same_instant(zone: str) -> None:
    """Next free times are shown as "Tue 2026-11-24 18:00 CET" so a person can paste one."""
    for hours in (1, 30, 24 * 20, 24 * 140):  # into the other season too
        at = NOW + timedelta(hours=hours)
        local = at.astimezone(ZoneInfo(zone))
        name = local.tzname() or ""
        if not name.isalpha():  # "-03", "+0545": shown as an offset
            offset = int((local.utcoffset() or timedelta(0)).total_seconds() // 60)
            sign = "+" if offset >= 0 else "-"
            name = f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
        shown = f"{local:%a} {local:%Y-%m-%d %H:%M} {name}"
        assert parse_when(shown, zone, NOW) == at, shown
