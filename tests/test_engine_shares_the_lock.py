"""The nudge engine and the commands share SQLite's one write lock fairly.

A backlog is claimed and rendered a chunk at a time, each chunk in its own short transaction
(the first of a process holds ``FIRST_CHUNK``), so a person's command waits for one chunk at
most, never for a whole batch; and what the command queues goes out with the batch under way.
Real core, real engine, real SQLite; the platform is the recording port.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.bootstrap import build_core, build_engine
from bot.caller import Caller
from bot.clock import ManualClock
from bot.config import CommunityDefaults, NudgeSettings
from bot.domain import NewNudge
from bot.nudges.engine import FIRST_CHUNK, ORGANIZER_ALERT, idempotency_key
from bot.repositories import Store
from tests.recording_port import RecordingMessenger

pytestmark = pytest.mark.asyncio

COMMUNITY = "T0SHARE001"
ADA = Caller("test", COMMUNITY, "Share", "U0ADA00001", "Ada", "UTC")
BOB = Caller("test", COMMUNITY, "Share", "U0BOB00001", "Bob", "UTC")
BACKLOG = 300


async def test_a_command_waits_for_one_chunk_of_a_backlog_not_the_whole_batch(
    store: Store, clock: ManualClock,
) -> None:
    core = build_core(store, clock, CommunityDefaults())
    port = RecordingMessenger()
    engine = build_engine(store, port, clock, NudgeSettings(batch_size=500), CommunityDefaults())
    assert "mentor" in (await core.handle_text(
        ADA, "mentor set topics: python bio: hi availability: Tue 18:00-20:00")).plain_text()
    async with store.transaction() as tx:
        community = await tx.communities.get("test", COMMUNITY)
        assert community is not None
        await tx.nudges.add(
            [NewNudge(community.id, ORGANIZER_ALERT, clock.now() - timedelta(minutes=1),
                      channel="C0ORG", payload={"text": f"alert {i}"}) for i in range(BACKLOG)],
            clock.now(),
        )

    draining = asyncio.ensure_future(engine.run_due(max_batches=1))
    await asyncio.sleep(0)  # the engine starts on its first chunk and holds the write lock
    reply = await core.handle_text(
        BOB, "request Ada topic: python context: I want to learn asyncio, I tried the docs")
    # Answered while the batch was still being claimed: little of it is claimed, nothing
    # has gone out yet.
    assert "sent to" in reply.plain_text()
    assert port.deliveries == []
    async with store.reading() as tx:
        claimed = await tx.nudges.count(community.id, states=["sending"])
    assert 0 < claimed < BACKLOG / 2
    assert FIRST_CHUNK < BACKLOG / 4

    stats = await draining
    assert stats.sent == BACKLOG + 1  # the backlog, and Bob's request to Ada with it
    keys = port.keys()
    assert len(keys) == len(set(keys)) == BACKLOG + 1
    assert keys[-1] == idempotency_key(BACKLOG + 1)  # Bob's, claimed in a later chunk
