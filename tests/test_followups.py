"""After sessions: answers, thanks, ratings, follow-ups and the member's wishes; bad input.

Uses the world of ``tests.test_ladder`` (Ada mentors in Berlin; Kenji in Tokyo and Bob in New
York are her mentees). Every refusal is checked for its message and for changing nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.bootstrap import open_store
from bot.clock import ManualClock
from bot.config import StorageSettings
from bot.messages import Mention, Notice, Plain, Strong
from bot.repositories import Store
from bot.sessions import ladder
from storage import schema as t
from tests.test_ladder import (
    ADA,
    ADA_ID,
    BOB,
    INTROS,
    KENJI,
    ORG,
    ORGS,
    ZOE,
    World,
    book_confirmed,
    build_world,
    check_buttons,
    only,
    only_row,
    utc,
)

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def world(store: Store, clock: ManualClock) -> World:
    return await build_world(store, clock)


async def held_session(w: World, mentee: str = "bob") -> int:
    """Bob's session with Ada on Thu 26 Nov 18:00 Berlin (17:00 UTC), now over."""
    who = BOB if mentee == "bob" else KENJI
    session_id = await book_confirmed(w, who, "2026-11-26 18:00 Europe/Berlin")
    await w.at(utc(2026, 11, 26, 17, 30))
    w.messenger.sent.clear()
    return session_id


async def refused(w: World, who: object, line: str, expected: str) -> None:
    """``line`` is refused with ``expected`` in the answer, and nothing changes."""
    before = await w.snapshot()
    out = await w.say(who, line)  # type: ignore[arg-type]
    assert expected in out, out
    assert "Sorry, something went wrong" not in out
    assert await w.snapshot() == before


# -- "Did it happen?" ---------------------------------------------------------------------------


async def test_answering_twice_is_refused_and_changes_nothing(world: World) -> None:
    w = world
    session_id = await held_session(w)
    assert "recorded as held" in await w.say(BOB, f"met {session_id}")
    await refused(w, BOB, f"met {session_id}", "You already answered for session #1: “Met”")
    await refused(w, BOB, f"missed {session_id}", "You already answered")
    await refused(w, BOB, f"moved {session_id}", "Nothing was changed")
    # The mentor answers for themselves.
    assert "recorded as held" in await w.say(ADA, f"met {session_id}")
    answers = await w.rows(t.session_attendance)
    assert [(a["member_id"], a["answer"]) for a in answers] == [(4, "met"), (ADA_ID, "met")]


async def test_answers_before_the_start_or_by_strangers_are_refused(world: World) -> None:
    w = world
    session_id = await book_confirmed(w, BOB, "2026-11-26 18:00 Europe/Berlin")
    await refused(w, BOB, f"met {session_id}", "hasn't started yet")
    await w.at(utc(2026, 11, 26, 17, 30))
    await refused(w, ZOE, f"met {session_id}", "Session #1 isn't one of yours")
    await refused(w, KENJI, f"missed {session_id}", "isn't one of yours")
    await refused(w, BOB, "met 99", "Session #99 isn't one of yours")
    await refused(w, BOB, "met soon", "Which session? I need its number")


async def test_didnt_happen_is_private_for_organizers(world: World) -> None:
    w = world
    session_id = await held_session(w)
    out = await w.say(BOB, f"missed {session_id}")
    assert "noted it privately for the organizers" in out, out
    assert (await w.session(session_id))["state"] == "missed"
    await w.deliver()
    alert = only(w.messenger.in_channel(ORGS))
    assert "No-show report (private): session #1 of @Ada (mentor) with @Bob" in alert.text
    assert "@Bob says it didn't happen" in alert.text
    assert await w.dms("Ada") == []  # the mentor is not told who reported it
    feedback = await w.say(ORG, "feedback")
    assert "session #1, reported by @Bob" in feedback
    assert "1 session(s) reported as not happened" in await w.say(ORG, "report")
    assert "Only organizers can do that" in await w.say(BOB, "feedback")
    # A "missed" session has no follow-ups.
    assert await w.nudges(ladder.CHECK_IN) == []
    await refused(w, BOB, f"thanks {session_id} thank you", "hasn't been marked as held")


