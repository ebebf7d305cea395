"""The mentorship itself, as the people in it live it: typed commands through Mentorbot, real
SQLite, the real nudge engine, the clock moved by hand.

People: Grace mentors python from Berlin; Maya (London) is her mentee; Zoe (London) waits for a
python mentor, Pia (London) for a pottery one; Eve is a member with no part in any of it; Org is
an organizer. "Now" starts at Mon 23 Nov 2026 12:00 UTC.

Messages are checked by the nudge kind that sent them and the commands their buttons carry;
wording only where the words are the point (a goal's text reaching the right person, or not).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.caller import Caller
from bot.clock import ManualClock
from bot.intros import nudges as ik
from bot.mentorships import nudges as k
from bot.repositories import Store
from bot.sessions import ladder
from bot.sessions import nudges as sk
from storage import schema as t
from tests.worlds import Sent, World

pytestmark = pytest.mark.asyncio

COMMUNITY = "T0GROWTH01"


def person(user_id: str, name: str, zone: str, *, admin: bool = False) -> Caller:
    return Caller("console", COMMUNITY, "Growth", user_id, name, zone, is_platform_admin=admin)


ORG = person("U0ORG00001", "Org", "UTC", admin=True)
GRACE = person("U0GRACE001", "Grace", "Europe/Berlin")
MAYA = person("U0MAYA0001", "Maya", "Europe/London")
ZOE = person("U0ZOE00001", "Zoe", "Europe/London")
PIA = person("U0PIA00001", "Pia", "Europe/London")
EVE = person("U0EVE00001", "Eve", "Europe/London")
LINUS = person("U0LINUS001", "Linus", "Europe/Helsinki")

CONTEXT = "context: I am learning python and got stuck on asyncio, I tried the docs"
GOAL_PR = "Ship my first open-source PR by March, merged upstream"
GOAL_TALK = "Give a lightning talk at the meetup by February"
CHECKIN_LINE = "Found a good first issue in httpx"
NOTE = "Great start: keep the PR small"
NEXT_STEP = "Comment on the issue before coding"
FEEDBACK_Q = "Could you read my PR description?"
FEEDBACK_A = "Lead with the why, then the how"
REFLECTION = "I learned to ask for help earlier"
SECRETS = (GOAL_PR, GOAL_TALK, CHECKIN_LINE, NOTE, NEXT_STEP, FEEDBACK_Q, FEEDBACK_A, REFLECTION)
MENTORSHIP_TABLES = (t.mentorships, t.goals, t.progress_entries, t.sessions,
                     t.waitlist)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def mentor_line(topics: str, *, mentees: int = 3, sessions: int = 8) -> str:
    return (f"mentor set topics: {topics} bio: I build things lengths: 30, 60 "
            f"availability: Mon-Fri 09:00-21:00 sessions: {sessions} mentees: {mentees}")


@pytest.fixture
async def world(store: Store, clock: ManualClock) -> World:
    w = World.start(store, clock)
    assert "intros_channel is now" in await w.say(ORG, "settings set intros_channel C0INTROS01")
    for who in (EVE, ZOE, PIA, MAYA):
        await w.say(who, "help")  # members, known to the bot
    return w


# -- small readers ----------------------------------------------------------------------------


async def received(w: World, name: str) -> list[tuple[str, Sent]]:
    """(nudge kind, what was sent) for every private message to ``name``, in order."""
    kinds = {f"mentorbot-nudge-{n['id']}": n["kind"] for n in await w.nudges()}
    return [(kinds.get(s.key, "?"), s) for s in await w.dms(name, mentorship=True)]


async def kinds_to(w: World, name: str) -> list[str]:
    return [kind for kind, _ in await received(w, name)]


async def one(w: World, name: str, kind: str) -> Sent:
    found = [s for got, s in await received(w, name) if got == kind]
    assert len(found) == 1, (kind, await kinds_to(w, name))
    return found[0]


async def tables(w: World) -> list[list[dict[str, Any]]]:
    return [await w.rows(table) for table in MENTORSHIP_TABLES]


async def start_mentorship(w: World, mentor: Caller = GRACE, mentee: Caller = MAYA, *,
                           line: str | None = None) -> None:
    if line is not None:
        assert "mentor" in await w.say(mentor, line)
    out = await w.say(mentee, f"request {mentor.display_name} topic: python {CONTEXT}")
    assert "sent to" in out, out
    intro = max(r["id"] for r in await w.rows(t.intro_requests))
    assert "Accepted" in await w.say(mentor, f"accept {intro}")
    await w.deliver()


async def book_and_confirm(w: World, when: str, *, mentee: Caller = MAYA,
                           mentor: Caller = GRACE) -> int:
    out = await w.say(mentee, f"book {mentor.display_name} when: {when} length: 60")
    assert "proposed" in out, out
    session_id = int(max(r["id"] for r in await w.rows(t.sessions)))
    assert "Confirmed" in await w.say(mentor, f"confirm {session_id}")
    await w.deliver()
    return session_id


async def hold(w: World, session_id: int, *, by: Caller = MAYA) -> None:
    """The session's "Did it happen?" arrives and is answered "Met"."""
    session = await w.session(session_id)
    await w.at(session["start_at"] + timedelta(minutes=60 + 5))
    assert "held" in await w.say(by, f"met {session_id}")
    await w.deliver()


