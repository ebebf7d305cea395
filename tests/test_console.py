"""The console adapter end to end: real core, real SQLite file, ManualClock, no sleeps."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from adapters.console.messenger import ConsoleMessenger
from adapters.console.render import ChoiceBook, render_message
from adapters.console.session import ConsoleSession, open_console, parse_time_jump
from bot.clock import ManualClock
from bot.messages import MemberAddress, MessageBuilder
from bot.ports import DirectMessage, RecipientUnreachable, SpacePost

CONTEXT = "I want to learn asyncio properly; I tried the docs and got lost in event loops."


def number_for(output: str, command: str) -> str:
    """The number printed next to a choice whose typed command is ``command``."""
    found = re.findall(r"\[(\d+)\] [^\n]*\(" + re.escape(command) + r"\)", output)
    assert found, f"no choice for {command!r} in:\n{output}"
    return found[-1]


@pytest.fixture
async def demo(sqlite_url: str, clock: ManualClock) -> AsyncIterator[ConsoleSession]:
    async with open_console(sqlite_url, clock, seed=True) as session:
        yield session


async def request_grace(demo: ConsoleSession) -> str:
    found = await demo.feed("find python")
    out = await demo.feed(number_for(found, "request Grace"))
    assert "Topic" in out and "required" in out
    out = await demo.feed("python")
    assert "Context" in out and "at least 20 characters" in out
    return await demo.feed(CONTEXT)


async def test_seeded_demo_prompt_and_who(demo: ConsoleSession) -> None:
    assert demo.prompt() == (
        "[Demo Community · you are Ada (Europe/Berlin) · Mon 23 Nov 13:00] > "
    )
    who = await demo.feed("/who")
    for name, zone in [("Ada", "Europe/Berlin"), ("Grace", "America/New_York"),
                       ("Linus", "Europe/Helsinki"), ("Yuki", "Asia/Tokyo"),
                       ("Margaret", "America/Los_Angeles"), ("Kofi", "Africa/Accra")]:
        assert re.search(rf"^{name}\s+{re.escape(zone)}", who, re.M), who


async def test_walkthrough_request_accept_space(demo: ConsoleSession) -> None:
    found = await demo.feed("find python")
    assert "@Grace" in found
    assert "@Margaret" not in found  # paused
    assert "[1] Ask Grace  (request Grace)" in found

    sent = await request_grace(demo)
    assert "Request #1 sent to @Grace" in sent
    # The DM to the mentor is printed as it is delivered, with numbered choices.
    assert "→ DM to Grace: @Ada asks you for an intro (request #1)" in sent
    assert "> " + CONTEXT in sent
    assert "Accept  (accept 1)" in sent

    switched = await demo.feed("/as Grace")
    assert "You are now Grace (America/New_York)" in switched
    assert demo.prompt().startswith("[Demo Community · you are Grace (America/New_York) ·")
    inbox = await demo.feed("/inbox")
    assert "→ DM to Grace:" in inbox

    accepted = await demo.feed(number_for(inbox, "accept 1"))
    assert "(accept 1)" in accepted
    assert "Accepted!" in accepted
    assert "→ private space opened for Grace & Ada" in accepted
    assert "→ in private space (Grace & Ada): @Grace, meet @Ada!" in accepted
    assert "→ DM to Ada: Good news! @Grace accepted your request #1" in accepted

    spaces = [r for r in demo.messenger.sent if isinstance(r.destination, SpacePost)]
    assert len(spaces) == 1
    await demo.feed("/as Ada")
    ada_inbox = await demo.feed("/inbox")
    assert "Good news!" in ada_inbox and "meet @Ada" in ada_inbox


async def test_time_fires_deadline_nudge_then_release(
    demo: ConsoleSession, clock: ManualClock
) -> None:
    await request_grace(demo)
    assert len(demo.messenger.dms_to("console-grace")) == 1

    quiet = await demo.feed("/time +47h")
    assert "→ DM" not in quiet
    # Due at 13:00 Berlin, 07:00 for Grace in New York: the reminder waits for the end of her
    # quiet hours (08:00 hers, 14:00 Berlin) instead of reaching her at dawn.
    waiting = await demo.feed("/time +90m")
    assert "It is now Wed 25 Nov 2026 13:30 (Europe/Berlin)" in waiting
    assert "→ DM to Grace" not in waiting
    nudged = await demo.feed("/time +1h")
    assert "⏱ Wed 25 Nov 2026 14:00 (Europe/Berlin)" in nudged
    assert "→ DM to Grace: A gentle reminder: @Ada is still waiting" in nudged
    assert "Accept  (accept 1)" in nudged

    released = await demo.feed("/time +1d")
    assert clock.now() - datetime(2026, 11, 23, 12, tzinfo=clock.now().tzinfo) > timedelta(
        hours=72
    )
    assert "→ DM to Ada: @Grace hasn't answered request #1" in released
    assert "released it" in released
    late = await demo.feed("/as Grace")
    accept = await demo.feed("accept 1")
    assert "already" in accept, late


async def test_form_cancel_required_and_limits(demo: ConsoleSession) -> None:
    found = await demo.feed("find python")
    await demo.feed(number_for(found, "request Grace"))
    assert demo.in_form and demo.prompt() == "  Topic > "
    out = await demo.feed("")
    assert "Topic is required" in out
    await demo.feed("python")
    short = await demo.feed("too short")
    assert "at least 20" in short
    out = await demo.feed("/cancel")
    assert "cancelled" in out and not demo.in_form
    assert demo.messenger.sent == []
    assert "#1" not in await demo.feed("my")


async def test_unknown_console_command_and_help(demo: ConsoleSession) -> None:
    out = await demo.feed("/frobnicate")
    assert "Unknown console command /frobnicate" in out and "/help" in out
    out = await demo.feed("/find python")
    assert "type `find python`" in out
    assert "/as <name>" in await demo.feed("/help")
    core_help = await demo.feed("help")
    assert "find <topic>" in core_help
    assert "There is no choice [99]" in await demo.feed("99")
    bad = await demo.feed("/time -3d")
    assert "/time:" in bad
    assert "Bye" in await demo.feed("/quit") and demo.finished


async def test_plain_console_as_creates_people(sqlite_url: str, clock: ManualClock) -> None:
    async with open_console(sqlite_url, clock) as session:
        assert session.speaker is None
        assert "/as" in await session.feed("help")
        out = await session.feed("/as Ada")
        assert "You are now Ada" in out and session.speaker is not None
        assert session.speaker.user_id == "console-ada"
        out = await session.feed("tz Europe/Berlin")
        assert "Europe/Berlin" in session.prompt(), out
        assert "you are Ada (Europe/Berlin)" in session.prompt()


async def test_reopen_keeps_demo_and_fresh_file_reseeds(
    sqlite_url: str, clock: ManualClock
) -> None:
    async with open_console(sqlite_url, clock, seed=True) as s:
        await request_grace(s)
    async with open_console(sqlite_url, clock, seed=True) as s:
        mine = await s.feed("my")
        assert "#1" in mine
        profile = await s.feed("profile Linus")
        assert "linux" in profile


async def test_messenger_port_contract() -> None:
    messenger = ConsoleMessenger()
    ada = MemberAddress("console-ada", "Ada", "Europe/Berlin")
    bob = MemberAddress("console-bob", "Bob")
    msg = MessageBuilder().say("hi").build()
    first = await messenger.send("demo", DirectMessage(ada), msg, "k1")
    again = await messenger.send("demo", DirectMessage(ada), msg, "k1")
    assert first == again and len(messenger.sent) == 1
    assert await messenger.find_sent("demo", DirectMessage(ada), "k1") == first
    assert await messenger.find_sent("demo", DirectMessage(ada), "k2") is None
    assert await messenger.find_sent("demo", DirectMessage(bob), "k1") is None
    space = await messenger.open_space("demo", "intro-1", [ada, bob], "Ada & Bob", None)
    assert await messenger.open_space("demo", "intro-1", [bob, ada], "again", None) == space
    assert await messenger.open_space("demo", "intro-2", [ada, bob], "Ada & Bob", None) != space
    messenger.refuse_dms("console-bob")
    with pytest.raises(RecipientUnreachable):
        await messenger.send("demo", DirectMessage(bob), msg, "k3")


async def test_refused_dm_falls_back_to_the_intro_space(demo: ConsoleSession) -> None:
    await request_grace(demo)
    await demo.feed("/as Grace")
    demo.messenger.refuse_dms("console-ada")
    out = await demo.feed("accept 1")
    assert "→ DM to Ada" not in out
    assert "@Ada I tried to send you a private message" in out


def test_render_segments() -> None:
    book = ChoiceBook()
    at = datetime.fromisoformat("2026-11-23T12:00:00+00:00")
    msg = (
        MessageBuilder().strong("Hi").say(" ").mention(MemberAddress("u", "Ada"))
        .say(" at ").moment(at, "Asia/Tokyo").quote("<b>line1</b>\nline2")
        .choice("Accept", "accept 3").build()
    )
    text = render_message(msg, book, "u")
    assert "*Hi* @Ada at Mon 23 Nov 2026 21:00 JST" in text
    assert "    > <b>line1</b>\n    > line2" in text
    assert "[1] Accept  (accept 3)" in text
    shown = book.get(1)
    assert shown is not None and (shown.owner, shown.command) == ("u", "accept 3")


@pytest.mark.parametrize(("text", "minutes"), [("+3d", 3 * 24 * 60), ("+25h", 25 * 60),
                                               ("+90m", 90), ("+1w", 7 * 24 * 60),
                                               ("+1d 2h", 26 * 60)])
def test_time_jumps(text: str, minutes: int) -> None:
    assert parse_time_jump(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["", "-3d", "+0m", "3 days", "+3x"])
def test_bad_time_jumps(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time_jump(text)


def test_readme_commands_reference_is_current() -> None:
    """Features register verbs; the README's reference is generated from them."""

    from adapters.console.docs import commands_markdown, with_commands

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "`find <topic>`" in commands_markdown()
    assert with_commands(readme) == readme, (
        "README.md is out of date: run `python -m adapters.console.docs --write README.md`"
    )