async def test_we_moved_it_points_to_reschedule_and_asks_again_later(world: World) -> None:
    w = world
    session_id = await held_session(w)
    reply = await w.reply(ADA, f"moved {session_id}")
    out = reply.plain_text()
    assert f"reschedule {session_id} when:" in out, out
    assert [c.command for c in reply.messages[0].choices] == [f"reschedule {session_id}"]
    assert (await w.session(session_id))["state"] == "confirmed"
    out = await w.say(ADA, f"reschedule {session_id} when: 2026-11-30 18:00 Europe/Berlin")
    assert "moved to" in out, out
    await w.at(utc(2026, 11, 30, 17, 30))
    asked = [s for s in w.messenger.sent if "Did your session" in s.text]
    assert {s.destination.member.display_name for s in asked} == {"Ada", "Bob"}  # type: ignore[union-attr]
    assert "recorded as held" in await w.say(ADA, f"met {session_id}")


async def test_answers_for_a_cancelled_session_are_refused(world: World) -> None:
    w = world
    session_id = await book_confirmed(w, BOB, "2026-11-26 18:00 Europe/Berlin")
    assert "cancelled" in await w.say(ADA, f"cancel {session_id} ill")
    await w.at(utc(2026, 11, 26, 18, 0))
    for line in (f"met {session_id}", f"missed {session_id}", f"thanks {session_id} thanks!",
                 f"rate {session_id} 5", f"followup {session_id} it went well"):
        await refused(w, BOB, line, "was cancelled")


# -- thanks -----------------------------------------------------------------------------------


async def test_thanks_for_someone_elses_session_is_refused(world: World) -> None:
    w = world
    session_id = await held_session(w)
    assert "recorded as held" in await w.say(BOB, f"met {session_id}")
    await refused(w, KENJI, f"thanks {session_id} thank you Ada", "isn't one of yours")
    await refused(w, ADA, f"thanks {session_id} thank you Bob",
                  "Thank-you notes are from the mentee to the mentor")


async def test_a_5000_character_thank_you_is_refused(world: World) -> None:
    w = world
    session_id = await held_session(w)
    assert "recorded as held" in await w.say(BOB, f"met {session_id}")
    await refused(w, BOB, f"thanks {session_id} " + "x" * 5000,
                  "The thank-you note is too long (5,000 characters)")
    assert "on its way" in await w.say(BOB, f"thanks {session_id} Thank you!")
    await refused(w, BOB, f"thanks {session_id} Thanks again", "You already thanked")


async def test_public_thanks_is_user_text_and_pings_only_the_two(world: World) -> None:
    w = world
    session_id = await held_session(w)
    assert "recorded as held" in await w.say(BOB, f"met {session_id}")
    note = "@everyone <!channel> <@U0ZOE00001> see https://evil.example/x *bold* <b>hi</b>"
    out = await w.say(BOB, f"thanks {session_id} {note} public: yes")
    assert "shared in the community channel" in out, out
    await w.deliver()
    shout = only(w.messenger.in_channel(INTROS)).message
    plain = [s.text for s in shout.segments if isinstance(s, Plain)]
    assert plain == [note]
    bot_text = " ".join(s.text for s in shout.segments if isinstance(s, Notice | Strong))
    for bit in ("@everyone", "<!channel>", "https://", "<@U0ZOE"):
        assert bit not in bot_text
    mentioned = {s.member.platform_user_id for s in shout.segments if isinstance(s, Mention)}
    assert mentioned == {"U0ADA00001", "U0BOB00001"}
    assert {m.platform_user_id for m in shout.pinged()} <= {"U0ADA00001", "U0BOB00001"}
    # The private relay quotes it as user text too.
    relay = only(await w.dms("Ada")).message
    assert all(note not in s.text for s in relay.segments if isinstance(s, Notice | Strong))