async def wait_for(w: World, who: Caller, topic: str) -> None:
    out = await w.say(who, f"notify {topic}")
    assert "I'll message you" in out, out


# -- the journey ------------------------------------------------------------------------------


async def test_a_mentorship_from_accept_to_a_good_ending(world: World) -> None:
    w = world
    await start_mentorship(w, line=mentor_line("python, career", mentees=1))
    [m] = await w.rows(t.mentorships)
    assert (m["state"], m["mentor_id"], m["mentee_id"], m["topic"]) == (
        "active", 6, 5, "python")

    # Kick-off: the mentee is asked for goals, the mentor for a rhythm; each by a button.
    kickoff = await one(w, "Maya", k.KICKOFF_GOALS)
    assert kickoff.commands == [f"goals {m['id']}"]
    assert (await one(w, "Grace", k.KICKOFF_RHYTHM)).commands == [f"rhythm {m['id']}"]
    # The button opens the goals form.
    form = (await w.reply(MAYA, kickoff.commands[0])).form
    assert form is not None and [f.name for f in form.fields][:2] == ["goal1", "goal2"]

    # Grace is full now: Zoe waits for a python mentor, Pia for pottery.
    assert "full" in await w.say(ZOE, "find python")
    await wait_for(w, ZOE, "python")
    await wait_for(w, PIA, "pottery")

    out = await w.say(MAYA, f"goals 1 goal1: {GOAL_PR} goal2: {GOAL_TALK} "
                            "feedback: direct and written")
    assert GOAL_PR in out and GOAL_TALK in out
    out = await w.say(GRACE, "rhythm 1 every: two weeks length: 45 where: video call")
    assert "every two weeks" in out
    await w.deliver()
    # Each sees the agreed summary when the other changes it.
    assert GOAL_PR in (await one(w, "Grace", k.SUMMARY)).text
    assert "every two weeks" in (await one(w, "Maya", k.SUMMARY)).text
    assert await w.nudges(k.KICKOFF_GOALS) and all(
        n["state"] in ("sent", "skipped") for n in await w.nudges(k.KICKOFF_GOALS))

    # Session 1 on Thu 26 Nov, 18:00 Berlin; "Met": the check-ins start.
    s1 = await book_and_confirm(w, "2026-11-26 18:00 Europe/Berlin")
    await hold(w, s1)
    checkin = await one(w, "Maya", k.CHECKIN)
    assert checkin.commands == [f"checkin 1 goal: 1 session: {s1}",
                                f"checkin 1 goal: 2 session: {s1}"]
    assert (await one(w, "Grace", k.NOTE_ASK)).commands == [f"note 1 session: {s1}"]
    assert "passed on" in await w.say(
        MAYA, f"checkin 1 goal: 1 session: {s1} status: moving changed: {CHECKIN_LINE} "
              "wish: my PR description")
    assert "passed on" in await w.say(
        MAYA, f"checkin 1 goal: 2 session: {s1} status: stuck changed: no topic yet")
    assert "privately" in await w.say(GRACE, f"note 1 session: {s1} text: {NOTE} "
                                             f"next: {NEXT_STEP}")
    await w.deliver()
    relays = [s for kind, s in await received(w, "Grace") if kind == k.CHECKIN_RELAY]
    assert [CHECKIN_LINE in relays[0].text, "no topic yet" in relays[1].text] == [True, True]
    relayed_note = await one(w, "Maya", k.NOTE_RELAY)
    assert NOTE in relayed_note.text and NEXT_STEP in relayed_note.text

    # Two weeks after the session and nothing booked: one gentle prompt to book, and only one.
    await w.at(utc(2026, 12, 24, 12))
    prompt = await one(w, "Maya", k.RHYTHM_PROMPT)
    assert prompt.at == utc(2026, 12, 10, 18)  # the session ended 18:00 UTC on 26 Nov
    assert prompt.commands[0] == "book <member:U0GRACE001> length: 45"

    # Between sessions Maya asks for feedback; Grace answers (no reminder needed then).
    assert "Asked" in await w.say(MAYA, f"feedback-ask 1 {FEEDBACK_Q}")
    await w.deliver()
    asked = await one(w, "Grace", k.FEEDBACK_ASKED)
    assert asked.commands[0].startswith("feedback-answer ")
    assert "privately" in await w.say(GRACE, f"{asked.commands[0]} {FEEDBACK_A}")
    await w.at(utc(2026, 12, 30, 12))
    assert FEEDBACK_A in (await one(w, "Maya", k.FEEDBACK_ANSWERED)).text
    assert k.FEEDBACK_REMINDER not in await kinds_to(w, "Grace")

    # Session 2, eight weeks in: check-ins again, and the goals are looked at again.
    s2 = await book_and_confirm(w, "2027-01-21 18:00 Europe/Berlin")
    s3 = await book_and_confirm(w, "2027-02-18 18:00 Europe/Berlin")
    await hold(w, s2)
    assert len([kind for kind in await kinds_to(w, "Maya") if kind == k.CHECKIN]) == 2
    reassess = await one(w, "Maya", k.REASSESS)
    assert {"goal 1 done", "goal 1 closed", "goal 2 done", "goals 1", "goal 1 kept"} <= set(
        reassess.commands)
    assert "done" in await w.say(MAYA, "goal 1 done")
    await w.deliver()
    assert (await one(w, "Maya", k.GIVE_BACK)).commands == [f"thanks {s2}", "give-back 1"]

    # Maya ends it well: the future session is cancelled, Grace is told, both may reflect.
    before_end = len(w.messenger.sent)
    out = await w.reply(MAYA, "mentorship end 1 Thank you, I reached what I wanted")
    assert [c.command for c in out.messages[0].choices] == ["find python", "reflect 1"]
    await w.deliver()
    assert (await w.session(s3))["state"] == "cancelled"
    assert not [n for n in await w.nudges() if n["session_id"] == s3
                and n["state"] == "pending"]
    ended = await one(w, "Grace", k.ENDED)
    assert "Thank you, I reached what I wanted" in ended.text
    assert [kind for kind, s in await received(w, "Grace")
            if s in w.messenger.sent[before_end:]].count(sk.SESSION_CANCELLED) == 1
    await w.at(utc(2027, 1, 23, 12))
    assert (await one(w, "Maya", k.REFLECTION_ASK)).commands == ["reflect 1"]
    assert (await one(w, "Grace", k.REFLECTION_ASK)).commands == ["reflect 1"]
    assert "only you" in await w.say(MAYA, f"reflect 1 {REFLECTION}")
    assert REFLECTION in await w.say(MAYA, "progress 1")
    assert REFLECTION not in await w.say(GRACE, "progress 1")

    # The place frees: Zoe, waiting for python, is told once and offered the intro; Pia is not.
    freed = await one(w, "Zoe", ik.WAITLIST_FREED)
    assert freed.commands[0] == "request <member:U0GRACE001> topic: python"
    assert not await w.dms("Pia")
    assert "1/1" not in await w.say(ZOE, "profile Grace")
    assert "Grace" in await w.say(ZOE, "find python")
    assert "mentor" in await w.say(GRACE, "mentor set mentees: 2")  # another chance to tell
    await w.at(utc(2027, 3, 1))
    assert len([s for kind, s in await received(w, "Zoe") if kind == ik.WAITLIST_FREED]) == 1

    # What the database holds.
    [m] = await w.rows(t.mentorships)
    assert (m["state"], m["end_reason"]) == ("ended", "Thank you, I reached what I wanted")
    goals = {g["text"]: g["state"] for g in await w.rows(t.goals)}
    assert goals == {GOAL_PR: "done", GOAL_TALK: "active"}
    entries = [e["kind"] for e in await w.rows(t.progress_entries)]
    for kind in ("goal", "agreement", "checkin", "feedback_wish", "note", "next_step",
                 "feedback_ask", "feedback_answer", "reassessment", "reflection"):
        assert kind in entries, (kind, entries)
    [zoe_wait, pia_wait] = await w.rows(t.waitlist)
    assert zoe_wait["closed_reason"] == "told" and pia_wait["notified_at"] is None
    # Everything anybody received went through the nudge table, once.
    keys = [s.key for s in w.messenger.sent]
    assert len(keys) == len(set(keys))
    assert {f"mentorbot-nudge-{n['id']}" for n in await w.nudges()} >= set(keys)


