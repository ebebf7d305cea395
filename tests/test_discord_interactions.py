"""Interactions on Discord: always answered in time, once; buttons that survive restarts and
gateway drops; forms that keep what was typed.

Everything goes through the real discord.py client against the stand-in Discord, which refuses
a second response (40060) and a first one after 3 seconds (10062): the tests check that no
answer ever got either.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.clock import ManualClock
from tests.discord_harness import (
    CONTEXT,
    MENTOR_PROFILE,
    SAFETY,
    Bot,
    button,
    buttons,
    db_url,
    discord_bot,
    running_bot,
    settings_for,
    shown,
)
from tests.standins.discord import (
    ALICE_ID,
    GUILD_ID,
    InteractionHandle,
    running_discord,
)

PUT_COMMANDS = "/applications/{application_id}/guilds/{guild_id}/commands"


@pytest.fixture
async def bot(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Bot]:
    async with discord_bot(tmp_path, clock) as running:
        yield running


def answered_once_in_time(handle: InteractionHandle) -> None:
    (first, *others) = handle.replies
    assert first.accepted and first.elapsed < 3.0, first
    assert others == [], "one response per interaction (a second one is 40060)"


async def request_alice(bot: Bot) -> None:
    await bot.say("mentor set", MENTOR_PROFILE, expect="You're now a mentor")
    await bot.say("mentor request", {"mentor": f"<member:{ALICE_ID}>", "topic": "python",
                                     "context": CONTEXT}, user="bob", expect="sent")
    await bot.deliver()


async def test_a_slow_answer_is_deferred_then_followed_up(tmp_path: Path,
                                                          clock: ManualClock) -> None:
    async with discord_bot(tmp_path, clock, budget=0.05) as bot:
        await request_alice(bot)
        async with bot.app.store.transaction() as tx:  # another writer holds the database
            await tx.communities.get("discord", GUILD_ID)
            handle = await bot.sd.slash("mentor tz", {"zone": "Europe/Berlin"})
            first = await handle.reply(timeout=SAFETY)
            assert (first.type, first.ephemeral) == (5, True), "“thinking…”, only for alice"
            request = bot.sd.dms_to("alice")[-1]
            click = await bot.sd.click(request.id, button(request, "Accept")["custom_id"])
            assert (await click.reply(timeout=SAFETY)).type == 6, "a click is deferred silently"
        said = await bot.seen(handle, "Europe/Berlin")
        assert said.startswith("Your timezone is now Europe/Berlin.")
        assert "Accepted!" in await bot.seen(click, "Accepted")
        await bot.sd.wait_until(lambda: bool(bot.sd.message(request.id).edited), SAFETY)
        assert all(b["disabled"] for b in buttons(bot.sd.message(request.id)))
        for done in (handle, click):
            answered_once_in_time(done)


async def test_a_refused_form_reopens_with_what_was_typed_and_the_error_under_it(
        bot: Bot) -> None:
    sd = bot.sd
    opened = await bot.slash("mentor set")
    typed = {"Topics (comma separated)": "python, rust",
             "A short bio": "I build compilers and like teaching",
             "Weekly availability (your timezone)": "Mon-Fri 17:00-21:00",
             "Max active mentees": "99"}
    refused = await sd.submit_modal(opened, typed)
    said = await bot.seen(refused, "mentees")
    assert said.startswith("The number of mentees must be a whole number from 1 to 20")
    reply = await refused.reply()
    assert reply.ephemeral and "You're now a mentor" not in said
    assert refused.original is not None
    again = await sd.click(refused.original.id,
                           button(reply.data, "Fix and send again")["custom_id"])
    assert (await again.reply(timeout=SAFETY)).type == 9
    modal = again.modal
    assert modal is not None
    fields = {c["component"]["custom_id"]: c for c in modal["components"]}
    assert fields["topics"]["component"]["value"] == "python, rust"
    assert fields["bio"]["component"]["value"] == "I build compilers and like teaching"
    assert fields["mentees"]["component"]["value"] == "99"
    assert fields["mentees"]["description"].startswith("⚠ The number of mentees must be")
    assert "description" not in fields["topics"], "the error sits under its own field"

    fixed = await sd.submit_modal(again, {**typed, "Max active mentees": "3"})
    assert "You're now a mentor" in await bot.seen(fixed, "mentor")
    for handle in (opened, refused, again, fixed):
        answered_once_in_time(handle)


async def test_a_form_opened_before_a_restart_can_still_be_fixed_and_sent_again(
        tmp_path: Path, clock: ManualClock) -> None:
    """The process that opened the modal is gone: the one that gets the refused submit
    rebuilds the form from its id, keeps what was typed and shows the error under its field."""
    async with running_discord(point_discord_py=False) as sd:
        settings = settings_for(sd, db_url(tmp_path))
        async with running_bot(sd, settings, clock) as before:
            opened = await before.slash("mentor set")
            assert (await opened.reply(timeout=SAFETY)).type == 9
        async with running_bot(sd, settings, clock) as after:  # a new process, same database
            typed = {"Topics (comma separated)": "python, rust",
                     "A short bio": "I build compilers and like teaching",
                     "Weekly availability (your timezone)": "whenever I can"}
            refused = await sd.submit_modal(opened, typed)
            said = await after.seen(refused, "availability")
            reply = await refused.reply()
            assert refused.original is not None and "Open the form again" not in str(reply.data)
            again = await sd.click(refused.original.id,
                                   button(reply.data, "Fix and send again")["custom_id"])
            assert (await again.reply(timeout=SAFETY)).type == 9
            assert again.modal is not None
            fields = {c["component"]["custom_id"]: c for c in again.modal["components"]}
            assert fields["topics"]["component"]["value"] == "python, rust"
            assert fields["availability"]["component"]["value"] == "whenever I can"
            assert fields["availability"]["description"].startswith("⚠ " + said[:20])
            assert "description" not in fields["topics"], "the error sits under its own field"
            fixed = await sd.submit_modal(
                again, {**typed, "Weekly availability (your timezone)": "Tue 18:00-20:00"})
            assert "You're now a mentor" in await after.seen(fixed, "mentor")
            for handle in (refused, again, fixed):
                answered_once_in_time(handle)


async def test_a_click_that_asks_for_a_form_opens_it(bot: Bot) -> None:
    await request_alice(bot)
    request = bot.sd.dms_to("alice")[-1]
    asking = await bot.click(request, "Ask for more info")
    assert (await asking.reply()).type == 9, "the modal opens as the first response"
    assert not any(b.get("disabled") for b in buttons(bot.sd.message(request.id)))
    asked = await bot.sd.submit_modal(asking, {"Your question": "Which Python version?"})
    assert "Your question was sent to @Bob" in await bot.seen(asked, "sent")
    await bot.deliver()
    assert "Which Python version?" in shown(bot.sd.dms_to("bob")[-1].content)


async def test_a_refused_click_leaves_the_buttons_as_they_were(bot: Bot) -> None:
    await request_alice(bot)
    await bot.say("mentor withdraw", {"request": 1}, user="bob", expect="#1")
    request = bot.sd.dms_to("alice")[-1]
    click = await bot.click(request, "Accept")
    reply = await click.reply()
    assert (reply.type, reply.ephemeral) == (4, True)
    assert "withdrawn" in shown(reply.data["content"]).lower()
    assert not any(b.get("disabled") for b in buttons(bot.sd.message(request.id)))


async def test_a_button_from_before_a_restart_still_works(tmp_path: Path,
                                                          clock: ManualClock) -> None:
    async with running_discord(point_discord_py=False) as sd:
        settings = settings_for(sd, db_url(tmp_path))
        async with running_bot(sd, settings, clock) as before:
            await request_alice(before)
        request = sd.dms_to("alice")[-1]
        async with running_bot(sd, settings, clock) as after:  # a new process, same database
            click = await after.click(request, "Accept")
            assert "Accepted!" in await after.seen(click, "Accepted")
            assert all(b["disabled"] for b in buttons(sd.message(request.id)))
            answered_once_in_time(click)


async def test_buttons_that_are_not_the_bots_are_answered_not_failed(bot: Bot) -> None:
    alice = await bot.adapter.client.fetch_user(int(ALICE_ID))
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label="Old", custom_id="v1:accept:7"))
    view.add_item(discord.ui.Button(label="Elsewhere", custom_id="mb:zz:accept 7"))
    view.stop()
    old = await alice.send("From an older version of the bot", view=view)
    for label, says in (("Old", "isn't one of mine"), ("Elsewhere", "another community")):
        click = await bot.click(bot.sd.message(str(old.id)), label)
        reply = await click.reply()
        assert reply.type == 4 and says in shown(reply.data["content"])
        answered_once_in_time(click)


async def test_a_gateway_drop_and_resume_lose_and_double_nothing(bot: Bot) -> None:
    sd = bot.sd
    await request_alice(bot)
    resumed = asyncio.Event()
    bot.adapter.client.event(_setter("on_resumed", resumed))
    await sd.gateway.drop(code=4000)
    during = await sd.slash("mentor my", user="bob")  # waits in the session, replayed
    await asyncio.wait_for(resumed.wait(), SAFETY)
    assert "Requests you sent" in await bot.seen(during, "Requests you sent")
    answered_once_in_time(during)
    request = sd.dms_to("alice")[-1]
    assert "Accepted!" in await bot.seen(await bot.click(request, "Accept"), "Accepted")
    assert (await bot.deliver()).sent >= 2  # the thread and Bob's DM, at least
    assert (await bot.deliver()).sent == 0 and len(sd.threads) == 1
    contents = [m.content for user in ("alice", "bob") for m in sd.dms_to(user)]
    assert len(contents) == len(set(contents)), "nothing was sent twice"
    assert [len(sd.requests_to("/gateway/bot")), len(sd.gateway.received(op=2))] == [1, 1]
    assert len(sd.gateway.received(op=6)) == 1, "resumed, not identified again"
    (identify,) = sd.gateway.received(op=2)
    assert identify.d["intents"] == 1, "the guilds intent only: no members, no message content"


async def test_ready_again_after_an_invalid_session_starts_nothing_twice(bot: Bot) -> None:
    sd = bot.sd
    ready_again = asyncio.Event()
    bot.adapter.client.event(_setter("on_ready", ready_again))
    await sd.gateway.invalidate_session(resumable=False)
    await asyncio.wait_for(ready_again.wait(), SAFETY)
    assert len(sd.gateway.received(op=2)) == 2, "identified again"
    await request_alice(bot)
    assert len(sd.dms_to("alice")) == 1
    assert (await bot.deliver()).sent == 0
    assert len(sd.requests_to(PUT_COMMANDS, "PUT")) == 1, "commands are synced once, at start"
    handle = await bot.slash("mentor my", user="bob")
    answered_once_in_time(handle)


def _setter(name: str, event: asyncio.Event) -> Callable[[], Coroutine[Any, Any, None]]:
    async def handler() -> None:
        event.set()

    handler.__name__ = name
    return handler
