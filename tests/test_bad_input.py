"""Bad input gets a clear, friendly message and changes nothing; no stack trace ever reaches a user.

"Changes nothing" is checked on the database itself: every table is dumped before and after.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from bot.bootstrap import build_core, build_engine
from bot.caller import Caller
from bot.clock import ManualClock
from bot.config import CommunityDefaults, NudgeSettings, StorageSettings
from bot.core import BUSY, SORRY, Mentorbot
from bot.messages import Mention, Notice, Plain, Quote, Reply, Strong
from bot.repositories import Store
from storage import schema
from storage.db import create_engine
from storage.store import SqlStore
from tests.recording_port import RecordingMessenger

CONTEXT = "I wrote a small CLI and got stuck on packaging it for PyPI."
GRACE = Caller("test", "c1", "Community", "UGRACE", "Grace", timezone="Europe/Berlin")
ADA = Caller("test", "c1", "Community", "UADA", "Ada", timezone="Europe/Berlin")
BOB = Caller("test", "c1", "Community", "UBOB", "Bob")
LINUS = Caller("test", "c1", "Community", "ULINUS", "Linus")


async def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    async with store.reading() as tx:
        return {
            table.name: sorted(
                (tuple(row) for row in await tx.conn.execute(select(table))),  # type: ignore[attr-defined]
                key=repr,
            )
            for table in schema.metadata.sorted_tables
        }


async def say(core: Mentorbot, caller: Caller, line: str) -> str:
    return (await core.handle_text(caller, line)).plain_text()


@pytest.fixture
async def world(core: Mentorbot) -> Mentorbot:
    """Grace mentors python; Ada has request #1 open with her; Linus mentors too."""
    for who in (GRACE, LINUS):
        out = await say(core, who, "mentor set topics: python bio: Glad to help. "
                                   "availability: Tue 18:00-20:00 mentees: 3")
        assert "now a mentor" in out
    assert "Request #1 sent" in await say(
        core, ADA, f"request Grace topic: python context: {CONTEXT}"
    )
    await say(core, BOB, "my")
    return core


async def refused(core: Mentorbot, store: Store, caller: Caller, line: str) -> str:
    before = await snapshot(store)
    out = await say(core, caller, line)
    assert await snapshot(store) == before, f"{line!r} changed the database"
    assert "Traceback" not in out and "Error" not in out
    return out