async def test_the_record_shows_everything_in_time_order_and_exports_as_markdown(
    world: World,
) -> None:
    w = world
    await start_mentorship(w, line=mentor_line("python"))
    await w.say(MAYA, f"goals 1 goal1: {GOAL_PR}")
    s1 = await book_and_confirm(w, "2026-11-26 18:00 Europe/Berlin")
    await w.say(MAYA, f"agenda {s1} How to find a first issue")
    await hold(w, s1)
    await w.say(MAYA, f"checkin 1 status: moving changed: {CHECKIN_LINE}")
    await w.say(GRACE, f"note 1 text: {NOTE} next: {NEXT_STEP}")
    record = await w.say(GRACE, "progress 1")
    order = [record.index(x) for x in (GOAL_PR, "How to find a first issue", CHECKIN_LINE,
                                       NOTE, NEXT_STEP)]
    assert order == sorted(order), record
    reply = await w.reply(MAYA, "progress 1 export")
    [attachment] = reply.messages[0].attachments
    assert attachment.filename == "mentorship-1.md"
    assert attachment.content_type == "text/markdown"
    markdown = attachment.data.decode()
    assert markdown.startswith("# Mentorship #1: python")
    assert "Ship my first open\\-source PR by March, merged upstream" in markdown
    assert "Great start: keep the PR small" in markdown


