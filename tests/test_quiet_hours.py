"""Quiet hours: windows that wrap midnight, daylight-saving changes, and members' own settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import quiet_hours as qh
from bot.domain import Member


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def window(spec: str, zone: str) -> qh.QuietHours:
    quiet = qh.parse(spec, zone)
    assert quiet is not None
    return quiet


@pytest.mark.parametrize("at,expected", [
    (utc(2026, 11, 23, 20, 59), utc(2026, 11, 23, 20, 59)),  # 21:59 Berlin: allowed
    (utc(2026, 11, 23, 21, 0), utc(2026, 11, 24, 7, 0)),     # 22:00: quiet until 08:00
    (utc(2026, 11, 23, 22, 30), utc(2026, 11, 24, 7, 0)),    # 23:30
    (utc(2026, 11, 24, 2, 0), utc(2026, 11, 24, 7, 0)),      # 03:00 next day
    (utc(2026, 11, 24, 7, 0), utc(2026, 11, 24, 7, 0)),      # 08:00: allowed again
])
def test_a_window_that_wraps_midnight(at: datetime, expected: datetime) -> None:
    assert window("22:00-08:00", "Europe/Berlin").next_allowed(at) == expected


def test_a_window_within_one_day() -> None:
    quiet = window("12:00-14:00", "America/New_York")
    assert quiet.next_allowed(utc(2026, 11, 23, 16, 59)) == utc(2026, 11, 23, 16, 59)
    assert quiet.next_allowed(utc(2026, 11, 23, 17, 0)) == utc(2026, 11, 23, 19, 0)
    assert quiet.next_allowed(utc(2026, 11, 23, 19, 0)) == utc(2026, 11, 23, 19, 0)


def test_spring_forward_keeps_the_local_end_time() -> None:
    # Berlin goes from CET to CEST on Sun 28 Mar 2027: 08:00 is then 06:00 UTC, not 07:00.
    quiet = window("22:00-08:00", "Europe/Berlin")
    assert quiet.next_allowed(utc(2027, 3, 27, 22, 0)) == utc(2027, 3, 28, 6, 0)


def test_fall_back_keeps_the_local_end_time() -> None:
    # Back to CET on Sun 31 Oct 2027: 08:00 is 07:00 UTC.
    quiet = window("22:00-08:00", "Europe/Berlin")
    assert quiet.next_allowed(utc(2027, 10, 30, 21, 0)) == utc(2027, 10, 31, 7, 0)


def test_an_end_inside_the_spring_gap_lands_just_after_it() -> None:
    # 02:30 does not exist in Berlin on 28 Mar 2027; the first moment after the window is
    # 03:30 CEST (01:30 UTC), which is outside it.
    quiet = window("22:00-02:30", "Europe/Berlin")
    at = quiet.next_allowed(utc(2027, 3, 27, 23, 0))
    assert at == utc(2027, 3, 28, 1, 30)
    assert not quiet.contains(at)


def test_an_end_in_the_repeated_hour_takes_the_first() -> None:
    # 02:30 happens twice in Berlin on 31 Oct 2027 (00:30 and 01:30 UTC): the first one.
    quiet = window("22:00-02:30", "Europe/Berlin")
    assert quiet.next_allowed(utc(2027, 10, 30, 21, 0)) == utc(2027, 10, 31, 0, 30)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Asia/Tokyo",
                                  "Australia/Lord_Howe", "America/Sao_Paulo"])
@pytest.mark.parametrize("spec", ["22:00-08:00", "00:00-06:30", "13:15-13:45", "23:30-00:30"])
def test_every_shift_is_outside_the_window_and_within_a_day(zone: str, spec: str) -> None:
    """A year, every 20 minutes, through every DST change of zones with odd rules."""
    quiet = window(spec, zone)
    at = utc(2027, 1, 1, 0, 0)
    while at < utc(2028, 1, 1, 0, 0):
        moved = quiet.next_allowed(at)
        assert at <= moved < at + timedelta(hours=25), (at, moved)
        assert not quiet.contains(moved), (at, moved)
        if not quiet.contains(at):
            assert moved == at
        at += timedelta(minutes=20)


@pytest.mark.parametrize("spec", ["", "off", "25:00-08:00", "22-08", "08:00-08:00", None])
def test_no_window(spec: str | None) -> None:
    assert qh.parse(spec, "UTC") is None
    assert qh.next_allowed(utc(2026, 11, 23, 23, 0), qh.parse(spec, "UTC")) == utc(
        2026, 11, 23, 23, 0)


def member(quiet: str | None, zone: str | None) -> Member:
    return Member(1, 1, "U0X", "X", zone, quiet_hours=quiet)


def test_a_members_own_window_and_zone_win_over_the_community_default() -> None:
    assert qh.of_member(member(None, None), "22:00-08:00", "Europe/Berlin") == qh.QuietHours(
        window("22:00-08:00", "UTC").start, window("22:00-08:00", "UTC").end, "Europe/Berlin")
    own = qh.of_member(member("12:00-14:00", "Asia/Tokyo"), "22:00-08:00", "Europe/Berlin")
    assert own is not None and own.zone == "Asia/Tokyo" and str(own.start) == "12:00:00"
    # "quiet off" stores an empty string: no quiet hours at all, whatever the default.
    assert qh.of_member(member("", "Asia/Tokyo"), "22:00-08:00", "UTC") is None
