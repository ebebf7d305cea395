"""Nudges delivered on Discord: exactly once, within Discord's limits, pinging only whom the
core means to ping.

The real nudge engine sends through the adapter's messenger (the real discord.py client) to the
stand-in Discord, which answers 429s and 50007s when told to and records every request.
"""

from __future__ import annotations

import logging
import re
import socket
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.discord.limits import SAFE_LIMIT
from adapters.discord.messenger import nonce_for, space_name
from bot.clock import ManualClock
from bot.domain import Worker
from bot.messages import MemberAddress, MessageBuilder
from bot.nudges.engine import idempotency_key
from bot.ports import DirectMessage, HoldScope, RateLimited
from storage import schema as t
from tests.discord_harness import (
    CONTEXT,
    MENTOR_PROFILE,
    Bot,
    db_url,
    discord_bot,
    introduce,
    running_bot,
    settings_for,
    shown,
)
from tests.standins.discord import (
    ALICE_ID,
    BOB_ID,
    GUILD_ID,
    OLIVIA_ID,
    ORGANIZERS_ROLE_ID,
    Fault,
    running_discord,
)

MESSAGES = "/channels/{channel_id}/messages"
THREADS = "/channels/{channel_id}/threads"


@pytest.fixture
async def bot(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Bot]:
    async with discord_bot(tmp_path, clock) as running:
        yield running


async def ask(bot: Bot, mentee: str = "bob", mentor: str = "alice",
              context: str = CONTEXT) -> None:
    """``mentor`` mentors python (once); ``mentee`` asks them for an intro (not delivered)."""
    mentor_id = bot.sd.user_id(mentor)
    await bot.say("mentor set", MENTOR_PROFILE, user=mentor, expect="mentor")
    await bot.say("mentor request", {"mentor": f"<member:{mentor_id}>", "topic": "python",
                                     "context": context}, user=mentee, expect="sent")


async def nudges(bot: Bot, kind: str) -> list[dict[str, Any]]:
    async with bot.app.store.reading() as tx:
        rows = await tx.conn.execute(  # type: ignore[attr-defined]
            select(t.nudges).where(t.nudges.c.kind == kind).order_by(t.nudges.c.id))
        return [dict(r._mapping) for r in rows]


def posts_to(bot: Bot, user: str) -> list[int]:
    channel = bot.sd.dm_channel_of(user)
    return [r.status for r in bot.sd.requests_to(MESSAGES, "POST")
            if r.params.get("channel_id") == channel]


# -- rate limits ---------------------------------------------------------------------------------


async def test_a_short_rate_limit_is_waited_out_and_the_dm_sent_once(bot: Bot) -> None:
    await ask(bot)
    bot.sd.inject(Fault.rate_limited(0.01), method="POST", route=MESSAGES)
    assert (await bot.deliver()).sent == 1
    assert posts_to(bot, "alice") == [429, 200], "discord.py waited and tried again"
    assert len(bot.sd.dms_to("alice")) == 1


async def test_a_long_rate_limit_holds_that_destination_and_not_the_others(bot: Bot) -> None:
    await ask(bot, "bob", "alice")
    await ask(bot, "carol", "olivia")
    bot.sd.inject(Fault.rate_limited(60.0), method="POST", route=MESSAGES)
    stats = await bot.deliver()
    assert (stats.sent, stats.retried) == (1, 1), "Olivia's DM went; Alice's waits"
    assert posts_to(bot, "alice") == [429] and len(bot.sd.dms_to("olivia")) == 1
    held = (await nudges(bot, "intro.request"))[0]
    assert held["state"] == "pending" and held["attempts"] == 0
    assert held["due_at"] == bot.clock.now() + timedelta(seconds=60)

    await bot.advance(timedelta(seconds=59))
    assert posts_to(bot, "alice") == [429], "nothing is tried before Discord's retry_after"
    await bot.advance(timedelta(seconds=1))
    assert posts_to(bot, "alice") == [429, 200] and len(bot.sd.dms_to("alice")) == 1


async def test_a_global_rate_limit_holds_everything(bot: Bot) -> None:
    await ask(bot, "bob", "alice")
    await ask(bot, "carol", "olivia")
    bot.sd.inject(Fault.rate_limited(45.0, global_=True), method="POST", route=MESSAGES)
    stats = await bot.deliver()
    assert (stats.sent, stats.retried) == (0, 2), "the second is not even tried"
    assert len(bot.sd.requests_to(MESSAGES, "POST")) == 1
    assert bot.app.engine.hold_until == bot.clock.now() + timedelta(seconds=45)
    await bot.advance(timedelta(seconds=45))
    assert len(bot.sd.dms_to("alice")) == len(bot.sd.dms_to("olivia")) == 1


# -- refused DMs ---------------------------------------------------------------------------------


