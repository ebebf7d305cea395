"""iCalendar (.ics) invites for sessions, built with the ``icalendar`` library.

Why these choices, so calendars update instead of duplicating:

* UID is stable per session and globally unique (RFC 5545): ``session-<id>.<install>@mentorbot``,
  where ``install`` is a random identity made once per database, so two communities' or two
  installs' invites never collide in one calendar. A series is one event whose UID is the
  UID of its first session (the invite that was already sent becomes a recurring one), with an
  RRULE, and EXDATEs for skipped or cancelled occurrences. A moved occurrence is sent as an
  override of the series (same UID, RECURRENCE-ID = where the series put it).
* SEQUENCE is the session's (or the series') counter, bumped on every reschedule or cancel, so a
  calendar applies the newest invite.
* A cancelled session is ``METHOD:CANCEL`` with ``STATUS:CANCELLED``.
* Single sessions use UTC times; a series uses the mentor's zone (with a VTIMEZONE) so that a
  weekly 18:00 stays 18:00 across daylight-saving changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from bot.domain import Session, SessionSeries, SessionState
from bot.messages import Attachment
from bot.recurrence import monthly_days

log = logging.getLogger(__name__)

PRODID = "-//mentorbot//sessions//EN"
CONTENT_TYPE = "text/calendar"
FREQUENCIES = {"weekly": ("WEEKLY", 1), "biweekly": ("WEEKLY", 2), "monthly": ("MONTHLY", 1)}


def uid_of(session_id: int, install: str) -> str:
    return f"session-{session_id}.{install}@mentorbot"


def _calendar(method: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    return cal


def _event(session: Session, *, uid: str, sequence: int, now: datetime, names: str) -> Event:
    assert session.start_at is not None and session.end_at is not None
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("sequence", sequence)
    event.add("summary", f"Mentoring: {session.topic}"[:200])
    description = f"Mentoring session #{session.id} ({names})."
    if session.agenda:
        description += f"\n\nAgenda:\n{session.agenda}"
    event.add("description", description)
    event.add("dtstart", session.start_at.astimezone(UTC))
    event.add("dtend", session.end_at.astimezone(UTC))
    return event


def _attachment(session_id: int, cal: Calendar) -> Attachment:
    return Attachment(f"session-{session_id}.ics", CONTENT_TYPE, cal.to_ical())


def session_invite(session: Session, now: datetime, names: str, install: str) -> Attachment:
    """The invite for one session: REQUEST while it stands, CANCEL once cancelled."""
    cancelled = session.state is SessionState.CANCELLED
    cal = _calendar("CANCEL" if cancelled else "REQUEST")
    event = _event(session, uid=uid_of(session.id, install), sequence=session.sequence, now=now,
                   names=names)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    cal.add_component(event)
    return _attachment(session.id, cal)


def series_invite(
    series: SessionSeries,
    occurrences: Sequence[Session],
    now: datetime,
    names: str,
    install: str,
) -> Attachment:
    """One recurring event for the whole series, plus overrides for moved occurrences.

    ``occurrences`` are all the series' sessions, first one first. Cancelled ones become
    EXDATEs; once the series is ended, it is cut at its last kept occurrence (or, if none is
    left, cancelled outright).
    """
    first = occurrences[0]
    uid = uid_of(first.id, install)
    tz = ZoneInfo(series.timezone)
    anchor = first.original_start_at or first.start_at
    assert anchor is not None
    kept = [s for s in occurrences if s.state is not SessionState.CANCELLED]
    if series.ended_at is not None and not kept:
        cal = _calendar("CANCEL")
        event = _series_event(series, first, anchor, uid, now, names, tz)
        event.add("status", "CANCELLED")
        cal.add_component(event)
        cal.add_missing_timezones()
        return _attachment(first.id, cal)
    cal = _calendar("REQUEST")
    event = _series_event(series, first, anchor, uid, now, names, tz)
    freq, interval = FREQUENCIES[series.frequency]
    rule: dict[str, object] = {"freq": freq, "interval": interval}
    local_anchor = anchor.astimezone(tz)
    days = monthly_days(local_anchor.day) if series.frequency == "monthly" else ()
    if len(days) > 1:  # the 29th-31st: the last day of shorter months, as the bot books them
        rule.update(bymonthday=list(days), bysetpos=1)
    slots = [s.original_start_at or s.start_at for s in occurrences]
    if series.ended_at is not None:
        last = max(s.original_start_at or s.start_at for s in kept)  # type: ignore[type-var]
        rule["until"] = last.astimezone(UTC)  # type: ignore[union-attr]
    else:
        rule["count"] = len(slots)
    event.add("rrule", rule)
    skipped = [
        (s.original_start_at or s.start_at).astimezone(tz)  # type: ignore[union-attr]
        for s in occurrences
        if s.state is SessionState.CANCELLED
    ]
    if skipped:
        event.add("exdate", skipped)
    event.add("status", "CONFIRMED")
    cal.add_component(event)
    for moved in occurrences:
        original = moved.original_start_at
        if (
            moved.state is SessionState.CANCELLED
            or original is None
            or moved.start_at is None
            or moved.start_at == original
        ):
            continue
        override = _event(moved, uid=uid, sequence=moved.sequence, now=now, names=names)
        override.add("recurrence-id", original.astimezone(tz))
        override.add("status", "CONFIRMED")
        cal.add_component(override)
    cal.add_missing_timezones()
    return _attachment(first.id, cal)


def _series_event(
    series: SessionSeries,
    first: Session,
    anchor: datetime,
    uid: str,
    now: datetime,
    names: str,
    tz: ZoneInfo,
) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("sequence", series.sequence)
    event.add("summary", f"Mentoring: {first.topic}"[:200])
    event.add("description", f"Mentoring sessions ({names}), {series.frequency}.")
    event.add("dtstart", anchor.astimezone(tz))
    event.add("dtend", (anchor + timedelta(minutes=first.duration_minutes)).astimezone(tz))
    return event
