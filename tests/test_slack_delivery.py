"""Nudges on Slack: exactly once, at Slack's pace, with Slack's errors understood.

A "dead process" here is a real nudge engine with the identity of a process that no longer
runs: it claims nudges and is cancelled mid-send (from inside the stand-in, at the exact call
where a kill would hurt most), leaving them ``sending``. The live bot's ``engine.recover()``
then resolves them through the real Slack adapter.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.messenger import tagged_filename
from bot.clock import ManualClock
from bot.messages import MemberAddress, MessageBuilder
from bot.nudges.engine import NudgeEngine
from bot.nudges.workers import Identity
from bot.ports import (
    ChannelPost,
    DirectMessage,
    HoldScope,
    PermanentFailure,
    RateLimited,
    RecipientUnreachable,
    TemporaryFailure,
)
from tests.slack_harness import START, SlackWorld, buttons, shared_slack, shown, slack_world, texts
from tests.standins.slack import ALICE, BOB, CAROL, HELPER_BOT, RANDOM, TEAM_ID

REQUEST = ("request <@U0ALICE001|alice> topic: python context: I'm learning asyncio and got "
           "stuck on task groups; I tried the docs already.")


async def introduce(world: SlackWorld) -> None:
    """Alice mentors Python; Bob's request to her is waiting to be delivered."""
    assert "now a mentor" in await world.say(
        "mentor set topics: python bio: hi availability: Tue 18:00-20:00", user=ALICE)
    assert "Request #1 sent" in await world.say(REQUEST, user=BOB)


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


async def dead_engine(world: SlackWorld) -> NudgeEngine:
    """An engine whose process is gone as soon as it stops (its pid runs nothing)."""
    pid = dead_pid()
    host = socket.gethostname()
    app = world.app
    engine = NudgeEngine(
        app.store, world.adapter.messenger, world.clock, app.settings.nudges,
        app.settings.community, app.registry.nudges,
        identity=Identity(f"{host}:{pid}:dead", "slack", host, pid), platform="slack",
    )
    await engine.register()
    return engine