async def test_the_exported_record_keeps_user_text_inert(world: World) -> None:
    w = world
    await start_mentorship(w, line=mentor_line("python"))
    await w.say(MAYA, "goals 1 goal1: [win](https://evil.example) **now** <b>x</b> # title")
    [attachment] = (await w.reply(MAYA, "progress 1 export")).messages[0].attachments
    markdown = attachment.data.decode()
    assert "\\[win\\]\\(https://evil\\.example\\)" in markdown
    assert "\\*\\*now\\*\\*" in markdown and "\\<b\\>" in markdown
    assert "\n# title" not in markdown


# -- "notify me when a mentor frees up" that really fires --------------------------------------


async def freed_messages(w: World, name: str) -> list[Sent]:
    return [s for kind, s in await received(w, name) if kind == ik.WAITLIST_FREED]


async def test_a_session_cancelled_under_the_monthly_cap_tells_the_python_waiter_once(
    world: World,
) -> None:
    w = world
    await start_mentorship(w, line=mentor_line("python", sessions=1))
    s1 = await book_and_confirm(w, "2026-11-26 18:00 Europe/Berlin")
    assert "full" in await w.say(ZOE, "find python")
    await wait_for(w, ZOE, "python")
    await wait_for(w, PIA, "pottery")
    assert "ancel" in await w.say(MAYA, f"cancel {s1} sorry, something came up")
    await w.deliver()
    [told] = await freed_messages(w, "Zoe")
    assert told.commands[0] == "request <member:U0GRACE001> topic: python"
    assert not await freed_messages(w, "Pia")
    await w.at(utc(2027, 1, 5))  # the new month's look finds Zoe told already
    assert len(await freed_messages(w, "Zoe")) == 1