async def test_public_only_when_ticked(world: World) -> None:
    w = world
    session_id = await held_session(w)
    assert "recorded as held" in await w.say(BOB, f"met {session_id}")
    reply = await w.reply(BOB, f"thanks {session_id}")
    form = reply.messages[0].form
    assert form is not None and form.command == f"thanks {session_id}"
    assert [f.name for f in form.fields] == ["note", "public"]
    out = (await w.core.handle_form(BOB, form.id,
                                    {"note": "Thanks a lot!", "public": "no"})).plain_text()
    assert "privately" in out and "community channel" not in out, out
    await w.deliver()
    assert w.messenger.in_channel(INTROS) == []
    assert "Thanks a lot!" in only(await w.dms("Ada")).text


async def test_public_yes_or_no_only(world: World) -> None:
    w = world
    session_id = await held_session(w)
    assert "recorded as held" in await w.say(BOB, f"met {session_id}")
    await refused(w, BOB, f"thanks {session_id} Thanks! public: maybe",
                  "“public:” should be yes or no")


# -- ratings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("rating", ["0", "6", "great", "4.5", "-1"])
async def test_bad_ratings_are_refused(world: World, rating: str) -> None:
    w = world
    session_id = await held_session(w)
    assert "recorded as held" in await w.say(BOB, f"met {session_id}")
    await refused(w, BOB, f"rate {session_id} {rating}",
                  "The rating must be a whole number from 1 to 5")


async def test_rating_is_private_and_given_once(world: World) -> None:
    w = world
    session_id = await held_session(w)
    await refused(w, BOB, f"rate {session_id} 4", "hasn't been marked as held")
    assert "recorded as held" in await w.say(BOB, f"met {session_id}")
    reply = await w.reply(BOB, f"rate {session_id}")
    form = reply.messages[0].form
    assert form is not None and [f.name for f in form.fields] == ["rating", "note"]
    out = await w.core.handle_form(BOB, form.id,
                                   {"rating": "4", "note": "good, a bit rushed"})
    assert "Rated 4/5" in out.plain_text()
    await refused(w, BOB, f"rate {session_id} 5", "You already rated session #1")
    await refused(w, ZOE, f"rate {session_id} 1", "isn't one of yours")
    await w.deliver()
    assert all("rushed" not in s.text for s in w.messenger.sent)
    assert "good, a bit rushed" in await w.say(ORG, "feedback")


# -- follow-ups and the member's wishes ---------------------------------------------------------


async def test_followups_off_makes_them_stale(world: World) -> None:
    w = world
    session_id = await held_session(w)
    assert "recorded as held" in await w.say(BOB, f"met {session_id}")
    assert "Follow-ups are off" in await w.say(BOB, "followups off")
    w.messenger.sent.clear()
    await w.at(utc(2027, 1, 1, 12, 0))
    assert await w.dms("Bob") == []
    for kind in (ladder.THANKS_PROMPT, ladder.CHECK_IN, ladder.OUTCOME):
        row = only_row(await w.nudges(kind))
        assert (row["state"], row["outcome"]) == ("stale", "follow-ups turned off")


async def test_snooze_postpones_instead_of_dropping(world: World) -> None:
    w = world
    session_id = await held_session(w)
    assert "recorded as held" in await w.say(BOB, f"met {session_id}")
    await w.deliver()
    out = await w.say(BOB, "followups snooze 2 weeks")
    assert "snoozed until Thu 10 Dec 2026 12:30 EST" in out, out
    w.messenger.sent.clear()
    # The +7 day check-in falls inside the snooze: it waits for its end (17:30 UTC on 10 Dec
    # = 12:30 in New York, outside quiet hours). One event, one row: its due time moves.
    await w.at(utc(2026, 12, 3, 18, 0))
    assert await w.dms("Bob") == []
    row = only_row(await w.nudges(ladder.CHECK_IN))
    assert (row["state"], row["due_at"]) == ("pending", utc(2026, 12, 10, 17, 30))
    assert row["outcome"].startswith("postponed until 2026-12-10T17:30:00+00:00")
    assert "follow-ups snoozed" in row["outcome"]
    await w.at(utc(2026, 12, 10, 17, 30))
    week = only(await w.dms("Bob"))
    assert "Did you get to try what you discussed?" in week.text
    check_buttons(week.message)
    assert "Follow-ups are on again" in await w.say(BOB, "followups on")