async def killed_at(world: SlackWorld, engine: NudgeEngine, method: str,
                    when: Any) -> None:
    """Runs ``engine`` until it calls ``method`` with arguments matching ``when``; the call
    fails and the engine is cancelled right there, as a kill -9 would stop it."""
    task = asyncio.create_task(engine.run_due())

    def kill(args: Mapping[str, Any]) -> bool:
        if when(args):
            task.cancel()
            return True
        return False

    world.slack.server_error_next(method, when=kill)
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_kill_between_upload_and_post_is_resolved_exactly_once(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as world:
        await introduce(world)
        await world.deliver_due()
        assert "Accepted" in await world.say("accept 1", user=ALICE)
        await world.deliver_due()
        assert "proposed" in await world.say("book <@U0ALICE001> when: Tue 12:00 length: 30",
                                             user=BOB)
        await world.deliver_due()
        assert "Confirmed" in await world.say("confirm 1", user=ALICE)
        # The dead process uploads Alice's invite, and dies posting the message that goes
        # with it; Bob's confirmation is still untouched in its claimed batch.
        engine = await dead_engine(world)
        alice_dm = world.slack.dm_channel_of(ALICE)
        await killed_at(world, engine, "chat.postMessage",
                        lambda args: args.get("channel") == alice_dm)
        assert [u.channel_id for u in world.slack.uploads] == [alice_dm]
        assert not any("is confirmed" in t for t in texts(world.dms(ALICE)))

        world.clock.advance(timedelta(seconds=10))  # the restart takes a moment
        stats = await world.app.engine.recover()
        assert stats.recovered == 2 and stats.sent == 2
        for user in (ALICE, BOB):
            dm = world.dms(user)
            assert sum(1 for m in dm if m.files) == 1, user  # one invite each
            [confirmed] = [m for m in dm if "is confirmed" in m.text]
            assert confirmed.metadata and confirmed.metadata["event_type"] == "mentorbot_nudge"
            assert dm.index(confirmed) > next(i for i, m in enumerate(dm) if m.files)
        assert len(world.slack.uploads) == 2  # Alice's file was found, not uploaded again
        assert world.slack.uploads[0].filename.endswith(".ics")
        assert (await world.app.engine.recover()).handled == 0
        await world.deliver_due()
        assert sum(1 for m in world.dms(ALICE) if "is confirmed" in m.text) == 1


async def test_the_group_dm_is_opened_once_even_after_a_restart(tmp_path: Path) -> None:
    clock = ManualClock(START)
    async with shared_slack(clock) as slack:
        async with slack_world(tmp_path, standin=slack, clock=clock) as world:
            await introduce(world)
            await world.deliver_due()
            assert "Accepted" in await world.say("accept 1", user=ALICE)
            # The dead process opens the group DM and dies posting the introduction in it.
            engine = await dead_engine(world)
            await killed_at(world, engine, "chat.postMessage",
                            lambda args: str(args.get("channel", "")).startswith("G"))
            space = world.slack.group_dm_of([ALICE, BOB])
            assert space is not None and world.slack.messages_in(space) == []

        # The bot restarts on the same database and resolves what the dead process left.
        async with slack_world(tmp_path, standin=slack, clock=clock) as world:
            stats = await world.app.engine.recover()
            assert stats.recovered >= 1
            await world.deliver_due()
            assert world.slack.group_dm_of([ALICE, BOB]) == space
            [intro] = texts(world.slack.messages_in(space))
            assert "meet" in intro
            # Opening it again (a retry that lost the ref) finds the same conversation.
            people = [MemberAddress(ALICE, "Alice"), MemberAddress(BOB, "bob.b")]
            again = await world.adapter.messenger.open_space(TEAM_ID, "intro-1", people,
                                                             "Alice & Bob", None)
            assert again == space
            opened = [c for c in world.slack.calls("conversations.open")
                      if "," in str(c.args.get("users", ""))]
            assert [c.answer["channel"]["id"] for c in opened] == [space, space]
            assert opened[-1].answer.get("already_open") is True


async def test_a_429_holds_the_nudge_and_loses_nothing(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as world:
        await introduce(world)
        limited = world.slack.rate_limit_next("chat.postMessage", retry_after=7)
        await world.deliver_due()
        assert limited.hits == 1
        assert world.dms(ALICE) == []
        assert len(world.slack.calls("chat.postMessage")) == 1  # no automatic retry

        await world.advance(timedelta(seconds=3))
        assert world.dms(ALICE) == []  # Retry-After is honoured
        await world.advance(timedelta(seconds=5))
        [request] = world.dms(ALICE)
        assert "asks you for an intro" in shown({"blocks": request.blocks})
        assert list(buttons(request))[:2] == ["Accept", "Decline"]


async def test_slack_errors_become_the_engines_delivery_errors(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as world:
        messenger = world.adapter.slack_messenger
        hello = MessageBuilder().say("hello").build()
        bot = DirectMessage(MemberAddress(HELPER_BOT, "Helper", "UTC"))
        with pytest.raises(RecipientUnreachable, match="cannot_dm_bot"):
            await messenger.send(TEAM_ID, bot, hello, "k1")
        with pytest.raises(PermanentFailure, match="not_in_channel"):
            await messenger.send(TEAM_ID, ChannelPost(RANDOM), hello, "k2")
        alice = DirectMessage(MemberAddress(ALICE, "Alice", "UTC"))
        world.slack.server_error_next("chat.postMessage", status=503)
        with pytest.raises(TemporaryFailure):
            await messenger.send(TEAM_ID, alice, hello, "k3")
        world.slack.fail_next("chat.postMessage", "account_inactive")
        with pytest.raises(RecipientUnreachable):
            await messenger.send(TEAM_ID, alice, hello, "k4")
        world.slack.rate_limit_next("conversations.history", retry_after=30)
        with pytest.raises(RateLimited) as limited:
            await messenger.find_sent(TEAM_ID, alice, "k5")
        assert limited.value.retry_after == 30 and limited.value.scope is HoldScope.COMMUNITY
        assert world.dms(ALICE) == []

        sent = await messenger.send(TEAM_ID, alice, hello, "k6")
        assert await messenger.find_sent(TEAM_ID, alice, "k6") == sent
        assert await messenger.find_sent(TEAM_ID, alice, "k7") is None


async def test_an_unreachable_member_is_never_retried_and_organizers_hear(
    tmp_path: Path,
) -> None:
    async with slack_world(tmp_path) as world:
        await introduce(world)
        assert "organizer_channel" in await world.say(
            "settings set organizer_channel <#C0MENTORS1|mentors>", user=CAROL)
        world.slack.fail_next("conversations.open", "user_disabled")
        await world.deliver_due()
        assert len([c for c in world.slack.calls("conversations.open")
                    if c.args.get("users") == ALICE]) == 1
        await world.advance(timedelta(hours=2))
        alerts = texts(world.slack.messages_in("C0MENTORS1"))
        assert any("could not be delivered" in a and "user_disabled" in a for a in alerts)


async def test_messages_are_paced_per_channel_without_waiting(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as world:
        messenger = world.adapter.slack_messenger
        alice = DirectMessage(MemberAddress(ALICE, "Alice", "UTC"))
        bob = DirectMessage(MemberAddress(BOB, "Bob", "UTC"))
        for i in range(4):  # a short burst goes out at once
            await messenger.send(TEAM_ID, alice, MessageBuilder().say(f"{i}").build(), f"a{i}")
        with pytest.raises(RateLimited) as paced:
            await messenger.send(TEAM_ID, alice, MessageBuilder().say("5").build(), "a5")
        assert paced.value.scope is HoldScope.DESTINATION and paced.value.retry_after <= 1
        await messenger.send(TEAM_ID, bob, MessageBuilder().say("other").build(), "b1")
        world.clock.advance(timedelta(seconds=1))
        await messenger.send(TEAM_ID, alice, MessageBuilder().say("5").build(), "a5")
        assert texts(world.dms(ALICE)) == ["0", "1", "2", "3", "5"]


def test_an_invite_file_name_carries_a_tag_of_its_key() -> None:
    assert tagged_filename("session-12.ics", None) == "session-12.ics"
    tagged = tagged_filename("session-12.ics", "mentorbot-nudge-57")
    assert tagged.startswith("session-12-") and tagged.endswith(".ics")
    assert tagged == tagged_filename("session-12.ics", "mentorbot-nudge-57")
    assert tagged != tagged_filename("session-12.ics", "mentorbot-nudge-58")