async def test_a_new_month_in_the_mentors_own_zone_tells_the_waiter(world: World) -> None:
    w = world
    grace_la = person("U0GRACE001", "Grace", "America/Los_Angeles")
    await start_mentorship(w, grace_la, line=mentor_line("python", sessions=1))
    await book_and_confirm(w, "2026-11-30 10:00 America/Los_Angeles", mentor=grace_la)
    zoe_tokyo = person("U0ZOE00001", "Zoe", "Asia/Tokyo")  # awake at either moment
    assert "full" in await w.say(zoe_tokyo, "find python")
    await wait_for(w, zoe_tokyo, "python")
    await wait_for(w, PIA, "pottery")
    # 1 Dec begins in Los Angeles at 08:00 UTC, not at midnight UTC.
    await w.at(utc(2026, 12, 1, 7, 59))
    assert not await freed_messages(w, "Zoe")
    await w.at(utc(2026, 12, 2))
    [told] = await freed_messages(w, "Zoe")
    assert told.at == utc(2026, 12, 1, 8, 0)
    assert not await freed_messages(w, "Pia")


async def test_the_good_news_waits_for_the_waiters_morning(world: World) -> None:
    w = world
    await start_mentorship(w, line=mentor_line("python", sessions=1))
    await book_and_confirm(w, "2026-11-26 18:00 Europe/Berlin")
    await wait_for(w, ZOE, "python")
    # Grace's December begins at 23:00 UTC on 30 Nov: 23:00 for Zoe in London, quiet hours.
    await w.at(utc(2026, 12, 2))
    [told] = await freed_messages(w, "Zoe")
    assert told.at == utc(2026, 12, 1, 8, 0)


async def test_a_pause_that_runs_out_tells_the_waiter_without_anyone_typing_resume(
    world: World,
) -> None:
    w = world
    assert "mentor" in await w.say(GRACE, mentor_line("python"))
    assert "Paused" in await w.say(GRACE, "mentor pause 2026-12-10")
    assert "paused" in await w.say(ZOE, "find python")
    await wait_for(w, ZOE, "python")
    await wait_for(w, PIA, "pottery")
    await w.at(utc(2026, 12, 9, 12))
    assert not await freed_messages(w, "Zoe")
    await w.at(utc(2026, 12, 12))
    [told] = await freed_messages(w, "Zoe")
    assert told.at <= utc(2026, 12, 10, 8)  # by the morning the pause ends
    assert not await freed_messages(w, "Pia")
    await w.say(GRACE, "mentor pause 2026-12-20")
    await w.say(GRACE, "mentor resume")
    await w.deliver()
    assert len(await freed_messages(w, "Zoe")) == 1


async def test_an_extended_pause_is_looked_at_again_when_it_really_ends(world: World) -> None:
    w = world
    assert "mentor" in await w.say(GRACE, mentor_line("python"))
    await w.say(GRACE, "mentor pause 2026-12-10")
    await wait_for(w, ZOE, "python")
    await w.say(GRACE, "mentor pause 2026-12-20")  # longer, before the first pause ends
    await w.at(utc(2026, 12, 15))
    assert not await freed_messages(w, "Zoe")
    await w.at(utc(2026, 12, 22))
    assert len(await freed_messages(w, "Zoe")) == 1


async def test_a_mentorship_ending_frees_the_place_for_the_first_waiter_only(
    world: World,
) -> None:
    w = world
    await start_mentorship(w, line=mentor_line("python", mentees=1))
    await wait_for(w, ZOE, "python")
    await wait_for(w, PIA, "python")  # second in line
    await w.say(GRACE, "mentorship end 1 I am moving abroad")
    await w.deliver()
    assert len(await freed_messages(w, "Zoe")) == 1
    assert not await freed_messages(w, "Pia")  # one place, first come first told
    [zoe_wait, pia_wait] = await w.rows(t.waitlist)
    assert zoe_wait["closed_reason"] == "told" and pia_wait["notified_at"] is None