async def test_closed_dms_fall_back_to_one_mention_in_the_intros_channel(
        bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    bot.sd.close_dms("bob")
    with caplog.at_level(logging.WARNING, logger="adapters.discord.limits"):
        await introduce(bot)  # Alice accepts: Bob's "accepted" DM is refused
    assert posts_to(bot, "bob") == [403], "50007 is never retried"
    (mention,) = bot.sd.messages_in("intros")
    assert mention.pinged_user_ids == {BOB_ID} and not mention.pings_everyone
    assert shown(mention.content).startswith(
        f"<@{BOB_ID}> I tried to send you a private message but couldn't.")
    (accepted,) = await nudges(bot, "intro.accepted")
    assert accepted["state"] == "sent" and accepted["delivered_via"] == "channel"
    assert "private message refused" in accepted["outcome"]
    assert (await bot.deliver()).handled == 0 and len(bot.sd.messages_in("intros")) == 1
    assert bot.adapter.watch.total == 1
    assert any("Discord answered 403" in r.getMessage() for r in caplog.records)


async def test_a_private_request_to_closed_dms_fails_once_and_organizers_are_told(
        tmp_path: Path, clock: ManualClock) -> None:
    async with discord_bot(tmp_path, clock, organizer_channel="general") as bot:
        bot.sd.close_dms("alice")
        await ask(bot)
        assert (await bot.deliver()).failed == 1
        (request,) = await nudges(bot, "intro.request")
        assert request["state"] == "failed" and "50007" in request["outcome"]
        assert bot.sd.messages_in("intros") == [], "a request is never mentioned in public"
        await bot.deliver()
        (alert,) = bot.sd.messages_in("general")
        assert "could not be delivered" in shown(alert.content)
        assert (await bot.deliver()).handled == 0 and posts_to(bot, "alice") == [403]


# -- what user text can do (nothing) -------------------------------------------------------------

TRAP = (f"Hi @everyone and @here <@&{ORGANIZERS_ROLE_ID}> <@{OLIVIA_ID}>! See "
        "[my notes](https://evil.example/a) or https://evil.example/b **now**")


async def test_user_text_pings_nobody_and_links_nowhere(bot: Bot) -> None:
    await ask(bot, context=TRAP)
    await bot.deliver()
    (request,) = bot.sd.dms_to("alice")
    assert request.allowed_mentions == {"parse": [], "users": []}
    assert not request.pings_everyone
    assert request.pinged_user_ids == set() and request.pinged_role_ids == set()
    assert re.search(r"(?<!\\)<", request.content) is None, "no mention or link markup"
    assert re.search(r"(?<!\\)://", request.content) is None, "no link at all"
    assert TRAP in shown(request.content), "shown exactly as typed"

    await bot.seen(await bot.click(request, "Accept"), "Accepted")
    await bot.deliver()
    (thread,) = bot.sd.threads
    (hello,) = bot.sd.messages_in(thread.id)
    assert hello.allowed_mentions == {"parse": [], "users": [int(ALICE_ID), int(BOB_ID)]}
    assert hello.pinged_user_ids == {ALICE_ID, BOB_ID}, "only the two it introduces"
    assert hello.pinged_role_ids == set() and not hello.pings_everyone

    handle = await bot.slash("mentor find", {"topic": "@everyone <@&1> [x](https://e.x)"},
                             user="bob")
    reply = await handle.reply()
    assert reply.data["allowed_mentions"] == {"parse": [], "users": []}
    assert re.search(r"(?<!\\)(<|://)", reply.data["content"]) is None


# -- exactly once ----------------------------------------------------------------------------------


def _dead_worker(bot: Bot) -> Worker:
    child = subprocess.Popen(["true"])
    child.wait()  # this pid ran and is gone: its claims are taken over at once
    now = bot.clock.now()
    host = socket.gethostname()
    return Worker(f"{host}:{child.pid}:gone", "discord", host, child.pid, now, now)


async def _claimed_by_a_dead_worker(bot: Bot) -> int:
    dead = _dead_worker(bot)
    async with bot.app.store.transaction() as tx:
        await tx.workers.register(dead)
        (claimed,) = await tx.nudges.claim_due(bot.clock.now(), 10, "dead-token",
                                               worker=dead.id, platform="discord")
    assert claimed.kind == "intro.request"
    return claimed.id


@pytest.mark.parametrize("sent_before_the_kill", [True, False], ids=["sent", "not-sent"])
async def test_a_kill_between_send_and_record_is_resolved_exactly_once(
        bot: Bot, sent_before_the_kill: bool) -> None:
    await ask(bot)
    nudge_id = await _claimed_by_a_dead_worker(bot)
    if sent_before_the_kill:  # the dead process got its message out, then died
        await bot.adapter.messenger.send(
            GUILD_ID, DirectMessage(MemberAddress(ALICE_ID, "Alice")),
            MessageBuilder().say("Bob asks you for an intro").build(), idempotency_key(nudge_id))
    stats = await bot.app.engine.recover()
    assert (stats.recovered, stats.sent) == (1, 1)
    assert len(bot.sd.dms_to("alice")) == 1
    (row,) = await nudges(bot, "intro.request")
    assert row["state"] == "sent"
    found = "found already delivered" in (row["outcome"] or "")
    assert found is sent_before_the_kill
    assert (await bot.app.engine.recover()).handled == 0 and (await bot.deliver()).sent == 0
    assert len(bot.sd.dms_to("alice")) == 1


async def test_a_quick_resend_with_the_same_key_is_the_same_message(bot: Bot) -> None:
    to_alice = DirectMessage(MemberAddress(ALICE_ID, "Alice"))
    message = MessageBuilder().say("Your session starts soon").build()
    first = await bot.adapter.messenger.send(GUILD_ID, to_alice, message, "mentorbot-nudge-7")
    again = await bot.adapter.messenger.send(GUILD_ID, to_alice, message, "mentorbot-nudge-7")
    assert first == again and len(bot.sd.dms_to("alice")) == 1
    posts = bot.sd.requests_to(MESSAGES, "POST")
    assert [(p.body["nonce"], p.body["enforce_nonce"]) for p in posts] == [
        (nonce_for("mentorbot-nudge-7", 0), True)] * 2
    assert len(nonce_for("mentorbot-nudge-123456789-fb", 3)) <= 25
    (dm,) = bot.sd.dms_to("alice")
    assert [e["footer"]["text"] for e in dm.embeds] == ["mentorbot-nudge-7"], \
        "the key history shows, for find_sent"


# -- private threads -------------------------------------------------------------------------------


async def test_the_intro_thread_is_found_again_after_a_restart(tmp_path: Path,
                                                               clock: ManualClock) -> None:
    async with running_discord(point_discord_py=False) as sd:
        settings = settings_for(sd, db_url(tmp_path))
        async with running_bot(sd, settings, clock) as before:
            await introduce(before)
        (thread,) = sd.threads
        async with running_bot(sd, settings, clock) as after:  # threads come with the server
            members = (MemberAddress(ALICE_ID, "Alice"), MemberAddress(BOB_ID, "Bob"))
            ref = await after.adapter.messenger.open_space(
                GUILD_ID, "intro-1", members, "Intro: Alice & Bob", "intros")
        assert ref == thread.id and len(sd.threads) == 1
        assert len(sd.requests_to(THREADS, "POST")) == 1


async def test_a_missing_intros_channel_fails_once_and_organizers_are_told(
        tmp_path: Path, clock: ManualClock) -> None:
    async with discord_bot(tmp_path, clock, intros_channel="nowhere",
                           organizer_channel="general") as bot:
        await introduce(bot)
        (space,) = await nudges(bot, "intro.space")
        assert space["state"] == "failed" and "no text channel “nowhere”" in space["outcome"]
        assert bot.sd.threads == []
        await bot.deliver()
        (alert,) = bot.sd.messages_in("general")
        assert "could not be delivered" in shown(alert.content)
        assert "no text channel “nowhere”" in shown(alert.content)
        assert (await bot.deliver()).handled == 0


def test_thread_names_fit_discord_and_end_with_their_key() -> None:
    name = space_name("Intro: " + "A very long display name " * 8, "intro-123456")
    assert len(name) <= 100 and name.endswith(" · intro-123456")


async def test_sending_pauses_long_before_discord_would_ban_the_ip(bot: Bot) -> None:
    watch = bot.adapter.watch
    for _ in range(SAFE_LIMIT - 1):
        watch.note(403, None, "POST", "https://discord.test/api/v10/channels/1/messages")
    watch.note(429, "shared", "POST", "https://discord.test/api/v10/channels/1/messages")
    assert watch.recent() == SAFE_LIMIT - 1, "shared 429s are not counted by Discord"
    to_alice = DirectMessage(MemberAddress(ALICE_ID, "Alice"))
    message = MessageBuilder().say("Hello").build()
    await bot.adapter.messenger.send(GUILD_ID, to_alice, message, "mentorbot-nudge-1")
    watch.note(401, None, "GET", "https://discord.test/api/v10/users/@me")
    with pytest.raises(RateLimited) as paused:
        await bot.adapter.messenger.send(GUILD_ID, to_alice, message, "mentorbot-nudge-2")
    assert paused.value.scope is HoldScope.EVERYTHING and paused.value.retry_after >= 60
    assert len(bot.sd.requests_to(MESSAGES, "POST")) == 1, "nothing more reached Discord"
