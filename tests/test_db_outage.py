"""The database goes away while the bot runs (PostgreSQL behind a relay the test cuts).

What must hold: a command during the outage changes nothing and tells the person to try again;
the nudge engine and its scheduler survive it without an exception escaping, and once the
database is back every nudge is delivered exactly once, including a batch that was being sent
at the moment the connection dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from bot.bootstrap import build_core, build_engine, open_store
from bot.caller import Caller
from bot.clock import ManualClock
from bot.config import CommunityDefaults, NudgeSettings, StorageSettings
from bot.core import BUSY, Mentorbot
from bot.domain import NewNudge
from bot.messages import Message
from bot.nudges.engine import ORGANIZER_ALERT, idempotency_key
from bot.nudges.scheduler import NudgeScheduler
from bot.ports import Delivered, Destination
from bot.repositories import Store
from storage import schema as t
from storage.db import SchemaTooNew, create_engine, migrate
from tests.db_proxy import CuttableProxy
from tests.recording_port import RecordingMessenger


def caller(user_id: str, name: str) -> Caller:
    return Caller("test", "T0OUTAGE01", "Outage", user_id, name, "UTC")


ADA, BOB = caller("U0ADA00001", "Ada"), caller("U0BOB00001", "Bob")
REQUEST = "request Ada topic: python context: I want to learn asyncio and I tried the docs"
#: Commands of every shape: a view, a write, one with a date (read before the write), a search.
DURING = [(BOB, "my"), (BOB, REQUEST), (ADA, "mentor pause 2026-12-20"), (BOB, "find python")]


@dataclass
class Bot:
    proxy: CuttableProxy
    store: Store
    core: Mentorbot
    port: RecordingMessenger
    scheduler: NudgeScheduler
    clock: ManualClock


@pytest.fixture
async def bot(postgres_url: str, clock: ManualClock) -> AsyncIterator[Bot]:
    proxy = CuttableProxy()
    await proxy.start()
    store = await open_store(StorageSettings(url=proxy.url(postgres_url)))
    port = RecordingMessenger()
    engine = build_engine(store, port, clock, NudgeSettings(batch_size=10), CommunityDefaults())
    scheduler = NudgeScheduler(engine, 600)
    scheduler.scheduler.start(paused=True)  # jobs are run by the test, as APScheduler would
    await engine.register()
    core = build_core(store, clock, CommunityDefaults())
    assert "mentor" in (await core.handle_text(
        ADA, "mentor set topics: python bio: hi availability: Tue 18:00-20:00")).plain_text()
    try:
        yield Bot(proxy, store, core, port, scheduler, clock)
    finally:
        proxy.restore()
        await scheduler.stop()
        await store.close()
        await proxy.close()


async def requests_made(store: Store) -> int:
    async with store.reading() as tx:
        return int((await tx.conn.execute(  # type: ignore[attr-defined]
            select(func.count()).select_from(t.intro_requests))).scalar_one())


async def test_commands_during_an_outage_change_nothing_and_work_again_after(bot: Bot) -> None:
    bot.proxy.cut()
    for who, line in DURING:
        assert (await bot.core.handle_text(who, line)).refused, line
    bot.proxy.restore()
    assert await requests_made(bot.store) == 0  # nothing half-done survived the outage
    assert "Request #1 sent to @Ada" in (await bot.core.handle_text(BOB, REQUEST)).plain_text()
    assert "python" in (await bot.core.handle_text(BOB, "find python")).plain_text()


async def test_commands_during_an_outage_answer_busy_try_again(bot: Bot) -> None:
    bot.proxy.cut()
    for who, line in DURING:
        assert (await bot.core.handle_text(who, line)).plain_text() == BUSY, line


async def alerts(bot: Bot, count: int) -> list[str]:
    async with bot.store.transaction() as tx:
        community = await tx.communities.get("test", "T0OUTAGE01")
        assert community is not None
        await tx.nudges.add(
            [NewNudge(community.id, ORGANIZER_ALERT, bot.clock.now(), channel="C0ORG",
                      payload={"text": f"alert {i}"}) for i in range(count)],
            bot.clock.now(),
        )
    async with bot.store.reading() as tx:
        ids = await tx.conn.execute(  # type: ignore[attr-defined]
            select(t.nudges.c.id).where(t.nudges.c.kind == ORGANIZER_ALERT))
        return [idempotency_key(i) for (i,) in ids]


async def states(store: Store) -> dict[str, int]:
    async with store.reading() as tx:
        return dict((await tx.conn.execute(  # type: ignore[attr-defined]
            select(t.nudges.c.state, func.count()).group_by(t.nudges.c.state))).all())


async def test_the_engine_waits_out_an_outage_and_loses_nothing(bot: Bot) -> None:
    keys = await alerts(bot, 25)
    bot.proxy.cut()
    assert (await bot.scheduler.run()).handled == 0  # no exception escapes the scheduler
    assert (await bot.scheduler.sweep()).handled == 0
    assert bot.port.attempts == {}
    bot.proxy.restore()
    assert (await bot.scheduler.sweep()).sent == 25
    assert sorted(bot.port.attempts) == sorted(keys)
    assert set(bot.port.attempts.values()) == {1}
    assert await states(bot.store) == {"sent": 25}


class CutsAfter(RecordingMessenger):
    """A platform during whose sending the database goes away (after ``n`` sends)."""

    def __init__(self, proxy: CuttableProxy, n: int) -> None:
        super().__init__()
        self.proxy, self.n = proxy, n

    async def send(self, community_external_id: str, destination: Destination,
                   message: Message, idempotency_key: str) -> Delivered:
        delivered = await super().send(community_external_id, destination, message,
                                       idempotency_key)
        if len(self.attempts) == self.n:
            self.proxy.cut()
        return delivered


async def interrupted_batch(bot: Bot) -> tuple[NudgeScheduler, CutsAfter, list[str]]:
    """25 alerts; the database drops after the third send of the first batch of 10."""
    keys = await alerts(bot, 25)
    port = CutsAfter(bot.proxy, 3)
    engine = build_engine(bot.store, port, bot.clock, NudgeSettings(batch_size=10),
                          CommunityDefaults())
    scheduler = NudgeScheduler(engine, 600)
    scheduler.scheduler.start(paused=True)
    await engine.register()
    assert (await scheduler.run()).handled == 0  # the outcomes could not be recorded
    assert len(port.attempts) == 10  # the batch was sent: the platform needs no database
    bot.proxy.restore()
    return scheduler, port, keys


async def test_a_batch_interrupted_by_an_outage_is_settled_once_the_database_is_back(
    bot: Bot,
) -> None:
    scheduler, port, keys = await interrupted_batch(bot)
    try:
        # The first sweep records the kept outcomes, then delivers the other 15: nothing waits
        # for the claim timeout, nothing is asked of the platform, nothing is sent twice.
        assert (await scheduler.sweep()).sent == 15
        assert await states(bot.store) == {"sent": 25}
        assert sorted(port.attempts) == sorted(keys)
        assert set(port.attempts.values()) == {1}
        assert port.find_calls == 0
        bot.clock.advance(timedelta(seconds=scheduler.engine.settings.claim_timeout_seconds))
        assert (await scheduler.sweep()).handled == 0
    finally:
        await scheduler.stop()


async def test_kept_outcomes_wait_while_the_database_is_still_away(bot: Bot) -> None:
    scheduler, port, keys = await interrupted_batch(bot)
    try:
        bot.proxy.cut()
        assert (await scheduler.sweep()).handled == 0  # still away: kept, nothing new claimed
        assert len(port.attempts) == 10
        bot.proxy.restore()
        assert (await scheduler.sweep()).sent == 15
        assert await states(bot.store) == {"sent": 25}
        assert set(port.attempts.values()) == {1} and sorted(port.attempts) == sorted(keys)
    finally:
        await scheduler.stop()


async def test_outcomes_kept_past_the_claim_timeout_are_left_to_recovery(bot: Bot) -> None:
    """An outage longer than the claim timeout: the engine drops what it kept (any process may
    have taken those rows over by then), and recovery finds the batch on the platform."""
    scheduler, port, keys = await interrupted_batch(bot)
    try:
        bot.clock.advance(timedelta(seconds=scheduler.engine.settings.claim_timeout_seconds))
        stats = await scheduler.sweep()
        assert (stats.recovered, stats.sent) == (10, 25)  # 10 found on the platform, 15 new
        assert port.find_calls == 10
        assert set(port.attempts.values()) == {1} and sorted(port.attempts) == sorted(keys)
        assert await states(bot.store) == {"sent": 25}
    finally:
        await scheduler.stop()


async def test_a_schema_refused_at_start_leaves_no_connection_open(any_db_url: str) -> None:
    engine = create_engine(StorageSettings(url=any_db_url))
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(SchemaTooNew):
            await migrate(engine)
        assert engine.pool.checkedin() == 0  # disposed: no connection left behind
        async with engine.connect() as conn:  # and the engine still works
            assert (await conn.execute(text("SELECT version_num FROM alembic_version"))
                    ).scalar() == "9999"
    finally:
        await engine.dispose()
