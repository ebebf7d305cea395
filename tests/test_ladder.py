"""The nudge ladder end to end: typed commands through Mentorbot, real SQLite, the nudge engine.

People: Ada mentors (Europe/Berlin, weekdays 17:00-21:00 her time), Kenji is her mentee in
Asia/Tokyo (her evening is his small hours, so quiet hours matter), Bob is her mentee in
America/New_York, Org is an organizer. Default quiet hours 22:00-08:00 local.
"Now" starts at Mon 23 Nov 2026 12:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.bootstrap import build_registry
from bot.caller import Caller
from bot.clock import ManualClock
from bot.messages import (
    Choice,
    Mention,
    Message,
    Moment,
    Notice,
    Plain,
    Quote,
    Strong,
)
from bot.repositories import Store
from bot.sessions import ladder
from storage import schema as t
from tests.worlds import Sent, World

pytestmark = pytest.mark.asyncio


def caller(user_id: str, name: str, zone: str | None, *, admin: bool = False) -> Caller:
    return Caller("console", "T0LADDER01", "Ladder", user_id, name, zone, is_platform_admin=admin)


ADA = caller("U0ADA00001", "Ada", "Europe/Berlin")
KENJI = caller("U0KENJI001", "Kenji", "Asia/Tokyo")
BOB = caller("U0BOB00001", "Bob", "America/New_York")
ZOE = caller("U0ZOE00001", "Zoe", "Europe/Berlin")
ORG = caller("U0ORG00001", "Org", "UTC", admin=True)
ORG_ID, ADA_ID, KENJI_ID, BOB_ID = 1, 2, 3, 4  # member ids, in order of first contact
INTROS = "C0INTROS01"
ORGS = "C0ORGANIZ1"


async def build_world(store: Store, clock: ManualClock) -> World:
    w = World.start(store, clock)
    assert "intros_channel is now" in await w.say(ORG, f"settings set intros_channel {INTROS}")
    assert "organizer_channel is now" in await w.say(
        ORG, f"settings set organizer_channel {ORGS}")
    await w.introduce(ADA, "mentor set topics: python, career bio: I build things lengths: "
                      "30, 60 availability: Mon-Fri 17:00-21:00 sessions: 8 mentees: 5",
                      (KENJI, BOB))
    await w.say(ZOE, "help")  # a member who was never introduced
    return w


@pytest.fixture
async def world(store: Store, clock: ManualClock) -> World:
    return await build_world(store, clock)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def book_confirmed(w: World, mentee: Caller, when: str, *, agenda: str = "") -> int:
    out = await w.say(mentee, f"book Ada when: {when}" + (f" agenda: {agenda}" if agenda else ""))
    assert "proposed" in out, out
    session_id = int(max(r["id"] for r in await w.rows(t.sessions)))
    out = await w.say(ADA, f"confirm {session_id}")
    assert "Confirmed" in out, out
    await w.deliver()
    w.messenger.sent.clear()
    return session_id


def moments(message: Message) -> list[Moment]:
    return [s for s in message.segments if isinstance(s, Moment)]


def only(items: list[Sent]) -> Sent:
    assert len(items) == 1, [s.text for s in items]
    return items[0]


def check_buttons(message: Message) -> None:
    """Every button stands for a typed command the parser knows, in an id a platform takes."""
    grammar = build_registry().grammar
    for choice in message.choices:
        assert isinstance(choice, Choice)
        assert choice.id.startswith("mb:") and len(choice.id) <= 100
        grammar.parse(choice.command)


# -- the whole ladder -------------------------------------------------------------------------


async def test_full_ladder_from_booking_to_the_outcome_follow_up(world: World) -> None:
    w = world
    # Thu 26 Nov 18:00 Berlin = 17:00 UTC = Fri 02:00 in Tokyo. 60 minutes.
    out = await w.say(KENJI, "book Ada when: 2026-11-26 18:00 Europe/Berlin length: 60")
    assert "Session #1 proposed" in out, out
    await w.deliver()
    # 1. On booking, the mentee is asked for context and materials, right away.
    ask = only([s for s in await w.dms("Kenji") if "in advance" in s.text])
    assert ask.at == utc(2026, 11, 23, 12, 0)
    assert "what do you want to get out of it? what have you tried so far?" in ask.text.lower()
    assert "agenda 1" in ask.commands
    check_buttons(ask.message)

    out = await w.say(ADA, "confirm 1")
    assert "Confirmed" in out, out
    start = utc(2026, 11, 26, 17, 0)
    planned = {(n["kind"], n["recipient_id"]): n["due_at"]
               for n in await w.nudges() if n["kind"].startswith("ladder.")
               and n["state"] == "pending"}
    assert planned == {
        (ladder.AGENDA_REMINDER, KENJI_ID): start - timedelta(hours=48),
        (ladder.MENTOR_REMINDER, ADA_ID): start - timedelta(hours=24),
        (ladder.BOTH_REMINDER, ADA_ID): start - timedelta(hours=1),
        (ladder.BOTH_REMINDER, KENJI_ID): start - timedelta(hours=1),
        (ladder.DID_IT_HAPPEN, ADA_ID): start + timedelta(hours=1),
        (ladder.DID_IT_HAPPEN, KENJI_ID): start + timedelta(hours=1),
    }
    await w.deliver()
    w.messenger.sent.clear()

    # 2. No agenda 48 h before: asked once more.
    await w.at(start - timedelta(hours=48))
    again = only(await w.dms("Kenji"))
    assert "no agenda yet" in again.text
    assert again.at == utc(2026, 11, 24, 17, 0)
    # The mentee shares it; the mentor's reminder 24 h before carries it.
    assert "agenda" in (await w.say(KENJI, "agenda 1 How do I structure asyncio tasks? "
                                           "I tried gather and got lost")).lower()
    w.messenger.sent.clear()
    await w.at(start - timedelta(hours=24))
    reminder = only(await w.dms("Ada"))
    assert reminder.at == utc(2026, 11, 25, 17, 0)
    assert "Reminder: session #1" in reminder.text
    assert "> How do I structure asyncio tasks?" in reminder.text
    assert [m.reader_timezone for m in moments(reminder.message)] == ["Europe/Berlin"]
    assert "Thu 26 Nov 2026 18:00 CET" in reminder.text
    assert not await w.dms("Kenji")

    # 3. Both, one hour before, each in their own local time.
    w.messenger.sent.clear()
    await w.at(start - timedelta(hours=1))
    ada_soon = only(await w.dms("Ada"))
    kenji_soon = only(await w.dms("Kenji"))
    assert ada_soon.at == kenji_soon.at == utc(2026, 11, 26, 16, 0)
    assert "starts at 18:00 CET" in ada_soon.text
    assert "starts at 02:00 JST" in kenji_soon.text  # pre-session reminders are not shifted

    # 4. At the end time: "Did it happen?". Ada (19:00 Berlin) is asked at once; Kenji
    # (03:00 Tokyo, inside his quiet hours) at 08:00 his time.
    w.messenger.sent.clear()
    await w.at(start + timedelta(hours=1))
    asked = only(await w.dms("Ada"))
    assert asked.at == utc(2026, 11, 26, 18, 0)
    assert asked.commands == ["met 1", "missed 1", "moved 1"]
    check_buttons(asked.message)
    assert not await w.dms("Kenji")
    postponed = only_row(
        [n for n in await w.nudges(ladder.DID_IT_HAPPEN) if n["recipient_id"] == KENJI_ID])
    assert postponed["state"] == "pending"  # one event, one row: its due time moved
    assert postponed["outcome"].startswith("postponed until 2026-11-26T23:00:00+00:00")
    assert postponed["due_at"] == utc(2026, 11, 26, 23, 0)  # 08:00 in Tokyo

    assert "recorded as held" in await w.say(ADA, "met 1")
    await w.at(utc(2026, 11, 26, 23, 0))
    kenji_asked = only(await w.dms("Kenji"))
    assert kenji_asked.at == utc(2026, 11, 26, 23, 0)
    assert "Did your session #1" in kenji_asked.text
    assert "Fri 27 Nov 2026 02:00 JST" in kenji_asked.text

    # 5. "Met" from the mentee: thank-you and rating invitation, right away (08:00 Tokyo).
    w.messenger.sent.clear()
    out = await w.say(KENJI, "met 1")
    assert "recorded as held" in out, out
    await w.deliver()
    prompt = only(await w.dms("Kenji"))
    assert "thank-you note" in prompt.text
    assert prompt.commands == ["thanks 1", "rate 1"]
    check_buttons(prompt.message)

    # The note is relayed privately; Ada is in her quiet hours (00:00 Berlin): 08:00 hers.
    out = await w.say(KENJI, "thanks 1 Thank you Ada, gather finally makes sense! public: yes")
    assert "on its way" in out and "shared in the community channel" in out, out
    out = await w.say(KENJI, "rate 1 5 clear and practical")
    assert "Rated 5/5" in out, out
    await w.deliver()
    shout = only(w.messenger.in_channel(INTROS))
    assert "A thank-you from @Kenji to their mentor @Ada" in shout.text
    assert not await w.dms("Ada")
    await w.at(utc(2026, 11, 27, 7, 0))
    relayed = only(await w.dms("Ada"))
    assert relayed.at == utc(2026, 11, 27, 7, 0)  # 08:00 in Berlin
    assert "> Thank you Ada, gather finally makes sense!" in relayed.text
    # The rating is for organizers only: nobody was sent it.
    assert all("clear and practical" not in s.text for s in w.messenger.sent)
    assert "clear and practical" in await w.say(ORG, "feedback")
    assert "1 rating(s), average 5.0/5" in await w.say(ORG, "report")

    # 6. +7 days after the end (Thu 3 Dec 18:00 UTC = Fri 03:00 Tokyo): moved to 08:00 Tokyo.
    w.messenger.sent.clear()
    check_in = [n for n in await w.nudges(ladder.CHECK_IN)]
    assert [n["due_at"] for n in check_in] == [utc(2026, 12, 3, 23, 0)]
    await w.at(utc(2026, 12, 3, 23, 0))
    week = only(await w.dms("Kenji"))
    assert week.at == utc(2026, 12, 3, 23, 0)
    assert "Did you get to try what you discussed? Anything to tell your mentor?" in week.text
    check_buttons(week.message)
    out = await w.say(KENJI, "followup 1 I rewrote my crawler with TaskGroup, it works!")
    assert "Sent to @Ada privately" in out, out
    await w.at(utc(2026, 12, 4, 7, 0))  # Ada's quiet hours end (08:00 Berlin)
    relay = only(await w.dms("Ada"))
    assert "> I rewrote my crawler with TaskGroup, it works!" in relay.text

    # 7. +30 days: the outcome follow-up with a button to book the next session.
    w.messenger.sent.clear()
    await w.at(utc(2026, 12, 26, 23, 0))
    outcome = only(await w.dms("Kenji"))
    assert outcome.at == utc(2026, 12, 26, 23, 0)
    assert "book <member:U0ADA00001>" in outcome.commands
    check_buttons(outcome.message)
    reply = await w.reply(KENJI, "book <member:U0ADA00001>")
    assert reply.messages[0].form is not None  # the booking form opens
    assert (await w.session(1))["state"] == "held"
    # Nothing is left over.
    assert await w.left_over() == []


# -- planning rules ---------------------------------------------------------------------------


async def test_reminders_already_past_are_not_queued_but_the_hour_before_is(world: World) -> None:
    w = world
    assert "is now" in await w.say(ORG, "settings set min_notice_hours 0")
    w.clock.set(utc(2026, 11, 23, 15, 0))
    # 17:00 UTC is 18:00 Berlin, two hours from now.
    session_id = await book_confirmed(w, BOB, "2026-11-23 18:00 Europe/Berlin")
    kinds = sorted((n["kind"], n["due_at"]) for n in await w.nudges()
                   if n["kind"] in ladder.TIMED_KINDS and n["state"] == "pending")
    assert kinds == [
        (ladder.BOTH_REMINDER, utc(2026, 11, 23, 16, 0)),
        (ladder.BOTH_REMINDER, utc(2026, 11, 23, 16, 0)),
        (ladder.DID_IT_HAPPEN, utc(2026, 11, 23, 17, 30)),
        (ladder.DID_IT_HAPPEN, utc(2026, 11, 23, 17, 30)),
    ]
    assert session_id == 1


async def test_offsets_are_configurable_per_community(world: World) -> None:
    w = world
    for key, value in (("agenda_reminder_hours", 72), ("mentor_reminder_hours", 6),
                       ("both_reminder_minutes", 15)):
        assert "is now" in await w.say(ORG, f"settings set {key} {value}")
    await book_confirmed(w, BOB, "2026-11-27 18:00 Europe/Berlin")
    start = utc(2026, 11, 27, 17, 0)
    due = {n["kind"]: n["due_at"] for n in await w.nudges() if n["kind"] in ladder.TIMED_KINDS}
    assert due[ladder.AGENDA_REMINDER] == start - timedelta(hours=72)
    assert due[ladder.MENTOR_REMINDER] == start - timedelta(hours=6)
    assert due[ladder.BOTH_REMINDER] == start - timedelta(minutes=15)


async def test_agenda_given_with_the_booking_means_no_asking(world: World) -> None:
    w = world
    await book_confirmed(w, BOB, "2026-11-26 18:00 Europe/Berlin",
                         agenda="Review my asyncio crawler, I tried gather")
    kinds = {n["kind"] for n in await w.nudges()}
    assert ladder.AGENDA_ASK not in kinds
    assert ladder.AGENDA_REMINDER not in kinds
    await w.at(utc(2026, 11, 25, 17, 0))
    assert "Review my asyncio crawler" in only(await w.dms("Ada")).text


async def test_agenda_shared_before_the_second_ask_makes_it_stale(world: World) -> None:
    w = world
    await book_confirmed(w, BOB, "2026-11-26 18:00 Europe/Berlin")
    await w.deliver()
    await w.say(BOB, "agenda 1 I want to talk about structuring a python service")
    w.messenger.sent.clear()
    await w.at(utc(2026, 11, 24, 17, 0))
    assert await w.dms("Bob") == []
    second = only_row(await w.nudges(ladder.AGENDA_REMINDER))
    assert (second["state"], second["outcome"]) == ("stale", "agenda already shared")


def only_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(rows) == 1, rows
    return rows[0]


async def test_cancelled_session_gets_no_more_nudges(world: World) -> None:
    w = world
    await book_confirmed(w, BOB, "2026-11-26 18:00 Europe/Berlin")
    await w.deliver()
    w.messenger.sent.clear()
    assert "cancelled" in await w.say(BOB, "cancel 1 something came up")
    pending = [n for n in await w.nudges()
               if n["kind"].startswith(("ladder.", "followup.")) and n["state"] == "pending"]
    assert pending == []
    stale = [n for n in await w.nudges(ladder.DID_IT_HAPPEN)]
    assert {n["outcome"] for n in stale} == {"session cancelled"}
    await w.at(utc(2026, 12, 30, 12, 0))
    assert [s.text for s in w.messenger.sent if "Did your session" in s.text
            or "Reminder" in s.text or "Soon" in s.text] == []


async def test_rescheduling_replans_every_timed_reminder(world: World) -> None:
    w = world
    await book_confirmed(w, BOB, "2026-11-26 18:00 Europe/Berlin")
    out = await w.say(BOB, "reschedule 1 when: 2026-11-27 19:00 Europe/Berlin reason: exam")
    assert "moved" in out, out
    old = [n for n in await w.nudges() if n["kind"] in ladder.TIMED_KINDS
           and n["state"] == "stale"]
    assert len(old) == 6
    assert {n["outcome"] for n in old} == {"rescheduled: exam"}
    new_start = utc(2026, 11, 27, 18, 0)
    pending = sorted((n["kind"], n["recipient_id"], n["due_at"]) for n in await w.nudges()
                     if n["kind"] in ladder.TIMED_KINDS and n["state"] == "pending")
    assert (ladder.MENTOR_REMINDER, ADA_ID, new_start - timedelta(hours=24)) in pending
    assert (ladder.DID_IT_HAPPEN, BOB_ID, new_start + timedelta(minutes=30)) in pending
    assert len(pending) == 6
    # The old times pass quietly; the new ones are kept.
    w.messenger.sent.clear()
    await w.at(utc(2026, 11, 26, 18, 30))
    texts = " ".join(s.text for s in w.messenger.sent)
    assert "Thu 26 Nov" not in texts and "Did your session" not in texts
    reminder = only([s for s in await w.dms("Ada") if "Reminder" in s.text])
    assert "Fri 27 Nov 2026 19:00 CET" in reminder.text
    assert reminder.at == new_start - timedelta(hours=24)


async def test_a_stale_renderer_check_catches_a_time_change_even_if_not_skipped(
    world: World,
) -> None:
    """Defence in depth: a reminder planned for an older time never goes out."""
    w = world
    await book_confirmed(w, BOB, "2026-11-26 18:00 Europe/Berlin")
    async with w.store.transaction() as tx:
        session = await tx.sessions.get(1, 1)
        assert session is not None
        await tx.sessions.update(session, w.clock.now(), bump_sequence=True)
    w.messenger.sent.clear()
    await w.at(utc(2026, 11, 25, 17, 0))
    assert await w.dms("Ada") == []
    reminder = only_row(await w.nudges(ladder.MENTOR_REMINDER))
    assert reminder["outcome"] == "session moved since this was planned"


async def test_reminders_found_overdue_after_the_start_are_skipped_not_sent_late(
    world: World,
) -> None:
    """After downtime, "Soon: your session starts" must not arrive once it has started."""
    w = world
    await book_confirmed(w, BOB, "2026-11-26 18:00 Europe/Berlin")
    w.messenger.sent.clear()
    # The bot was down from before the 48 h reminder until after the session: one delivery pass.
    w.clock.set(utc(2026, 11, 26, 17, 45))
    await w.deliver()
    texts = [s.text for s in w.messenger.sent]
    assert not any("Reminder" in x or "Soon" in x or "no agenda" in x for x in texts), texts
    for kind in (ladder.AGENDA_REMINDER, ladder.MENTOR_REMINDER, ladder.BOTH_REMINDER):
        assert {(n["state"], n["outcome"]) for n in await w.nudges(kind)} == {
            ("stale", "session already started")}
    # "Did it happen?" is still asked (Bob's evening, Ada's evening: outside quiet hours).
    assert len([x for x in texts if "Did your session #1" in x]) == 2


async def test_organizers_see_every_skipped_nudge_and_why(world: World) -> None:
    w = world
    # The world's two accepted requests: their deadline nudges were skipped, with the reason.
    assert "stale: request answered" in await w.say(ORG, "nudges")
    await book_confirmed(w, BOB, "2026-11-26 18:00 Europe/Berlin")
    assert "cancelled" in await w.say(BOB, "cancel 1 something came up")
    out = await w.say(ORG, "nudges")
    assert "Skipped or failed nudges, newest first: 1–13 of 13" in out, out
    assert "did it happen to Bob" in out and "did it happen to Ada" in out
    assert "did it happen to Bob · due Thu 26 Nov 2026 17:30 UTC · stale: session cancelled" in out
    assert "mentor reminder to Ada · due Wed 25 Nov 2026 17:00 UTC" in out, out
    assert "No failed nudges." in await w.say(ORG, "nudges failed")
    assert "sent" in await w.say(ORG, "nudges sent")
    # Only organizers; a bad state is explained and nothing changes.
    before = await w.snapshot()
    assert "organizers" in (await w.say(BOB, "nudges")).lower()
    bad = await w.say(ORG, "nudges lost")
    assert "I don't know the nudge state “lost”" in bad and "pending, sending, sent" in bad
    assert await w.snapshot() == before


# -- the intro request deadlines (bot.notifications) ------------------------------------------


async def test_unanswered_request_nudges_at_48h_and_releases_at_72h(world: World) -> None:
    w = world
    assert "mentor" in await w.say(
        ZOE, "mentor set topics: rust, python bio: systems person lengths: 30 "
        "availability: Mon-Fri 17:00-21:00")
    carl = caller("U0CARL0001", "Carl", "Europe/Paris")
    out = await w.say(carl, "request Ada topic: python context: I want to learn python "
                            "testing and tried pytest docs")
    assert "Request #3 sent" in out, out
    await w.deliver()
    w.messenger.sent.clear()
    await w.at(w.clock.now() + timedelta(hours=47, minutes=59))
    assert await w.sent() == []
    await w.at(utc(2026, 11, 25, 12, 0))
    nudge = only(await w.dms("Ada"))
    assert "still waiting for your answer to request #3" in nudge.text
    assert nudge.commands[0] == "accept 3"
    w.messenger.sent.clear()
    await w.at(utc(2026, 11, 26, 11, 59))
    assert await w.sent() == []
    await w.at(utc(2026, 11, 26, 12, 0))
    told = only(await w.dms("Carl"))
    assert "so I released it" in told.text
    assert "Next best fit: @Zoe" in told.text
    assert "request <member:U0ZOE00001> from: 3" in told.commands  # the request filled in
    check_buttons(told.message)
    async with w.store.transaction() as tx:
        intro = await tx.intros.get(1, 3)
    assert intro is not None and intro.state.value == "released"
    # Too late to accept now.
    assert "already released" in await w.say(ADA, "accept 3")


async def test_answered_requests_are_never_nudged(world: World) -> None:
    w = world
    carl = caller("U0CARL0001", "Carl", "Europe/Paris")
    dora = caller("U0DORA0001", "Dora", "Europe/Paris")
    for person in (carl, dora):
        assert "sent" in await w.say(person, "request Ada topic: python context: I want to "
                                             "learn python testing and tried pytest docs")
    assert "Accepted" in await w.say(ADA, "accept 3")
    assert "Declined" in await w.say(ADA, "decline 4 too busy this month")
    await w.deliver()
    w.messenger.sent.clear()
    await w.at(utc(2026, 11, 30, 12, 0))
    assert [s.text for s in await w.sent()] == []
    deadlines = [n for n in await w.nudges() if n["intro_id"] in (3, 4)
                 and n["kind"] in ("intro.deadline_nudge", "intro.release")]
    assert len(deadlines) == 4
    assert {n["state"] for n in deadlines} == {"stale"}
    assert {n["outcome"] for n in deadlines} == {"request answered"}


# -- message hygiene --------------------------------------------------------------------------


def user_text_segments(message: Message) -> list[str]:
    return [s.text for s in message.segments if isinstance(s, Plain | Quote)]


def bot_text_segments(message: Message) -> list[str]:
    return [s.text for s in message.segments if isinstance(s, Notice | Strong)]


def pinged(message: Message) -> set[str]:
    return {s.member.platform_user_id for s in message.segments
            if isinstance(s, Mention) and s.ping}