async def test_one_long_time_jump_walks_the_ladder_in_order(demo: ConsoleSession) -> None:
    """`/time +4d` over a session shows every nudge at its own moment, none skipped as late."""
    await request_grace(demo)
    await demo.feed("/as Grace")
    await demo.feed("accept 1")
    await demo.feed("/as Ada")
    booked = await demo.feed("book Grace when: 2026-11-26 18:00 length: 30 topic: asyncio")
    assert "Session #1 proposed" in booked, booked
    await demo.feed("/as Grace")
    assert "Confirmed" in await demo.feed("confirm 1")
    await demo.feed("/as Ada")

    out = await demo.feed("/time +4d")
    stamps = re.findall(r"^⏱ (.+)$", out, re.M)
    assert stamps == [
        # Grace is asked how to meet when her quiet hours end (08:00 in New York).
        "Mon 23 Nov 2026 14:00 (Europe/Berlin)",
        "Tue 24 Nov 2026 18:00 (Europe/Berlin)",  # agenda asked again, 48 h before
        "Wed 25 Nov 2026 18:00 (Europe/Berlin)",  # mentor reminder, 24 h before
        "Thu 26 Nov 2026 17:00 (Europe/Berlin)",  # both, 1 h before
        "Thu 26 Nov 2026 18:30 (Europe/Berlin)",  # did it happen?
    ], out
    order = [out.index(s) for s in ("has no agenda yet", "→ DM to Grace: Reminder:",
                                    "→ DM to Ada: Soon:", "→ DM to Ada: Did your session #1")]
    assert order == sorted(order), out
    assert out.rstrip().endswith("It is now Fri 27 Nov 2026 13:00 (Europe/Berlin).")