@pytest.mark.parametrize(
    ("caller", "line", "expected"),
    [
        (ADA, "frobnicate", "I don't know the command “frobnicate”."),
        (ADA, "fnid python", "Did you mean `find`?"),
        (ADA, "", "I didn't get a command."),
        (ADA, "mentor set colour: blue", "I can't tell which field that is."),
        (ADA, "request Nobody topic: python context: " + CONTEXT,
         "I don't know anyone called “Nobody” here."),
        (ADA, "request <member:U404> topic: python context: " + CONTEXT,
         "That person hasn't used mentorbot here yet."),
        (ADA, "request Bob topic: python context: " + CONTEXT, "Bob isn't a mentor here."),
        (ADA, "find " + "p" * 5000, "The topic is too long (5,000 characters)."),
        (ADA, "notify " + "p" * 5000, "The topic is too long"),
        (ADA, "request Linus topic: " + "p" * 5000 + " context: " + CONTEXT,
         "The topic is too long"),
        (ADA, "request Linus topic: python context: ", "The context is empty."),
        (ADA, "request Linus topic: python context: \u200b\u200b  \u202e ",
         "The context is empty."),
        (ADA, "request Linus topic: python context: short", "The context is too short"),
        (ADA, "x" * 7000, "That message is too long (7,000 characters)."),
        (ADA, "tz Mars/Olympus_Mons", "I don't know the timezone “Mars/Olympus_Mons”."),
        (ADA, "tz", "Please say which timezone."),
        (GRACE, "mentor set availability: Tue 20:00-18:00",
         "The window “Tue 20:00-18:00” ends before it starts."),
        (GRACE, "mentor set availability: Someday 10:00-12:00", "can't read the availability"),
        (GRACE, "mentor set lengths: 7", "“7” is not a session length I can offer."),
        (GRACE, "mentor set mentees: lots", "must be a whole number from 1 to 20"),
        (GRACE, "mentor set topics: " + ", ".join(f"t{i}" for i in range(11)), "at most 10"),
        (GRACE, "mentor set topics: python topics: go", "“topics:” is given twice."),
        (GRACE, "mentor pause 1999-01-01", "That date is in the past."),
        (GRACE, "mentor pause 2031-01-01", "too far ahead: I can book up to 12 months ahead"),
        (ADA, f"request Grace topic: career context: {CONTEXT}",
         "You already have an open request to Grace (#1)."),
        (LINUS, "accept 1", "Request #1 isn't one addressed to you."),
        (LINUS, "accept 999", "Request #999 isn't one addressed to you."),
        (GRACE, "accept one", "Which request? I need its number"),
        (BOB, "withdraw 1", "Request #1 isn't yours."),
        (BOB, "answer 1 here you go", "Request #1 isn't yours."),
        (ADA, "settings set request_limit 9", "Only organizers can do that."),
        (ADA, "mentor resume", "You're not a mentor yet."),
        (ADA, "profile Nobody", "I don't know anyone called “Nobody” here."),
        (ADA, "help frobnicate", "There is no command “frobnicate”."),
    ],
)
async def test_bad_input_is_refused_kindly_and_changes_nothing(
    world: Mentorbot, store: Store, caller: Caller, line: str, expected: str
) -> None:
    assert expected in await refused(world, store, caller, line)


async def test_a_mentor_answering_twice_changes_nothing_the_second_time(
    world: Mentorbot, store: Store
) -> None:
    assert "Accepted!" in await say(world, GRACE, "accept 1")
    for line in ("accept 1", "decline 1 no", "ask 1 what?", "decline-pause 1"):
        assert "Request #1 is already accepted." in await refused(world, store, GRACE, line)


async def test_a_form_field_the_command_does_not_have_is_refused(
    world: Mentorbot, store: Store
) -> None:
    form = (await world.handle_text(GRACE, "mentor edit")).form
    assert form is not None
    before = await snapshot(store)
    reply = await world.handle_form(GRACE, form.id, {"topics": "go", "password": "x"})
    assert "The form field “password” is not one I know." in reply.plain_text()
    assert await snapshot(store) == before


async def test_an_unknown_button_is_refused(world: Mentorbot, store: Store) -> None:
    before = await snapshot(store)
    reply = await world.handle_click(ADA, "not-ours:accept 1")
    assert "That button isn't one of mine any more." in reply.plain_text()
    assert await snapshot(store) == before


# -- emoji, right-to-left text, invisible characters -----------------------------------------


async def test_emoji_topics_and_right_to_left_context_are_stored_faithfully(
    world: Mentorbot, store: Store
) -> None:
    arabic = "أريد أن أتعلم بايثون وقد جربت كتابة برنامج صغير"
    hebrew = "ניסיתי לכתוב תוכנית קטנה ונתקעתי"
    out = await say(world, ADA, f"request Linus topic: 🐍 python context: {arabic} — {hebrew}")
    assert "Request #2 sent" in out
    async with store.transaction() as tx:
        intro = await tx.intros.get(1, 2)
    assert intro is not None
    assert intro.topic == "🐍 python"
    assert intro.context == f"{arabic} — {hebrew}"


async def test_bidi_overrides_and_zero_width_characters_are_stripped(
    world: Mentorbot, store: Store
) -> None:
    sneaky = "I tried \u202eevil\u202c things with \u200bzero\u2066 width and got stuck."
    await say(world, ADA, f"request Linus topic: py\u200bthon context: {sneaky}")
    async with store.transaction() as tx:
        intro = await tx.intros.get(1, 2)
    assert intro is not None
    assert intro.topic == "python"
    assert intro.context == "I tried evil things with zero width and got stuck."