async def test_capacity_raised_tells_the_waiter(world: World) -> None:
    w = world
    await start_mentorship(w, line=mentor_line("python", mentees=1))
    await wait_for(w, ZOE, "python")
    await wait_for(w, PIA, "pottery")
    await w.say(GRACE, "mentor set mentees: 2")
    await w.deliver()
    assert len(await freed_messages(w, "Zoe")) == 1
    assert not await freed_messages(w, "Pia")
    await w.say(GRACE, "mentor set mentees: 3")
    await w.deliver()
    assert len(await freed_messages(w, "Zoe")) == 1


async def test_a_new_mentor_tells_only_those_waiting_for_their_topic(world: World) -> None:
    w = world
    long_topic = "python packaging for scientific computing with compiled extensions on windows"
    await wait_for(w, ZOE, long_topic)
    await wait_for(w, PIA, "pottery")
    assert "mentor" in await w.say(LINUS, mentor_line("python packaging"))
    await w.deliver()
    [told] = await freed_messages(w, "Zoe")
    assert long_topic in told.text  # the whole topic, however long
    assert told.commands[0] == f"request <member:U0LINUS001> topic: {long_topic}"
    assert not await freed_messages(w, "Pia")
    assert "mentor" in await w.say(GRACE, mentor_line("pottery"))
    await w.deliver()
    assert len(await freed_messages(w, "Pia")) == 1
    assert len(await freed_messages(w, "Zoe")) == 1


async def test_withdrawing_or_finding_someone_closes_the_wait(world: World) -> None:
    w = world
    await wait_for(w, ZOE, "python")
    assert "python" in await w.say(ZOE, "stop-waiting 1")
    assert "mentor" in await w.say(GRACE, mentor_line("python", mentees=1))
    await w.say(MAYA, f"request Grace topic: python {CONTEXT}")
    await wait_for(w, MAYA, "python")  # hedging, while the request is open
    assert "Accepted" in await w.say(GRACE, "accept 1")
    await w.deliver()
    reasons = {r["member_id"]: r["closed_reason"] for r in await w.rows(t.waitlist)}
    assert reasons == {3: "stopped waiting", 5: "found a mentor"}  # Zoe, Maya
    await w.say(GRACE, "mentor set mentees: 4")
    await w.deliver()
    assert not await freed_messages(w, "Zoe") and not await freed_messages(w, "Maya")


# -- the mentorship's other moments -------------------------------------------------------------


async def test_an_unanswered_feedback_request_reminds_the_mentor_once(world: World) -> None:
    w = world
    await start_mentorship(w, line=mentor_line("python"))
    await w.say(MAYA, f"feedback-ask 1 {FEEDBACK_Q}")
    await w.at(utc(2026, 12, 20))
    reminder = await one(w, "Grace", k.FEEDBACK_REMINDER)
    assert reminder.at.date() == (utc(2026, 11, 26)).date()
    assert FEEDBACK_Q in reminder.text


async def test_a_quiet_mentorship_is_asked_once_then_organizers_see_it_stalled(
    world: World,
) -> None:
    w = world
    await start_mentorship(w, line=mentor_line("python"))
    await w.at(utc(2027, 1, 21, 12))  # 59 days: nothing yet
    assert k.STALL_ASK not in await kinds_to(w, "Maya")
    await w.at(utc(2027, 1, 23, 12))
    ask = await one(w, "Maya", k.STALL_ASK)
    assert ask.commands == ["still-going 1 keep", "mentorship pause 1", "mentorship end 1"]
    await one(w, "Grace", k.STALL_ASK)
    assert "stalled" not in (await w.say(ORG, "report")).split("0 stalled")[0][-3:]
    await w.at(utc(2027, 2, 10))  # 14 days without an answer
    [m] = await w.rows(t.mentorships)
    assert m["stalled_at"] is not None
    assert "1 stalled" in await w.say(ORG, "report")
    # Answering "keep" clears it.
    await w.say(MAYA, "still-going 1 keep")
    assert "0 stalled" in await w.say(ORG, "report")