async def test_the_prompt_follows_a_changed_community_default_zone(
    demo: ConsoleSession,
) -> None:
    await demo.feed("/as Kofi")
    out = await demo.feed("settings set default_timezone Asia/Kolkata")
    assert "default_timezone is now" in out
    await demo.feed("/as Newcomer")
    assert demo.prompt() == (
        "[Demo Community · you are Newcomer (Asia/Kolkata) · Mon 23 Nov 17:30] > "
    )


def readme_script(heading: str) -> list[str]:
    """What a reader types in the README's console block under ``heading``: the lines that are
    not the bot's output, without their trailing ``# comments``."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split(heading, 1)[1]
    block = section.split("```", 2)[1]
    typed = []
    for line in block.splitlines()[1:]:
        if not line.strip() or line[0] in " →⏱[":
            continue
        typed.append(re.split(r"\s{2,}# ", line, maxsplit=1)[0].strip())
    return typed


async def test_the_readmes_mentorship_over_two_months_runs_as_written(
    demo: ConsoleSession,
) -> None:
    await request_grace(demo)
    await demo.feed("/as Grace")
    assert "Accepted" in await demo.feed("accept 1")
    script = readme_script("### A mentorship over two months")
    assert len(script) > 15 and "mentorship end 1 Thank you, I reached what I wanted" in script
    out = ""
    for line in script:
        out = await demo.feed(line)
        assert "Sorry, something went wrong" not in out, (line, out)
        assert "I don't know the command" not in out, (line, out)
        assert "Nothing was changed" not in out, (line, out)
    assert "Mentorships: active 0, paused 0, ended 1; 1 with agreed goals" in out