# -- markup in user text stays data ----------------------------------------------------------

INJECTIONS = ("@everyone", "@here", "<!channel>", "<@U123>", "[link](https://evil)")


def assert_only_plain(reply_or_messages: Any, needle: str) -> None:
    messages = getattr(reply_or_messages, "messages", reply_or_messages)
    seen_plain = False
    for message in messages:
        for seg in message.segments:
            if isinstance(seg, Plain | Quote) and needle in seg.text:
                seen_plain = True
            if isinstance(seg, Notice | Strong):
                assert needle not in seg.text, f"{needle!r} in a bot-authored segment: {seg}"
            if isinstance(seg, Mention):
                assert needle not in seg.member.display_name
        for choice in message.choices:
            assert needle not in choice.label or needle.startswith("@")
    assert seen_plain, f"{needle!r} not shown at all"


@pytest.mark.parametrize("needle", INJECTIONS)
async def test_markup_in_user_text_only_ever_reaches_plain_segments(
    world: Mentorbot, store: Store, clock: ManualClock, needle: str
) -> None:
    replies: list[Reply] = [
        await world.handle_text(ADA, f"find {needle}"),
        await world.handle_text(ADA, f"notify {needle}"),
        await world.handle_text(ADA, f"tz {needle}"),
        await world.handle_text(ADA, f"request {needle} topic: x context: {CONTEXT}"),
        await world.handle_text(
            ADA, f"request Linus topic: {needle} context: {CONTEXT} {needle}"
        ),
        await world.handle_text(LINUS, f"ask 2 Did you mean {needle}?"),
        await world.handle_text(ADA, f"answer 2 Yes, {needle} exactly."),
        await world.handle_text(GRACE, f"decline 1 Not now {needle}"),
        await world.handle_text(LINUS, "my"),
    ]
    for reply in replies:
        if needle in reply.plain_text():
            assert_only_plain(reply, needle)
    messenger = RecordingMessenger()
    engine = build_engine(store, messenger, clock, NudgeSettings(), CommunityDefaults())
    await engine.run_due()
    await say(world, LINUS, "accept 2")
    await engine.run_due()
    carrying = [d.message for d in messenger.deliveries
                if d.message is not None and needle in d.message.plain_text()]
    assert len(carrying) >= 4  # request DM, question, answer, decline note, intro space
    for message in carrying:
        assert_only_plain([message], needle)


# -- internal errors -------------------------------------------------------------------------


async def test_an_internal_error_shows_sorry_and_the_trace_only_in_the_log(
    world: Mentorbot, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    async with store.transaction() as tx:
        await tx.conn.execute(text("DROP TABLE waitlist"))
    caplog.set_level(logging.ERROR)
    reply = await world.handle_text(ADA, "notify python")
    assert reply.plain_text() == SORRY
    assert "Traceback" not in reply.plain_text() and "waitlist" not in reply.plain_text()
    assert any(r.exc_info for r in caplog.records), "the trace belongs in the log"
    assert "waitlist" in caplog.text


async def test_an_unreachable_database_says_try_again(
    clock: ManualClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Like a busy database: the person is asked to try again shortly, and the log says
    why (no trace: it is an operator's matter, not a bug)."""
    store = SqlStore(create_engine(
        StorageSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'gone.db'}")
    ))
    core = build_core(store, clock, CommunityDefaults())
    caplog.set_level(logging.ERROR)
    try:
        reply = await core.handle_text(ADA, "my")
    finally:
        await store.close()
    assert reply.plain_text() == BUSY and reply.refusal is not None and reply.refusal.transient
    assert "unable to open database file" in caplog.text
    assert not any(r.exc_info for r in caplog.records if r.name == "bot.core")