async def test_a_paused_mentorship_wakes_at_its_date_and_prompts_nobody_meanwhile(
    world: World,
) -> None:
    w = world
    await start_mentorship(w, line=mentor_line("python"))
    await w.say(GRACE, "rhythm 1 every: week")
    out = await w.say(MAYA, "mentorship pause 1 until: 2027-01-10")
    assert "paused until" in out
    await w.at(utc(2027, 1, 9))
    assert k.RHYTHM_PROMPT not in await kinds_to(w, "Maya")
    await w.at(utc(2027, 1, 11))
    [m] = await w.rows(t.mentorships)
    assert m["state"] == "active"
    await w.at(utc(2027, 1, 19))
    assert k.RHYTHM_PROMPT in await kinds_to(w, "Maya")


async def test_a_released_request_tells_the_mentor_and_its_buttons_stop_acting(
    world: World,
) -> None:
    w = world
    assert "mentor" in await w.say(GRACE, mentor_line("python"))
    assert "mentor" in await w.say(LINUS, mentor_line("python"))
    await w.say(MAYA, f"request Grace topic: python {CONTEXT}")
    await w.deliver()
    request = await one(w, "Grace", ik.INTRO_REQUEST)
    await w.at(utc(2026, 11, 30))
    told = await one(w, "Grace", ik.INTRO_RELEASED_MENTOR)
    assert "Nothing for you to do" in told.text
    out = await w.reply(GRACE, request.commands[0])  # the old Accept button
    assert out.refused and "released" in out.plain_text()
    offer = await one(w, "Maya", ik.INTRO_RELEASED)
    assert offer.commands[0] == "request <member:U0LINUS001> from: 1"
    form = (await w.reply(MAYA, offer.commands[0])).form
    assert form is not None
    assert "asyncio" in next(f.initial for f in form.fields if f.name == "context")


# -- privacy: a third member and an organizer see none of it ------------------------------------


async def full_mentorship(w: World) -> dict[str, int]:
    await start_mentorship(w, line=mentor_line("python"))
    await w.say(MAYA, f"goals 1 goal1: {GOAL_PR} goal2: {GOAL_TALK}")
    s1 = await book_and_confirm(w, "2026-11-26 18:00 Europe/Berlin")
    await hold(w, s1)
    await w.say(MAYA, f"checkin 1 goal: 1 session: {s1} status: moving changed: {CHECKIN_LINE}")
    await w.say(GRACE, f"note 1 text: {NOTE} next: {NEXT_STEP}")
    await w.say(MAYA, f"feedback-ask 1 {FEEDBACK_Q}")
    ask = max(e["id"] for e in await w.rows(t.progress_entries))
    await w.say(GRACE, f"feedback-answer {ask} {FEEDBACK_A}")
    await w.say(MAYA, f"reflect 1 {REFLECTION}")
    await w.deliver()
    return {"session": s1, "ask": ask}


@pytest.mark.parametrize("outsider", [EVE, ORG], ids=["a third member", "an organizer"])
async def test_no_one_outside_a_mentorship_sees_or_changes_any_of_it(
    world: World, outsider: Caller,
) -> None:
    w = world
    ids = await full_mentorship(w)
    before, sent_before = await tables(w), len(w.messenger.sent)
    lines = [
        "progress 1", "progress 1 export", "progress", "mentorships", "my",
        "goals 1", f"goals 1 goal1: {GOAL_PR} rewritten", "rhythm 1", "rhythm 1 every: week",
        "checkin 1 goal: 1 status: done changed: x", "note 1 text: x",
        "feedback-ask 1 x", f"feedback-ask {ids['session']} x",
        f"feedback-answer {ids['ask']} x", "give-back 1 x", "reflect 1 x", "reflect 1",
        "still-going 1 keep", "mentorship pause 1 until: 2027-01-10", "mentorship resume 1",
        "mentorship end 1", "goal 1 done", "goal 2 closed", "goal 1 kept",
    ]
    for line in lines:
        reply = await w.reply(outsider, line)
        shown = reply.plain_text()
        for secret in SECRETS:
            assert secret not in shown, (line, shown)
        assert not any(a for m in reply.messages for a in m.attachments), line
        assert "Sorry, something went wrong" not in shown, (line, shown)
    home = (await w.core.home(outsider)).plain_text()
    assert not any(secret in home for secret in SECRETS)
    await w.deliver()
    assert await tables(w) == before
    assert len(w.messenger.sent) == sent_before