async def test_snooze_end_is_moved_out_of_quiet_hours(world: World) -> None:
    w = world
    session_id = await held_session(w)
    assert "recorded as held" in await w.say(BOB, f"met {session_id}")
    await w.deliver()
    # "until 2026-12-05" is midnight in New York: inside quiet hours, so 08:00 there.
    assert "snoozed" in await w.say(BOB, "followups snooze until 2026-12-05")
    await w.at(utc(2026, 12, 3, 18, 0))
    row = only_row(await w.nudges(ladder.CHECK_IN))
    assert row["due_at"] == utc(2026, 12, 5, 13, 0)


@pytest.mark.parametrize("line,expected", [
    ("followups", "Say off, on or snooze"),
    ("followups maybe", "I don't know the choice “maybe”. Pick one of: off, on, snooze."),
    ("followups snooze", "For how long?"),
    ("followups snooze banana", "I can't read the date"),
    ("followups snooze 3 years", "too far ahead"),
])
async def test_bad_followup_switches_are_refused(world: World, line: str, expected: str) -> None:
    await refused(world, BOB, line, expected)


async def test_personal_quiet_hours_shift_followups_at_planning_time(world: World) -> None:
    w = world
    assert "wait outside 12:00-14:00" in await w.say(BOB, "quiet 12:00-14:00")
    session_id = await held_session(w)
    assert "recorded as held" in await w.say(BOB, f"met {session_id}")
    # End 17:30 UTC + 7 days = 12:30 in New York: inside Bob's 12:00-14:00, so 14:00 there.
    row = only_row(await w.nudges(ladder.CHECK_IN))
    assert row["due_at"] == utc(2026, 12, 3, 19, 0)
    # The thank-you prompt too: now is 12:30 in New York.
    prompt = only_row(await w.nudges(ladder.THANKS_PROMPT))
    assert prompt["due_at"] == utc(2026, 11, 26, 19, 0)


async def test_quiet_hours_changed_after_planning_are_checked_at_send_time(world: World) -> None:
    w = world
    session_id = await held_session(w)
    assert "recorded as held" in await w.say(BOB, f"met {session_id}")
    await w.deliver()
    # Planned for 12:30 New York; Bob then moves to Tokyo, where that is 02:30.
    assert "Asia/Tokyo" in await w.say(BOB, "tz Asia/Tokyo")
    w.messenger.sent.clear()
    await w.at(utc(2026, 12, 3, 17, 30))
    assert await w.dms("Bob") == []
    row = only_row(await w.nudges(ladder.CHECK_IN))
    assert row["due_at"] == utc(2026, 12, 3, 23, 0)  # 08:00 in Tokyo
    await w.at(utc(2026, 12, 3, 23, 0))
    assert "Did you get to try" in only(await w.dms("Bob")).text


async def test_followup_reply_is_relayed_to_the_mentor(world: World) -> None:
    w = world
    session_id = await held_session(w)
    await refused(w, BOB, f"followup {session_id} it went well", "hasn't been marked as held")
    assert "recorded as held" in await w.say(ADA, f"met {session_id}")
    reply = await w.reply(BOB, f"followup {session_id}")
    assert reply.messages[0].form is not None
    await refused(w, BOB, f"followup {session_id} " + "y" * 1600, "The message is too long")
    out = await w.say(BOB, f"followup {session_id} I shipped the refactor <!here>")
    assert "Sent to @Ada privately" in out
    await w.deliver()
    relay = only(await w.dms("Ada"))
    assert "> I shipped the refactor <!here>" in relay.text
    assert relay.commands == [f"followup {session_id}"]


