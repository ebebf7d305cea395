"""Booking sessions end to end: typed commands through Mentorbot, real SQLite, the nudge engine.

Everyone: Ada mentors (Europe/Berlin, weekdays 17:00-21:00), Bob is her mentee (New York),
Cara is another mentee of Ada's, Dan was never introduced. "Now" is Mon 23 Nov 2026 12:00 UTC
(13:00 in Berlin, 07:00 in New York).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar

from bot.bootstrap import open_store
from bot.caller import Caller
from bot.clock import ManualClock
from bot.config import StorageSettings
from bot.messages import Message
from bot.repositories import Store
from bot.sessions.ladder import DID_IT_HAPPEN, MENTOR_REMINDER
from storage import schema as t
from tests.worlds import World

pytestmark = pytest.mark.asyncio


def caller(user_id: str, name: str, zone: str | None, *, admin: bool = False) -> Caller:
    return Caller("console", "T0TEST0001", "Test", user_id, name, zone, is_platform_admin=admin)


ADA = caller("U0ADA00001", "Ada", "Europe/Berlin")
BOB = caller("U0BOB00001", "Bob", "America/New_York")
CARA = caller("U0CARA0001", "Cara", "Europe/London")
DAN = caller("U0DAN00001", "Dan", "Europe/Berlin")
ORG = caller("U0ORG00001", "Org", "UTC", admin=True)


@pytest.fixture
async def world(store: Store, clock: ManualClock) -> World:
    return await build_world(store, clock)


async def build_world(store: Store, clock: ManualClock) -> World:
    w = World.start(store, clock)
    await w.introduce(ADA, "mentor set topics: python, career bio: I build things lengths: "
                      "30, 60 availability: Mon-Fri 17:00-21:00 sessions: 4 mentees: 5",
                      (BOB, CARA))
    await w.say(DAN, "help")  # a member who was never introduced
    return w


def ics(message: Message) -> Calendar:
    assert len(message.attachments) == 1, message.plain_text()
    attachment = message.attachments[0]
    assert attachment.content_type == "text/calendar"
    return Calendar.from_ical(attachment.data)


def event(cal: Calendar) -> Any:
    events = [c for c in cal.walk("VEVENT")]
    assert events
    return events[0]


WED_18_BERLIN = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


async def book_confirmed(w: World, when: str = "2026-11-25 18:00 Europe/Berlin") -> int:
    out = await w.say(BOB, f"book Ada when: {when} agenda: asyncio questions")
    assert "proposed" in out, out
    session_id = max(r["id"] for r in await w.rows(t.sessions))
    out = await w.say(ADA, f"confirm {session_id}")
    assert "Confirmed" in out, out
    return session_id


# -- the happy path ---------------------------------------------------------------------------


async def test_book_confirm_sends_invites_in_each_readers_time(world: World) -> None:
    out = await world.say(BOB, "book Ada when: 2026-11-25 18:00 Europe/Berlin length: 60 "
                               "agenda: asyncio and testing")
    assert "Session #1 proposed to @Ada for Wed 25 Nov 2026 12:00 EST (60 min)" in out
    row = await world.session(1)
    assert row["state"] == "proposed" and row["start_at"] == WED_18_BERLIN
    assert row["duration_minutes"] == 60 and row["topic"] == "python"
    await world.deliver()
    [proposal] = world.messenger.messages_to("Ada")
    assert "Wed 25 Nov 2026 18:00 CET" in proposal.plain_text()
    assert [c.command for c in proposal.choices] == ["confirm 1", "counter 1", "cancel 1"]

    out = await world.say(ADA, "confirm 1")
    assert "Confirmed: session #1 with @Bob on Wed 25 Nov 2026 18:00 CET" in out
    assert (await world.session(1))["state"] == "confirmed"
    await world.deliver()
    for name, local in (("Ada", "18:00 CET"), ("Bob", "12:00 EST")):
        [msg] = [m for m in world.messenger.messages_to(name) if "is confirmed" in m.plain_text()]
        assert local in msg.plain_text()
        assert msg.attachments[0].filename == "session-1.ics"
        cal = ics(msg)
        assert str(cal["METHOD"]) == "REQUEST"
        ev = event(cal)
        assert str(ev["UID"]).startswith("session-1.") and str(ev["UID"]).endswith("@mentorbot")
        assert int(ev["SEQUENCE"]) == 0
        assert ev.decoded("DTSTART") == WED_18_BERLIN
        assert ev.decoded("DTEND") == WED_18_BERLIN + timedelta(minutes=60)
        assert "asyncio and testing" in str(ev["DESCRIPTION"])


async def test_confirming_twice_is_refused_and_changes_nothing(world: World) -> None:
    await book_confirmed(world)
    before = await world.snapshot()
    out = await world.say(ADA, "confirm 1")
    assert out == "Session #1 is already confirmed. Nothing was changed."
    assert await world.snapshot() == before


async def test_proposer_cannot_confirm_own_time(world: World) -> None:
    await world.say(BOB, "book Ada when: 2026-11-25 18:00 Europe/Berlin")
    before = await world.snapshot()
    out = await world.say(BOB, "confirm 1")
    assert "You proposed this time for session #1." in out
    assert await world.snapshot() == before


async def test_book_without_time_opens_a_form_that_books(world: World) -> None:
    reply = await world.reply(BOB, "book Ada")
    form = reply.messages[0].form
    assert form is not None and len(form.fields) <= 5
    assert form.command == "book <member:U0ADA00001>"
    assert [f.name for f in form.fields] == ["when", "length", "topic", "agenda"]
    out = (await world.core.handle_form(BOB, form.id, {
        "when": "Wed 12:00", "length": "30", "topic": "", "agenda": "my plan"})).plain_text()
    assert "Session #1 proposed" in out, out
    row = await world.session(1)
    assert row["start_at"] == WED_18_BERLIN and row["agenda"] == "my plan"


async def test_mentor_can_book_outside_windows_and_mentee_confirms(world: World) -> None:
    out = await world.say(ADA, "book Bob when: 2026-11-28 10:00")  # a Saturday
    assert "Session #1 proposed to @Bob" in out, out
    assert (await world.session(1))["proposed_by"] != (await world.session(1))["member_id"]
    out = await world.say(BOB, "confirm 1")
    assert "Confirmed" in out, out


# -- slots ------------------------------------------------------------------------------------


async def test_member_proposes_slots_and_mentor_picks_with_a_button(world: World) -> None:
    out = await world.say(BOB, "propose Ada slots: Wed 12:00; Thu 12:00; Fri 13:00 length: 60")
    assert "Sent 3 time(s) to @Ada for session #1 (60 min)" in out, out
    assert (await world.session(1))["start_at"] is None
    assert len(await world.rows(t.session_slots)) == 3
    await world.deliver()
    [msg] = world.messenger.messages_to("Ada")
    labels = [c.label for c in msg.choices]
    assert labels[:3] == ["Pick Wed 25 Nov 2026 18:00 CET", "Pick Thu 26 Nov 2026 18:00 CET",
                          "Pick Fri 27 Nov 2026 19:00 CET"]
    click = msg.choices[1]
    assert click.command == "pick 1 2"
    out = (await world.core.handle_click(ADA, click.id)).plain_text()
    assert "Confirmed: session #1 with @Bob on Thu 26 Nov 2026 18:00 CET" in out
    row = await world.session(1)
    assert row["state"] == "confirmed"
    assert row["start_at"] == datetime(2026, 11, 26, 17, 0, tzinfo=UTC)


async def test_bad_slots_are_refused_without_a_trace(world: World) -> None:
    before = await world.snapshot()
    out = await world.say(BOB, "propose Ada slots: Wed 12:00; Sat 12:00")
    assert out.startswith("Time 2 (Sat 2026-11-28 12:00 EST): That's outside Ada's "
                          "availability"), out
    out = await world.say(BOB, "propose Ada slots: a; b; c; d")
    assert "That's 4 times; give at most 3." in out
    out = await world.say(BOB, "pick 9 1")
    assert "Session #9 isn't one of yours." in out
    assert await world.snapshot() == before


# -- counter, reschedule, cancel ---------------------------------------------------------------


async def test_mentor_counters_and_member_confirms(world: World) -> None:
    await world.say(BOB, "book Ada when: Wed 12:00")
    out = await world.say(ADA, "counter 1 when: 2026-11-28 11:00")  # Saturday: mentor's choice
    assert "Proposed Sat 28 Nov 2026 11:00 CET for session #1" in out, out
    row = await world.session(1)
    assert row["sequence"] == 1 and row["state"] == "proposed"
    await world.deliver()
    [msg] = [m for m in world.messenger.messages_to("Bob") if "proposes another" in m.plain_text()]
    assert "Sat 28 Nov 2026 05:00 EST" in msg.plain_text()
    assert "confirm 1" in [c.command for c in msg.choices]
    out = await world.say(ADA, "confirm 1")
    assert "You proposed this time" in out
    out = await world.say(BOB, "confirm 1")
    assert "Confirmed: session #1 with @Ada on Sat 28 Nov 2026 05:00 EST" in out, out


async def test_reschedule_bumps_sequence_and_tells_the_other_side(world: World) -> None:
    await book_confirmed(world)
    out_reply = await world.reply(BOB, "reschedule 1 when: Thu 13:00 reason: work call")
    out = out_reply.plain_text()
    assert "Session #1 is moved to Thu 26 Nov 2026 13:00 EST" in out, out
    row = await world.session(1)
    assert row["state"] == "confirmed" and row["sequence"] == 1
    assert row["start_at"] == datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
    mine = event(ics(out_reply.messages[0]))
    assert str(mine["UID"]).startswith("session-1.") and int(mine["SEQUENCE"]) == 1
    await world.deliver()
    # The confirmations queued for the old time were overtaken: not sent.
    assert not [m for m in world.messenger.sent if "is confirmed" in m.text]
    [msg] = [m for m in world.messenger.messages_to("Ada") if "moved session #1" in m.plain_text()]
    assert "Thu 26 Nov 2026 19:00 CET" in msg.plain_text()
    assert "work call" in msg.plain_text()
    ev = event(ics(msg))
    assert str(ev["UID"]).startswith("session-1.") and int(ev["SEQUENCE"]) == 1
    assert ev.decoded("DTSTART") == datetime(2026, 11, 26, 18, 0, tzinfo=UTC)


async def test_cancel_by_mentor_sends_a_cancel_invite(world: World) -> None:
    await book_confirmed(world)
    await world.deliver()
    world.messenger.sent.clear()
    out = await world.say(ADA, "cancel 1 I am ill")
    assert "Session #1 is cancelled; @Bob is told." in out
    row = await world.session(1)
    assert row["state"] == "cancelled" and row["sequence"] == 1
    assert row["cancel_reason"] == "I am ill"
    await world.deliver()
    [msg] = world.messenger.messages_to("Bob")
    assert "@Ada cancelled session #1" in msg.plain_text() and "I am ill" in msg.plain_text()
    cal = ics(msg)
    assert str(cal["METHOD"]) == "CANCEL"
    ev = event(cal)
    assert str(ev["STATUS"]) == "CANCELLED"
    assert str(ev["UID"]).startswith("session-1.") and int(ev["SEQUENCE"]) == 1
    before = await world.snapshot()
    assert "Session #1 is already cancelled." in await world.say(BOB, "cancel 1")
    assert await world.snapshot() == before


async def test_cancelling_someone_elses_session_is_refused(world: World) -> None:
    await book_confirmed(world)
    before = await world.snapshot()
    out = await world.say(CARA, "cancel 1")
    assert out == "Session #1 isn't one of yours. Type `sessions` to see yours."
    out = await world.say(DAN, "reschedule 1 when: Thu 18:00")
    assert "isn't one of yours" in out
    assert await world.snapshot() == before


async def test_agenda_is_shown_to_the_mentor(world: World) -> None:
    await book_confirmed(world)
    assert "Saved the agenda" in await world.say(BOB, "agenda 1 CV review and interviews")
    out = await world.say(ADA, "sessions")
    assert "Upcoming sessions" in out
    assert "#1 Wed 25 Nov 2026 18:00 CET with @Bob (your mentee)" in out
    assert "Agenda: CV review and interviews" in out
    out = await world.say(BOB, "sessions")
    assert "#1 Wed 25 Nov 2026 12:00 EST with @Ada (your mentor)" in out
    assert "Agenda" not in out


# -- guards -----------------------------------------------------------------------------------


async def test_guards_refuse_with_reason_and_next_free_slots(world: World) -> None:
    before = await world.snapshot()
    out = await world.say(BOB, "book Ada when: today 12:00")  # 18:00 Berlin, 5 h away
    assert out.startswith("That's less than 24 hours from now; sessions need 24 hours' notice.")
    assert "Next free times: Tue 2026-11-24 11:00 EST; Tue 2026-11-24 11:30 EST; " \
           "Tue 2026-11-24 12:00 EST." in out
    out = await world.say(BOB, "book Ada when: 2026-11-28 12:00 Europe/Berlin")
    assert out.startswith("That's outside Ada's availability: Mon 11:00-15:00")
    out = await world.say(BOB, "book Ada when: 2026-11-25 20:45 Europe/Berlin")  # ends 21:15
    assert "outside Ada's availability" in out
    assert await world.snapshot() == before


async def test_overlaps_are_refused_for_both_people(world: World) -> None:
    await book_confirmed(world)
    before = await world.snapshot()
    out = await world.say(CARA, "book Ada when: 2026-11-25 17:15 Europe/London")  # 18:15 Berlin
    assert out.startswith("Ada already has another session at that time.")
    assert "Next free times:" in out
    out = await world.say(BOB, "book Ada when: 2026-11-25 12:00")
    assert out.startswith("You already have session #1 at that time.")
    assert await world.snapshot() == before
    # Right after it ends is fine.
    assert "proposed" in await world.say(CARA, "book Ada when: 2026-11-25 17:30 Europe/London")


async def test_monthly_cap_counts_the_sessions_month(world: World) -> None:
    assert "saved" in await world.say(ADA, "mentor set sessions: 2")
    await book_confirmed(world, "2026-11-25 18:00 Europe/Berlin")
    await world.say(CARA, "book Ada when: 2026-11-26 17:00")  # proposed: counts too
    before = await world.snapshot()
    out = await world.say(BOB, "book Ada when: 2026-11-27 18:00 Europe/Berlin")
    assert out.startswith("Ada already has 2 sessions that month, the most they take.")
    assert "Next free times: Tue 2026-12-01 11:00 EST" in out
    assert await world.snapshot() == before
    assert "proposed" in await world.say(BOB, "book Ada when: 2026-12-01 18:00 Europe/Berlin")


async def test_paused_mentor_cannot_be_booked_until_back(world: World) -> None:
    assert "Paused" in await world.say(ADA, "mentor pause 2026-12-01")
    before = await world.snapshot()
    out = await world.say(BOB, "book Ada when: 2026-11-26 18:00 Europe/Berlin")
    assert out.startswith("Ada is taking a break until Tue 1 Dec 2026.")
    assert "Next free times: Tue 2026-12-01 11:00 EST" in out
    assert await world.snapshot() == before


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("book Ada when: whenever you like 10:00",
         "I can't read the time “whenever you like 10:00”"),
        ("book Ada when: soon", "“soon” has no time of day."),
        ("book Ada when: 2026-11-20 18:00",
         "Fri 20 Nov 2026 18:00 (America/New_York) is in the past. "
         "Next free times: Tue 2026-11-24 11:00 EST;"),
        ("book Ada when: 2027-03-28 02:30 Europe/Berlin",
         "Sun 28 Mar 2027 02:30 doesn't exist in Europe/Berlin: the clocks skip that hour"),
        ("book Ada when: 2027-10-31 02:30 Europe/Berlin",
         "Sun 31 Oct 2027 02:30 happens twice in Europe/Berlin: the clocks go back that night. "
         "Say which by adding CEST (the first, UTC+02:00) or CET (the second, UTC+01:00)"),
        ("book Ada when: 2026-12-03 09:00 Mars/Olympus",
         "I don't know the timezone “Mars/Olympus”."),
        ("book Ada when: Wed 12:00 length: 45", "Ada offers sessions of 30, 60 minutes, not “45”."),
        ("book Dan when: Wed 12:00", "You and Dan haven't been introduced yet."),
        ("book Nobody when: Wed 12:00", "I don't know anyone called “Nobody” here."),
        ("book Bob when: Wed 12:00", "You and Bob haven't been introduced yet."),
    ],
)
async def test_bad_booking_input_changes_nothing(world: World, line: str, expected: str) -> None:
    who = CARA if "Bob" in line else BOB
    before = await world.snapshot()
    out = await world.say(who, line)
    assert expected in out, out
    assert "Sorry" not in out
    assert await world.snapshot() == before


async def test_ambiguous_time_is_booked_once_disambiguated(world: World) -> None:
    assert "saved" in await world.say(ADA, "mentor set availability: Sun 01:00-04:00")
    out = await world.say(BOB, "book Ada when: 2027-10-31 02:30 CEST Europe/Berlin")
    assert "Session #1 proposed to @Ada for Sat 30 Oct 2027 20:30 EDT" in out, out
    out = await world.say(BOB, "book Ada when: 2027-10-31 02:30 CET")
    # Bob's zone is New York; CET is not one of its abbreviations.
    assert "America/New_York uses EDT at that time, not CET." in out
    await world.say(BOB, "tz Europe/Berlin")
    out = await world.say(BOB, "book Ada when: 2027-10-31 02:30 CET")
    assert "proposed" in out, out
    assert (await world.session(max(r["id"] for r in await world.rows(t.sessions))))[
        "start_at"] == datetime(2027, 10, 31, 1, 30, tzinfo=UTC)


# -- series -----------------------------------------------------------------------------------


async def test_weekly_series_skip_and_end(world: World) -> None:
    first = await book_confirmed(world)
    reply = await world.reply(BOB, f"repeat {first} weekly times: 4")
    out = reply.plain_text()
    assert ("Session #1 now repeats every week at 12:00 America/New_York: 4 sessions, the last "
            "on Wed 16 Dec 2026") in out, out
    assert "For Ada (Europe/Berlin): 18:00." in out
    rows = await world.rows(t.sessions)
    assert [r["start_at"] for r in rows] == [WED_18_BERLIN + timedelta(weeks=i) for i in range(4)]
    assert {r["series_id"] for r in rows} == {1}
    assert all(r["state"] == "confirmed" for r in rows)
    ev = event(ics(reply.messages[0]))
    assert str(ev["UID"]).startswith("session-1.") and str(ev["UID"]).endswith("@mentorbot")
    assert ev["RRULE"].to_ical() == b"FREQ=WEEKLY;COUNT=4;INTERVAL=1" or \
        dict(ev["RRULE"]) == {"FREQ": ["WEEKLY"], "INTERVAL": [1], "COUNT": [4]}
    assert int(ev["SEQUENCE"]) == 1
    await world.deliver()
    [msg] = [m for m in world.messenger.messages_to("Ada") if "set up 4 sessions" in m.plain_text()]
    assert event(ics(msg))["RRULE"]["FREQ"] == ["WEEKLY"]

    skip_reply = await world.reply(ADA, "skip 3")
    assert "Skipped session #3 on Wed 9 Dec 2026 18:00 CET" in skip_reply.plain_text()
    assert (await world.session(3))["state"] == "cancelled"
    ev = event(ics(skip_reply.messages[0]))
    assert int(ev["SEQUENCE"]) == 2
    exdates = [d.dt for e in ([ev["EXDATE"]] if not isinstance(ev["EXDATE"], list)
                              else ev["EXDATE"]) for d in e.dts]
    assert [x.astimezone(UTC) for x in exdates] == [WED_18_BERLIN + timedelta(weeks=2)]

    end_reply = await world.reply(BOB, "end-series 1")
    assert "The series is ended: 3 upcoming session(s) cancelled." in end_reply.plain_text()
    assert [r["state"] for r in await world.rows(t.sessions)] == ["cancelled"] * 4
    cal = ics(end_reply.messages[0])
    assert str(cal["METHOD"]) == "CANCEL"
    before = await world.snapshot()
    assert "already ended" in await world.say(BOB, "end-series 1")
    assert await world.snapshot() == before


async def test_series_keeps_local_time_across_dst(world: World) -> None:
    assert "saved" in await world.say(ADA, "mentor set sessions: 10")
    await book_confirmed(world)
    out = await world.say(BOB, "repeat 1 monthly until: 2027-04-30")
    assert "can't be booked: That's outside Ada's availability" in out  # Sun 25 Apr
    out = await world.say(ADA, "repeat 1 monthly until: 2027-04-30")  # the mentor may
    assert "6 sessions" in out, out
    starts = [r["start_at"] for r in await world.rows(t.sessions)]
    # 18:00 in Berlin every month: 17:00 UTC in winter, 16:00 UTC from April (summer time).
    assert starts[-1] == datetime(2027, 4, 25, 16, 0, tzinfo=UTC)
    assert starts[:2] == [WED_18_BERLIN, datetime(2026, 12, 25, 17, 0, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("repeat 1 weekly times: 0", "must be a whole number from 2 to 52, not “0”"),
        ("repeat 1 weekly times: 1000", "must be a whole number from 2 to 52, not “1000”"),
        ("repeat 1 weekly times: 1", "The number of sessions must be a whole number from 2 to 52"),
        ("repeat 1 daily times: 3", "“daily” is not a repetition I know."),
        ("repeat 1 weekly", "Until when, or how many times?"),
        ("repeat 1 weekly until: 2026-11-26", "That series would have only one session."),
        ("repeat 1 weekly times: 8", "can't be booked: Ada already has 4 sessions that month"),
    ],
)
async def test_bad_repetitions_change_nothing(world: World, line: str, expected: str) -> None:
    await book_confirmed(world)
    before = await world.snapshot()
    out = await world.say(BOB, line)
    assert expected in out, out
    assert await world.snapshot() == before


# -- my, report, help -------------------------------------------------------------------------


async def test_my_and_report_sections(world: World) -> None:
    await book_confirmed(world)
    await world.say(CARA, "book Ada when: 2026-11-26 17:00")
    await world.say(CARA, "cancel 2 plans changed")
    out = await world.say(BOB, "my")
    assert "Your upcoming sessions" in out and "#1 Wed 25 Nov 2026 12:00 EST with @Ada" in out
    out = await world.say(ORG, "report")
    assert "Sessions this month: booked 1, held 0, missed 0, cancelled 1" in out
    world.clock.set(WED_18_BERLIN + timedelta(hours=1))
    await world.say(BOB, "met 1")
    out = await world.say(ORG, "report")
    assert "Sessions this month: booked 1, held 1, missed 0, cancelled 1" in out, out
    out = await world.say(BOB, "sessions")
    past = out.split("Past and cancelled")[1]
    assert "#1 Wed 25 Nov 2026 12:00 EST with @Ada (your mentor)" in past and "held" in past
    assert "Your upcoming sessions" not in await world.say(BOB, "my")
    out = await world.say(BOB, "help")
    assert "Sessions" in out and "book <mentor or mentee> when: <time>" in out


# -- the ladder is told, in the same transaction ----------------------------------------------


async def test_reminders_follow_the_session_and_stop_when_cancelled(world: World) -> None:
    await book_confirmed(world)

    async def pending(kind: str) -> list[datetime]:
        return [n["due_at"] for n in await world.nudges(kind)
                if n["state"] == "pending" and n["session_id"] == 1]

    assert await pending(MENTOR_REMINDER) == [WED_18_BERLIN - timedelta(hours=24)]
    new_start = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
    assert "moved" in await world.say(BOB, "reschedule 1 when: Thu 13:00")
    assert await pending(MENTOR_REMINDER) == [new_start - timedelta(hours=24)]
    assert await pending(DID_IT_HAPPEN) == [new_start + timedelta(minutes=30)] * 2
    stale = [n for n in await world.nudges(MENTOR_REMINDER) if n["state"] == "stale"]
    assert len(stale) == 1 and stale[0]["due_at"] == WED_18_BERLIN - timedelta(hours=24)
    assert "cancelled" in await world.say(ADA, "cancel 1")
    assert not [n for n in await world.nudges() if n["state"] == "pending"
                and n["kind"].startswith("ladder.")]
    # A refused command queues nothing for the ladder either.
    before = await world.snapshot()
    await world.say(BOB, "book Ada when: today 12:00")
    assert await world.snapshot() == before


# -- the same on PostgreSQL ---------------------------------------------------------------------


async def test_booking_and_series_on_postgresql(postgres_url: str, clock: ManualClock) -> None:
    store = await open_store(StorageSettings(url=postgres_url))
    try:
        w = await build_world(store, clock)
        await book_confirmed(w)
        out = await w.say(BOB, "book Ada when: 2026-11-25 12:15")
        assert out.startswith("You already have session #1 at that time.")
        assert "4 sessions" in await w.say(BOB, "repeat 1 weekly times: 4")
        assert "Skipped session #2" in await w.say(BOB, "skip 2")
        await w.deliver()
        invites = [m for m in w.messenger.messages_to("Ada") if m.attachments]
        assert invites
        out = await w.say(ORG, "report")
        assert "Sessions this month: booked 1, held 0, missed 0, cancelled 0" in out, out
        assert "Dec 2026" in await w.say(BOB, "sessions")
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("who", "line", "expected"),
    [
        ("Bob", "skip 1", "Session #1 isn't part of a series. Cancel it instead: `cancel 1`."),
        ("Bob", "end-series 1", "Session #1 isn't part of a series."),
        ("Cara", "repeat 2 weekly times: 3", "Session #2 isn't confirmed (proposed)."),
        ("Bob", "pick 1 1", "Session #1 is already confirmed."),
        ("Ada", "pick 2 1", "Session #2 has no times to pick from. Confirm it with `confirm 2`."),
        ("Ada", "confirm", "Which session? I need its number"),
        ("Bob", "reschedule 1 when: 2026-11-25 12:00", "Session #1 is already at that time."),
        ("Bob", "counter 1 when: Thu 12:00", "Move it with `reschedule 1 when: …`."),
        ("Cara", "propose Ada slots:", "Which times? Give up to three."),
        ("Ada", "propose Bob slots: Wed 12:00", "Proposing times to pick from is for mentees."),
        ("Bob", "reschedule 1 when: 2026-11-28 12:00 Europe/Berlin",
         "That's outside Ada's availability"),
        ("Bob", "agenda 1 " + "x" * 1501, "The agenda is too long (1,501 characters)."),
        ("Bob", "book Ada when: Wed 12:00 length: 30 topic: " + "t" * 81,
         "The topic is too long"),
    ],
)
async def test_other_refusals_change_nothing(
    world: World, who: str, line: str, expected: str
) -> None:
    await book_confirmed(world)
    assert "proposed" in await world.say(CARA, "book Ada when: 2026-11-26 17:00")
    before = await world.snapshot()
    out = await world.say({"Ada": ADA, "Bob": BOB, "Cara": CARA}[who], line)
    assert expected in out, out
    assert await world.snapshot() == before


async def test_reschedule_and_counter_open_forms(world: World) -> None:
    await book_confirmed(world)
    reply = await world.reply(ADA, "reschedule 1")
    form = reply.messages[0].form
    assert form is not None and form.command == "reschedule 1"
    assert [f.name for f in form.fields] == ["when", "reason"]
    out = (await world.core.handle_form(ADA, form.id, {
        "when": "2026-11-27 20:00", "reason": "clash"})).plain_text()
    assert "Session #1 is moved to Fri 27 Nov 2026 20:00 CET" in out, out
    await world.say(CARA, "book Ada when: 2026-11-26 17:00")
    form = (await world.reply(ADA, "counter 2")).messages[0].form
    assert form is not None and form.command == "counter 2"
    out = (await world.core.handle_form(ADA, form.id, {"when": "Mon 18:00"})).plain_text()
    assert "Proposed Mon 30 Nov 2026 18:00 CET for session #2" in out, out


async def test_until_date_is_read_in_the_callers_own_zone(world: World) -> None:
    """Wed 18:00 in Berlin is Thu 02:00 in Tokyo: "until Wed 9 Dec" there stops before it."""
    await world.say(BOB, "tz Asia/Tokyo")
    await book_confirmed(world, "2026-11-26 02:00")  # Wed 25 Nov 18:00 Berlin
    out = await world.say(BOB, "repeat 1 weekly until: 2026-12-09")
    assert "2 sessions" in out, out
    out = await world.say(BOB, "end-series 1")
    assert "2 upcoming session(s) cancelled" in out, out
    await book_confirmed(world, "2026-12-24 02:00")  # Wed 23 Dec 18:00 Berlin
    out = await world.say(BOB, "repeat 3 weekly until: 2026-12-31")
    assert "2 sessions" in out, out  # Thu 31 Dec 02:00 Tokyo is the last one


async def test_mentor_ranking_counts_this_months_sessions_only(world: World) -> None:
    assert "4 sessions free this month" in await world.say(DAN, "find python")
    await book_confirmed(world)  # November
    assert "proposed" in await world.say(CARA, "book Ada when: 2026-12-02 17:00")  # December
    assert "3 sessions free this month" in await world.say(DAN, "find python")
    assert "cancelled" in await world.say(BOB, "cancel 1")
    assert "4 sessions free this month" in await world.say(DAN, "find python")


async def test_concurrent_bookings_cannot_take_the_same_time(
    postgres_url: str, clock: ManualClock
) -> None:
    """Two mentees race for Ada's Wednesday 18:00 on PostgreSQL: exactly one gets it."""
    import asyncio

    store = await open_store(StorageSettings(url=postgres_url))
    try:
        w = await build_world(store, clock)
        outs = await asyncio.gather(
            w.say(BOB, "book Ada when: 2026-11-25 18:00 Europe/Berlin"),
            w.say(CARA, "book Ada when: 2026-11-25 18:00 Europe/Berlin"),
        )
        assert sum("proposed" in o for o in outs) == 1, outs
        assert sum("Ada already has another session at that time." in o for o in outs) == 1
        assert len(await w.rows(t.sessions)) == 1
    finally:
        await store.close()
