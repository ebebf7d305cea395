"""The .ics invites: stable UID, SEQUENCE, CANCEL, and one recurring event per series."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from icalendar import Calendar

from bot.calendar_invite import series_invite, session_invite
from bot.domain import Session, SessionSeries, SessionState

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
INSTALL = "a1b2c3d4"
START = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # Wed 18:00 in Berlin


def session(session_id: int = 7, **changes: Any) -> Session:
    base = Session(
        id=session_id, community_id=1, intro_id=1, mentor_id=1, member_id=2,
        topic="python <b>&", agenda="CV\nreview", start_at=START, duration_minutes=45,
        state=SessionState.CONFIRMED, proposed_by=2, series_id=None, sequence=0,
        created_at=NOW, updated_at=NOW,
    )
    return replace(base, **changes)


def parse(data: bytes) -> tuple[Calendar, list[Any]]:
    cal = Calendar.from_ical(data)
    return cal, list(cal.walk("VEVENT"))


def test_single_session_invite() -> None:
    attachment = session_invite(session(), NOW, "Ada (mentor) and Bob", INSTALL)
    assert attachment.filename == "session-7.ics"
    assert attachment.content_type == "text/calendar"
    cal, [ev] = parse(attachment.data)
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(ev["UID"]) == "session-7.a1b2c3d4@mentorbot"
    assert int(ev["SEQUENCE"]) == 0
    assert str(ev["STATUS"]) == "CONFIRMED"
    assert ev.decoded("DTSTART") == START
    assert ev.decoded("DTEND") == START + timedelta(minutes=45)
    assert str(ev["SUMMARY"]) == "Mentoring: python <b>&"
    assert "CV\nreview" in str(ev["DESCRIPTION"])


def test_reschedule_keeps_uid_and_bumps_sequence_cancel_is_cancel() -> None:
    moved = session(start_at=START + timedelta(days=1), sequence=1)
    _, [ev] = parse(session_invite(moved, NOW, "x", INSTALL).data)
    assert str(ev["UID"]) == "session-7.a1b2c3d4@mentorbot" and int(ev["SEQUENCE"]) == 1
    cancelled = replace(moved, state=SessionState.CANCELLED, sequence=2)
    cal, [ev] = parse(session_invite(cancelled, NOW, "x", INSTALL).data)
    assert str(cal["METHOD"]) == "CANCEL"
    assert str(ev["STATUS"]) == "CANCELLED"
    assert str(ev["UID"]) == "session-7.a1b2c3d4@mentorbot" and int(ev["SEQUENCE"]) == 2


def _series(**changes: Any) -> SessionSeries:
    base = SessionSeries(id=1, community_id=1, intro_id=1, frequency="weekly", until_at=None,
                         count=4, created_at=NOW, ended_at=None, timezone="Europe/Berlin",
                         sequence=1)
    return replace(base, **changes)


def _occurrences() -> list[Session]:
    return [
        session(7 + i, series_id=1, start_at=START + timedelta(weeks=i),
                original_start_at=START + timedelta(weeks=i))
        for i in range(4)
    ]


def test_series_is_one_recurring_event_with_exdates_and_overrides() -> None:
    occ = _occurrences()
    occ[2] = replace(occ[2], state=SessionState.CANCELLED, sequence=1)
    occ[3] = replace(occ[3], start_at=occ[3].start_at + timedelta(hours=1), sequence=1)
    attachment = series_invite(_series(sequence=2), occ, NOW, "x", INSTALL)
    assert attachment.filename == "session-7.ics"
    cal, events = parse(attachment.data)
    assert str(cal["METHOD"]) == "REQUEST"
    assert len(list(cal.walk("VTIMEZONE"))) == 1
    master, override = events
    assert str(master["UID"]) == str(override["UID"]) == "session-7.a1b2c3d4@mentorbot"
    assert int(master["SEQUENCE"]) == 2
    assert dict(master["RRULE"]) == {"FREQ": ["WEEKLY"], "INTERVAL": [1], "COUNT": [4]}
    assert master["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert master.decoded("DTSTART").astimezone(UTC) == START
    exdates = [d.dt.astimezone(UTC) for d in master["EXDATE"].dts]
    assert exdates == [START + timedelta(weeks=2)]
    assert override.decoded("RECURRENCE-ID").astimezone(UTC) == START + timedelta(weeks=3)
    assert override.decoded("DTSTART") == START + timedelta(weeks=3, hours=1)


def test_ended_series_is_cut_and_a_fully_cancelled_one_cancelled() -> None:
    occ = _occurrences()
    occ[2:] = [replace(o, state=SessionState.CANCELLED) for o in occ[2:]]
    ended = series_invite(_series(ended_at=NOW, sequence=3), occ, NOW, "x", INSTALL)
    _, [master] = parse(ended.data)
    assert master["RRULE"]["UNTIL"][0] == START + timedelta(weeks=1)
    everything = [replace(o, state=SessionState.CANCELLED) for o in occ]
    gone = series_invite(_series(ended_at=NOW), everything, NOW, "x", INSTALL)
    cal, [master] = parse(gone.data)
    assert str(cal["METHOD"]) == "CANCEL" and str(master["STATUS"]) == "CANCELLED"