async def test_mentor_met_plans_followups_but_thanks_prompt_waits_for_the_mentee(
    world: World,
) -> None:
    w = world
    session_id = await held_session(w)
    assert "recorded as held" in await w.say(ADA, f"met {session_id}")
    assert await w.nudges(ladder.THANKS_PROMPT) == []
    assert len(await w.nudges(ladder.CHECK_IN)) == 1
    assert "recorded as held" in await w.say(BOB, f"met {session_id}")
    assert len(await w.nudges(ladder.THANKS_PROMPT)) == 1
    assert len(await w.nudges(ladder.CHECK_IN)) == 1  # planned once


async def test_thanks_prompt_is_stale_once_thanked_and_rated(world: World) -> None:
    w = world
    assert "wait outside 12:00-14:00" in await w.say(BOB, "quiet 12:00-14:00")
    session_id = await held_session(w)
    assert "recorded as held" in await w.say(BOB, f"met {session_id}")
    assert "on its way" in await w.say(BOB, f"thanks {session_id} Thank you!")
    assert "Rated" in await w.say(BOB, f"rate {session_id} 5")
    await w.at(w.clock.now() + timedelta(hours=2))
    row = only_row(await w.nudges(ladder.THANKS_PROMPT))
    assert (row["state"], row["outcome"]) == ("stale", "already thanked and rated")


async def test_help_lists_the_after_session_commands(world: World) -> None:
    out = await world.say(BOB, "help")
    assert "After sessions" in out
    for usage in ("met <session #>", "thanks <session #> <note> [public: yes]",
                  "rate <session #> <1-5> [note]", "followups off|on|snooze [how long]"):
        assert usage in out


async def test_after_session_storage_on_sqlite_and_postgresql(
    any_db_url: str, clock: ManualClock
) -> None:
    """The same flow on both databases: answers, outcome state, feedback, report figures."""
    store = await open_store(StorageSettings(url=any_db_url))
    try:
        w = await build_world(store, clock)
        session_id = await held_session(w)
        assert "recorded as held" in await w.say(BOB, f"met {session_id}")
        assert "recorded as held" in await w.say(ADA, f"met {session_id}")
        await refused(w, BOB, f"met {session_id}", "You already answered")
        assert "on its way" in await w.say(BOB, f"thanks {session_id} Thank you! public: yes")
        assert "Rated 4/5" in await w.say(BOB, f"rate {session_id} 4")
        assert "Rated 5/5" in await w.say(ADA, f"rate {session_id} 5 keen mentee")
        assert (await w.session(session_id))["state"] == "held"
        report = await w.say(ORG, "report")
        assert "2 rating(s), average 4.5/5, 1 thank-you note(s)" in report, report
        await w.at(utc(2027, 1, 1, 12, 0))
        assert await w.left_over() == []
    finally:
        await store.close()


async def test_my_lists_sessions_still_waiting_for_an_answer(world: World) -> None:
    w = world
    session_id = await held_session(w)
    reply = await w.reply(BOB, "my")
    assert f"#{session_id} on Thu 26 Nov 2026 12:00 EST: `met 1`" in reply.plain_text()
    assert any(c.command == "met 1" for m in reply.messages for c in m.choices)
    assert "recorded as held" in await w.say(BOB, "met 1")
    assert "Did these sessions happen?" not in await w.say(BOB, "my")
    assert "Did these sessions happen?" in await w.say(ADA, "my")


async def test_public_thanks_without_a_public_channel_stays_private(world: World) -> None:
    w = world
    async with w.store.transaction() as tx:  # (`settings set` can't empty a value yet)
        values = await tx.communities.settings(1)
        await tx.communities.save_settings(1, {**values, "intros_channel": ""})
    session_id = await held_session(w)
    assert "recorded as held" in await w.say(BOB, f"met {session_id}")
    out = await w.say(BOB, f"thanks {session_id} Thank you! public: yes")
    assert "no public channel set up, so it stays private" in out, out
    await w.deliver()
    assert w.messenger.in_channel(INTROS) == []
    assert len(await w.dms("Ada")) == 1