async def test_the_organizer_report_counts_mentorships_without_their_content(
    world: World,
) -> None:
    w = world
    await full_mentorship(w)
    await w.say(MAYA, "goal 1 done")
    report = await w.say(ORG, "report")
    assert "Mentorships: active 1, paused 0, ended 0; 1 with agreed goals; " \
           "1 goal(s) done this quarter; 0 stalled" in report
    assert "Median time from intro to first session: 3.2 days" in report
    assert not any(secret in report for secret in SECRETS)


async def test_the_mentee_and_mentor_each_see_the_record_but_not_the_others_reflection(
    world: World,
) -> None:
    w = world
    await full_mentorship(w)
    await w.say(GRACE, "reflect 1 Maya asks sharp questions")
    maya, grace = await w.say(MAYA, "progress 1"), await w.say(GRACE, "progress 1")
    for shared in (GOAL_PR, CHECKIN_LINE, NOTE, NEXT_STEP, FEEDBACK_Q, FEEDBACK_A):
        assert shared in maya and shared in grace
    assert REFLECTION in maya and REFLECTION not in grace
    assert "sharp questions" in grace and "sharp questions" not in maya


# -- prompts keep to quiet hours, snoozes and "follow-ups off" ------------------------------------


async def test_kickoff_questions_wait_for_the_morning_in_the_mentees_zone(world: World) -> None:
    w = world
    kenji = person("U0KENJI001", "Kenji", "Asia/Tokyo")
    assert "mentor" in await w.say(GRACE, mentor_line("python"))
    w.clock.set(utc(2026, 11, 23, 14))  # 23:00 in Tokyo
    await start_mentorship(w, GRACE, kenji)
    await w.at(utc(2026, 11, 24, 12))
    asked = await one(w, "Kenji", k.KICKOFF_GOALS)
    assert asked.at == utc(2026, 11, 23, 23)  # 08:00 in Tokyo
    assert (await one(w, "Grace", k.KICKOFF_RHYTHM)).at == utc(2026, 11, 23, 14)


async def test_follow_ups_off_skips_check_ins_and_a_snooze_holds_them(world: World) -> None:
    w = world
    await start_mentorship(w, line=mentor_line("python"))
    await w.say(MAYA, f"goals 1 goal1: {GOAL_PR}")
    assert "off" in await w.say(MAYA, "followups off")
    s1 = await book_and_confirm(w, "2026-11-26 18:00 Europe/Berlin")
    await hold(w, s1)
    assert k.CHECKIN not in await kinds_to(w, "Maya")
    [checkin] = await w.nudges(k.CHECKIN)
    assert (checkin["state"], checkin["outcome"]) == ("stale", "follow-ups turned off")
    assert k.NOTE_ASK in await kinds_to(w, "Grace")  # Grace's follow-ups are on

    await w.say(MAYA, "followups on")
    await w.say(MAYA, "followups snooze 2 weeks")
    s2 = await book_and_confirm(w, "2026-12-03 18:00 Europe/Berlin")
    await hold(w, s2)
    assert k.CHECKIN not in await kinds_to(w, "Maya")
    await w.at(utc(2026, 12, 20))
    [later] = [s for kind, s in await received(w, "Maya") if kind == k.CHECKIN]
    assert later.at >= utc(2026, 12, 7, 8)


async def test_nothing_a_mentorship_sends_is_left_behind_when_it_ends(world: World) -> None:
    w = world
    await start_mentorship(w, line=mentor_line("python"))
    await w.say(GRACE, "rhythm 1 every: week")
    await w.say(MAYA, f"feedback-ask 1 {FEEDBACK_Q}")
    await w.say(MAYA, "mentorship end 1")
    await w.deliver()
    open_kinds = {n["kind"] for n in await w.nudges() if n["state"] == "pending"}
    assert open_kinds <= {k.REFLECTION_ASK, k.GIVE_BACK}, open_kinds
    await w.at(utc(2027, 6, 1))
    assert not [n for n in await w.nudges() if n["state"] in ("pending", "sending")]
    # Ladder and intro nudges, if any were planned, were settled too.
    assert not await w.left_over()
    assert ladder.AGENDA_REMINDER not in await kinds_to(w, "Maya")
