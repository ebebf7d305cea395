"""Never silently misread a person: do exactly what was meant, or refuse and show how to say it.

Journeys through the console (what a person types and reads) and the core (what the database
holds), for the edges people hit: timezones, series across daylight saving, the calendar's
ends, settings that contradict each other, labels inside free text, forms answered line by
line, and whose button is whose.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from adapters.console.session import ConsoleSession
from bot.bootstrap import open_store
from bot.caller import Caller
from bot.clock import ManualClock
from bot.config import StorageSettings
from bot.repositories import Store
from storage import schema as t
from tests.console_driver import click, run
from tests.worlds import World

ADA = Caller("test", "c1", "C", "U0ADA00001", "Ada", "Europe/Berlin")
BOB = Caller("test", "c1", "C", "U0BOB00001", "Bob", "America/New_York")
ORG = Caller("test", "c1", "C", "U0ORG00001", "Org", "Europe/Berlin", is_platform_admin=True)
PROFILE = "mentor set topics: python bio: Happy to help availability: Mon-Sun 08:00-22:00"
CONTEXT = "I am stuck on asyncio and I tried the docs already"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def world(store: Store, clock: ManualClock) -> World:
    return World.start(store, clock)


async def introduced(w: World) -> None:
    await w.introduce(ADA, PROFILE, [BOB])


# -- timezones -----------------------------------------------------------------------------------


async def test_only_canonical_zones_any_case_with_suggestions(world: World) -> None:
    for bad in ("localtime", "Factory", "posixrules", "posix/Europe/Berlin"):
        out = await world.say(BOB, f"tz {bad}")
        assert "Your timezone is now" not in out, bad
    assert "Did you mean Europe/Berlin?" in await world.say(BOB, "tz berlin")
    assert "Your timezone is now Europe/Berlin" in await world.say(BOB, "tz europe/berlin")
    assert "Did you mean America/New_York?" in await world.say(BOB, "tz US/Eastern")
    assert "default_timezone is now \"Asia/Kolkata\"" in await world.say(
        ORG, "settings set default_timezone asia/kolkata")
    assert "Did you mean Asia/Kolkata?" in await world.say(
        ORG, "settings set default_timezone Kolkatta")


async def test_availability_is_shown_in_the_readers_zone(world: World) -> None:
    await world.say(ADA, "mentor set topics: python bio: hi availability: Tue 18:00-20:00")
    seen_by_bob = await world.say(BOB, "profile Ada")
    assert "Availability: Tue 12:00-14:00 your time (Tue 18:00-20:00 Europe/Berlin)" in (
        seen_by_bob)
    assert "Availability: Tue 18:00-20:00 (Europe/Berlin)" in await world.say(ADA, "profile")


# -- the calendar's ends and the booking horizon --------------------------------------------------


async def test_dates_at_the_ends_of_the_calendar_are_refused_not_crashed(world: World) -> None:
    await introduced(world)
    before = await world.snapshot()
    for when in ("9999-12-31 23:30", "0001-01-01 10:00", "in 3000000 days at 10:00"):
        out = await world.say(BOB, f"book Ada when: {when}")
        assert "Sorry, something went wrong" not in out, out
    assert "too far ahead: I can book up to 12 months ahead" in await world.say(
        BOB, "book Ada when: 2028-01-05 10:00")
    assert "too far ahead" in await world.say(ADA, "mentor pause 2030-01-01")
    assert await world.snapshot() == before


# -- series across daylight saving ----------------------------------------------------------------


async def test_a_weekly_series_keeps_its_wall_clock_time_and_says_when_the_other_shifts(
    world: World,
) -> None:
    await introduced(world)
    # Ada (Berlin) books Bob (New York) on Tue 9 Mar 18:00 Berlin: 12:00 for Bob. New York
    # moves its clocks on 14 Mar, Berlin on 28 Mar: for two weeks Bob's time is 13:00.
    world.clock.set(utc(2027, 3, 1, 12, 0))
    assert "proposed" in await world.say(ADA, "book Bob when: 2027-03-09 18:00")
    assert "Confirmed" in await world.say(BOB, "confirm 1")
    out = await world.say(ADA, "repeat 1 weekly times: 6")
    assert "repeats every week at 18:00 Europe/Berlin: 6 sessions" in out, out
    assert "For Bob (America/New_York): 12:00, from Tue 16 Mar 2027 13:00, " \
           "from Tue 30 Mar 2027 12:00." in out, out
    starts = [r["start_at"] for r in await world.rows(t.sessions)]
    berlin = [s.astimezone(ZoneInfo("Europe/Berlin")).hour
              for s in starts]
    assert berlin == [18] * 6  # the series' own wall clock never moves


async def test_an_occurrence_in_a_daylight_saving_gap_is_moved_and_said(world: World) -> None:
    await introduced(world)
    world.clock.set(utc(2027, 3, 1, 12, 0))
    # 02:30 Berlin on Sun 28 Mar 2027 does not exist: it is read as 03:30 (RFC 5545's rule).
    assert "proposed" in await world.say(ADA, "book Bob when: 2027-03-14 02:30")
    await world.say(BOB, "confirm 1")
    out = await world.say(ADA, "repeat 1 weekly times: 3")
    assert "Sun 28 Mar 2027: 02:30 does not exist there (the clocks go forward), so it is at " \
           "03:30" in out, out


async def test_a_monthly_series_from_the_31st_lands_on_the_last_day_never_skips(
    world: World,
) -> None:
    await introduced(world)
    world.clock.set(utc(2027, 1, 20, 12, 0))
    assert "proposed" in await world.say(ADA, "book Bob when: 2027-01-31 18:00")
    await world.say(BOB, "confirm 1")
    out = await world.say(ADA, "repeat 1 monthly times: 4")
    assert "Sun 28 Feb 2027: the last day of February (it has no 31st)" in out, out
    assert "Fri 30 Apr 2027: the last day of April (it has no 31st)" in out, out
    days = [r["start_at"].astimezone(ZoneInfo("Europe/Berlin")).day
            for r in await world.rows(t.sessions)]
    assert days == [31, 28, 31, 30]


# -- data never lost by accident ------------------------------------------------------------------


async def test_availability_is_cleared_only_on_purpose(world: World) -> None:
    await world.say(ADA, "mentor set topics: python bio: hi availability: Tue 18:00-20:00")
    before = await world.snapshot()
    out = await world.say(ADA, "mentor set availability:")
    assert "The availability is empty" in out
    reply = await world.reply(ADA, "mentor set availability: none")
    assert "Remove all your weekly windows?" in reply.plain_text()
    assert await world.snapshot() == before  # nothing until confirmed
    [confirm] = [c for m in reply.messages for c in m.choices]
    out = (await world.core.handle_click(ADA, confirm.id)).plain_text()
    assert "weekly windows are removed" in out
    assert "no weekly windows yet" in await world.say(ADA, "profile")


async def test_contradicting_settings_are_refused_with_the_reason(world: World) -> None:
    before = await world.snapshot()
    out = await world.say(ORG, "settings set request_release_hours 40")
    assert "must be more than request_nudge_hours (48)" in out, out
    assert "starts and ends at the same time" in await world.say(
        ORG, "settings set quiet_hours 22:00-22:00")
    assert "never get its mentor reminder" in await world.say(
        ORG, "settings set min_notice_hours 12")
    assert await world.snapshot() == before
    assert "quiet_hours is now not set" in await world.say(ORG, "settings set quiet_hours off")
    out = await world.say(ORG, "settings set mentor_reminder_hours 12")
    assert "already scheduled keep their times" in out
    help_out = await world.say(ORG, "help settings")
    assert "request_limit (1–20): open intro requests a member may have at once; now 3" in help_out
    assert "mentor_reminder_hours (1–720)" in help_out and "now 12" in help_out


async def test_a_reminder_that_would_fall_before_the_booking_is_recorded_as_skipped(
    world: World,
) -> None:
    await introduced(world)
    # Booked 30 hours ahead: the 48-hour agenda reminder was due before the booking.
    assert "proposed" in await world.say(BOB, "book Ada when: 2026-11-24 19:00 Europe/Berlin")
    await world.say(ADA, "confirm 1")
    [agenda] = [n for n in await world.nudges("ladder.agenda_reminder")]
    assert agenda["state"] == "stale"
    assert "would have been due before the session was agreed" in agenda["outcome"]
    out = await world.say(ORG, "nudges stale")
    assert "agenda reminder" in out and "would have been due before" in out


# -- text ------------------------------------------------------------------------------------------


async def test_a_label_inside_free_text_is_text_and_a_repeated_short_label_is_refused(
    world: World,
) -> None:
    await world.say(ADA, PROFILE)
    out = await world.say(BOB, "request Ada topic: linux context: I want to understand the "
                               "topic: kernel modules, I read two books")
    assert "Request #1 sent" in out, out
    [intro] = await world.rows(t.intro_requests)
    assert intro["topic"] == "linux"
    assert intro["context"] == "I want to understand the topic: kernel modules, I read two books"
    assert "“topics:” is given twice" in await world.say(
        ADA, "mentor set topics: python topics: go")
    assert "anything after `context:` is your text" in await world.say(BOB, "help request")


# -- the organizers' nudge log --------------------------------------------------------------------


async def test_the_nudge_log_pages_and_shows_postponed_ones_as_postponed(world: World) -> None:
    await introduced(world)
    for i in range(20):
        await world.say(BOB, f"notify topic number {i}")
    async with world.store.transaction() as tx:
        await tx.nudges.skip_pending("testing", intro_id=1)
    world.clock.set(utc(2026, 11, 23, 22, 30))  # 22:30 in Berlin: Ada's quiet hours
    await world.say(BOB, "request Ada topic: go context: I want to learn go, tried the tour")
    await world.deliver()
    world.clock.set(utc(2026, 11, 25, 22, 30))  # 48 hours on: 23:30 Berlin, the nudge waits
    await world.deliver()
    out = await world.say(ORG, "nudges pending")
    assert "reminder to answer a request to Ada" in out
    assert "postponed:" in out and "(quiet hours)" in out
    page_one = await world.say(ORG, "nudges sent")
    assert "Showing 15 of" not in page_one or "`nudges sent 2`" in page_one


# -- calendar invites ------------------------------------------------------------------------------


async def test_invite_uids_are_unique_per_installation_and_stable_per_session(
    tmp_path: Path, clock: ManualClock
) -> None:
    uids = []
    for name in ("one", "two"):
        store: Store = await open_store(
            StorageSettings(url=f"sqlite+aiosqlite:///{tmp_path / name}.db"))
        try:
            w = World.start(store, clock)
            await introduced(w)
            await w.say(BOB, "book Ada when: 2026-11-27 12:00")
            reply = await w.reply(ADA, "confirm 1")
            await w.deliver()
            moved = await w.reply(BOB, "reschedule 1 when: 2026-11-28 12:00")
            invites = [a for r in (moved,) for m in r.messages for a in m.attachments]
            sent = [a for s in w.messenger.sent for a in s.message.attachments]
            both = [str(e["UID"]) for a in [*sent, *invites]
                    for e in Calendar.from_ical(a.data).walk("VEVENT")]
            assert len(set(both)) == 1, both  # one session, one UID for its whole life
            uids.append(both[0])
            assert reply is not None
        finally:
            await store.close()
    assert uids[0] != uids[1]
    assert all(u.startswith("session-1.") and u.endswith("@mentorbot") for u in uids)


# -- the console ----------------------------------------------------------------------------------


async def test_a_number_clicks_only_for_the_person_it_was_shown_to(
    console: ConsoleSession,
) -> None:
    await run(console, "/as Grace", "tz Europe/Berlin", PROFILE.replace("python", "python"))
    shown = await run(console, "/as Ada", "find python")
    number = click(shown, "request Grace")
    out = await run(console, "/as Zoe", number)
    assert f"Choice [{number}] was shown to Ada, not to you" in out
    assert "Ask Grace" in await run(console, "/as Ada", number) or console.in_form


async def test_console_commands_work_inside_a_form_and_answers_are_checked_as_typed(
    console: ConsoleSession,
) -> None:
    await run(console, "/as Grace", "tz Europe/Berlin", PROFILE)
    out = await run(console, "/as Ada", "request Grace")
    assert console.in_form and "Topic" in out
    assert "Ada" in await console.feed("/who")
    assert console.in_form  # still open
    await console.feed("python")
    too_short = await console.feed("asyncio please")
    assert "at least 20" in too_short and console.in_form  # asked again, at once
    await console.feed("/as Grace")
    assert not console.in_form  # Ada's form waits for Ada
    await console.feed("/as Ada")
    assert console.in_form
    sent = await console.feed(CONTEXT)
    assert "Request #1 sent to @Grace" in sent
    await run(console, "/as Grace", "accept 1", "/as Ada")
    out = await console.feed("book Grace")
    assert console.in_form and "When" in out
    refused = await console.feed("tomorrow")  # the core reads it as it is typed
    assert "has no time of day" in refused and console.in_form
    assert "Bye!" in await console.feed("/quit")


async def test_an_invite_can_be_read_and_time_stops_at_the_calendars_end(
    console: ConsoleSession,
) -> None:
    await run(console, "/as Grace", "tz Europe/Berlin", PROFILE,
              "/as Ada", "tz Europe/Berlin",
              f"request Grace topic: python context: {CONTEXT}",
              "/as Grace", "accept 1",
              "/as Ada", "book Grace when: 2026-11-27 18:00")
    out = await run(console, "/as Grace", "confirm 1")
    assert "/ics" in out
    number = out.split("(attachment ")[1].split(":")[0]
    invite = await console.feed(f"/ics {number}")
    assert "BEGIN:VCALENDAR" in invite and "UID:session-1." in invite
    assert "no attachment" in (await console.feed("/ics 99")) or "1 to" in await console.feed(
        "/ics 99")
    assert "beyond the calendar" in await console.feed("/time +100000000d")
    assert "beyond the calendar" in await console.feed("/time +400000w")
