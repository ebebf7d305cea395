"""Journeys on Discord, through the real discord.py client against the stand-in Discord.

Alice (alice) mentors, Bob (bob) is looking for a mentor. They use slash commands, modals and
the buttons in their DMs; nudges are delivered by the real engine as the clock advances. "Now"
is Mon 23 Nov 2026 12:00 UTC.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from bot.clock import ManualClock
from tests.discord_harness import (
    Bot,
    button,
    buttons,
    discord_bot,
    introduce,
    shown,
)
from tests.standins.discord import ALICE_ID, APPLICATION_ID, BOB_ID, GUILD_ID, INTROS_ID

SESSION_AT = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # Wed 18:00 in Berlin, 12:00 in New York


@pytest.fixture
async def bot(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Bot]:
    async with discord_bot(tmp_path, clock) as running:
        yield running


async def test_a_member_finds_a_mentor_and_both_meet_in_one_private_thread(bot: Bot) -> None:
    sd = bot.sd
    # Alice becomes a mentor through the modal /mentor set opens.
    opened = await bot.slash("mentor set")
    assert (await opened.reply()).type == 9 and opened.modal is not None
    assert opened.modal["title"] == "Become a mentor"
    submitted = await sd.submit_modal(opened, {
        "Topics (comma separated)": "python, rust",
        "A short bio": "I build compilers and like teaching",
        "Weekly availability (your timezone)": "Mon-Fri 17:00-21:00",
    })
    said = await bot.seen(submitted, "asked only once")
    assert "You're now a mentor" in said and "Topics: python, rust" in said
    assert "One question, asked only once: what's your timezone?" in said, \
        "the question that came with the form is shown once the form is sent"

    # Bob finds her: the topic is completed as he types.
    typing = await sd.autocomplete("mentor find", {"topic": "py"}, focused="topic", user="bob")
    completed = await typing.reply()
    assert completed.type == 8 and completed.elapsed < 3.0
    assert completed.data["choices"] == [{"name": "python", "value": "python"}]
    found = await bot.say("mentor find", {"topic": "python"}, user="bob", expect="Alice")
    assert "Mentors for “python”" in found and "1. @Alice" in found

    # He asks her for an intro: her name is completed, topic and context go in a modal.
    typing = await sd.autocomplete("mentor request", {"mentor": "al"}, focused="mentor",
                                   user="bob")
    (alice,) = (await typing.reply()).data["choices"]
    assert alice == {"name": "Alice", "value": f"<member:{ALICE_ID}>"}
    asked = await bot.slash("mentor request", {"mentor": alice["value"]}, user="bob")
    assert (await asked.reply()).type == 9
    sent = await sd.submit_modal(asked, {
        "Topic": "python",
        "Context: what you want, what you tried": "I want to learn asyncio; I read the docs",
    })
    assert "Request #1 sent to @Alice" in await bot.seen(sent, "sent")

    # Alice accepts with the button in her DM; the message then shows what she chose.
    await bot.deliver()
    (request,) = [m for m in sd.dms_to("alice") if "asks you for an intro" in m.content]
    assert [b["label"] for b in buttons(request)][:2] == ["Accept", "Decline"]
    accepted = await bot.click(request, "Accept")
    assert "guild_id" not in accepted.payload, "a click in a DM carries no server"
    assert "Accepted!" in await bot.seen(accepted, "Accepted")
    (edit,) = accepted.replies
    assert edit.type == 7, "the clicked message itself is updated"
    after = sd.message(request.id)
    assert all(b["disabled"] for b in buttons(after))
    assert button(after, "Accept")["style"] == 3  # green: the one chosen
    assert shown(after.content).endswith("✅ You chose: **Accept**")
    with pytest.raises(ValueError, match="disabled"):
        await sd.click(request.id, button(after, "Decline")["custom_id"])

    # The private thread: opened once, in #intros, with both of them, who are both pinged.
    await bot.deliver()
    assert (await bot.deliver()).sent == 0
    (thread,) = sd.threads
    assert (thread.type, thread.invitable, thread.parent_id) == (12, False, INTROS_ID)
    assert thread.name == "Intro: Alice & Bob · intro-1"
    assert set(thread.members) == {APPLICATION_ID, ALICE_ID, BOB_ID}
    (hello,) = sd.messages_in(thread.id)
    assert hello.pinged_user_ids == {ALICE_ID, BOB_ID} and not hello.pings_everyone
    assert "I want to learn asyncio; I read the docs" in shown(hello.content)
    assert any("accepted your request #1" in shown(m.content) for m in sd.dms_to("bob"))
    again = await bot.adapter.messenger.open_space(GUILD_ID, "intro-1", (), "Intro", "intros")
    assert again == thread.id and len(sd.threads) == 1


async def test_a_session_is_booked_confirmed_reminded_and_followed_up(bot: Bot) -> None:
    sd = bot.sd
    await introduce(bot)
    booked = await bot.say("session book", {"other": "alice", "when": "2026-11-25 12:00"},
                           user="bob", expect="proposed")
    assert f"Session #1 proposed to @Alice for <t:{int(SESSION_AT.timestamp())}:F>" in booked

    await bot.deliver()
    proposal = sd.dms_to("alice")[-1]
    assert "proposes session #1" in proposal.content
    confirmed = await bot.click(proposal, "Confirm")
    assert "Confirmed: session #1 with @Bob" in await bot.seen(confirmed, "Confirmed")
    assert all(b["disabled"] for b in buttons(sd.message(proposal.id)))

    # Both get the invite as an .ics file, and times as Discord timestamps.
    await bot.deliver()
    for who in ("alice", "bob"):
        (invite,) = [m for m in sd.dms_to(who) if "is confirmed" in m.content]
        assert f"<t:{int(SESSION_AT.timestamp())}:F>" in invite.content
        (ics,) = invite.attachments
        assert ics.filename == "session-1.ics"
        event = next(iter(Calendar.from_ical(ics.data).walk("VEVENT")))
        assert event.decoded("DTSTART") == SESSION_AT

    # Reminders come before the session, then "Did it happen?" with buttons.
    seen = {who: len(sd.dms_to(who)) for who in ("alice", "bob")}
    await bot.walk_to(SESSION_AT + timedelta(hours=6))
    for who in ("alice", "bob"):
        later = [shown(m.content) for m in sd.dms_to(who)[seen[who]:]]
        assert any(text.startswith("Soon: session #1") for text in later), later
        assert any(text.startswith("Did your session #1") for text in later), later
    for who in ("bob", "alice"):
        question = sd.dms_to(who)[-1]
        met = await bot.click(question, "Met")
        assert "session #1 is recorded as held" in await bot.seen(met, "held")

    # Then the thank-you, a week later the check-in, a month later the follow-up.
    seen["bob"] = len(sd.dms_to("bob"))
    await bot.advance(timedelta(days=40))
    afterwards = [(shown(m.content), [b["label"] for b in buttons(m)])
                  for m in sd.dms_to("bob")[seen["bob"]:]]
    expected = [
        ["Send a thank-you", "Rate the session"],
        ["Reply to Alice", "Remind me in 2 weeks"],
        ["Book the next session", "Tell Alice"],
    ]
    labels = [labels for _text, labels in afterwards if labels in expected]
    assert labels == expected, afterwards
    assert any(text.startswith("Glad your session with @Alice happened!")
               for text, _labels in afterwards)
    # Sent once each: nothing more comes when the engine runs again.
    assert (await bot.deliver()).sent == 0
