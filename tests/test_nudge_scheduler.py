"""The scheduler only wakes the engine: check when it arms its alarm, without waiting for it.

The APScheduler instance is started paused (jobs are kept and their run dates computed, nothing
fires by itself); a test runs a job by calling the job's function, as APScheduler would. Every
test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.bootstrap import build_engine, open_store
from bot.clock import ManualClock
from bot.config import CommunityDefaults, NudgeSettings, StorageSettings
from bot.domain import NewNudge
from bot.nudges.engine import ORGANIZER_ALERT
from bot.nudges.scheduler import NudgeScheduler
from bot.ports import HoldScope, RateLimited
from bot.repositories import Store
from tests.recording_port import RecordingMessenger

SWEEP = 600.0


class Rig:
    def __init__(self, store: Store, clock: ManualClock) -> None:
        self.store = store
        self.clock = clock
        self.port = RecordingMessenger()
        self.engine = build_engine(store, self.port, clock, NudgeSettings(), CommunityDefaults())
        self.sched = NudgeScheduler(self.engine, SWEEP)
        self.community_id = 0

    async def add(self, *offsets: timedelta) -> None:
        async with self.store.transaction() as tx:
            if not self.community_id:
                community = await tx.communities.create("test", "T0TEST0001", "Test",
                                                        self.clock.now())
                self.community_id = community.id
            await tx.nudges.add(
                [NewNudge(self.community_id, ORGANIZER_ALERT, self.clock.now() + o,
                          channel="C0ORG", payload={"text": str(o)}) for o in offsets],
                self.clock.now(),
            )

    def armed_in(self, job_id: str = "next") -> float:
        job = self.sched.scheduler.get_job(job_id)
        assert job is not None, f"no {job_id!r} job armed"
        return (job.next_run_time - datetime.now(UTC)).total_seconds()  # type: ignore[no-any-return]


@pytest.fixture
async def store(any_db_url: str) -> AsyncIterator[Store]:
    s = await open_store(StorageSettings(url=any_db_url))
    yield s
    await s.close()


@pytest.fixture
async def rig(store: Store, clock: ManualClock) -> AsyncIterator[Rig]:
    r = Rig(store, clock)
    r.sched.scheduler.start(paused=True)
    yield r
    await r.sched.stop()


async def test_jobs_never_expire_and_coalesce(store: Store, clock: ManualClock) -> None:
    r = Rig(store, clock)
    await r.sched.start()
    try:
        for job_id in ("sweep", "wake"):
            job = r.sched.scheduler.get_job(job_id)
            assert job is not None
            assert job.misfire_grace_time is None and job.coalesce
        sweep, wake = r.sched.scheduler.get_job("sweep"), r.sched.scheduler.get_job("wake")
        assert sweep is not None and sweep.max_instances == 1
        # An alarm that fires while a run is in progress must not be skipped (a skipped date
        # job is gone); run() serializes itself.
        assert wake is not None and wake.max_instances > 1
        assert 0 < r.armed_in("sweep") <= SWEEP
    finally:
        await r.sched.stop()


async def test_wakes_at_the_next_due_time(rig: Rig) -> None:
    await rig.add(timedelta(0), timedelta(minutes=5), timedelta(minutes=7))
    stats = await rig.sched.run()
    assert stats.sent == 1
    assert 298 < rig.armed_in() <= 300  # the 5-minute nudge, in wall time

    rig.clock.advance(timedelta(minutes=5))
    job = rig.sched.scheduler.get_job("next")
    assert job is not None
    assert (await job.func()).sent == 1  # what APScheduler calls when the alarm rings
    assert 118 < rig.armed_in() <= 120

    rig.clock.advance(timedelta(minutes=2))
    await rig.sched.run()
    assert len(rig.port.deliveries) == 3
    assert rig.sched.scheduler.get_job("next") is not None  # the last alarm stays as it was
    assert await rig.engine.next_due() is None


async def test_far_nudges_are_checked_again_at_the_sweep(rig: Rig) -> None:
    await rig.add(timedelta(days=3))
    await rig.sched.run()
    assert SWEEP - 2 < rig.armed_in() <= SWEEP


async def test_a_missed_alarm_loses_nothing(rig: Rig) -> None:
    # Nudges queued while nobody woke the engine (a lost job, a crash): the sweep finds them.
    await rig.add(*(timedelta(seconds=-i) for i in range(5)))
    sweep = rig.sched.scheduler.get_job("sweep")
    assert sweep is None  # not started with start(): call the sweep as APScheduler would
    stats = await rig.sched.sweep()
    assert stats.sent == 5 and len(rig.port.deliveries) == 5


async def test_the_sweep_recovers_abandoned_claims(rig: Rig) -> None:
    await rig.add(timedelta(0))
    async with rig.store.transaction() as tx:
        assert len(await tx.nudges.claim_due(rig.clock.now(), 10, "dead-process",
                                                worker="unknown", platform=None)) == 1
    assert (await rig.sched.sweep()).handled == 0  # a fresh claim may belong to a live process
    rig.clock.advance(timedelta(minutes=5))
    stats = await rig.sched.sweep()
    assert (stats.recovered, stats.sent) == (1, 1)


async def test_rate_limit_moves_the_alarm_to_retry_after(rig: Rig) -> None:
    await rig.add(timedelta(0), timedelta(seconds=1))
    rig.port.fail_next(lambda: RateLimited(scope=HoldScope.EVERYTHING, retry_after=90.0))
    await rig.sched.run()
    assert 88 < rig.armed_in() <= 90
    rig.clock.advance(timedelta(seconds=30))
    await rig.sched.run()  # woken early (a command): still holding back
    assert rig.port.deliveries == []
    assert 58 < rig.armed_in() <= 60
    rig.clock.advance(timedelta(seconds=60))
    assert (await rig.sched.run()).sent == 2


async def test_wake_runs_at_once(rig: Rig) -> None:
    rig.sched.wake()
    assert -1 < rig.armed_in("wake") <= 0.01


async def test_a_command_that_queues_for_later_only_moves_the_alarm_earlier(rig: Rig) -> None:
    await rig.add(timedelta(minutes=5))
    await rig.sched.run()
    assert 299 < rig.armed_in() <= 300
    rig.sched.wake(rig.clock.now() + timedelta(hours=2))  # later than the alarm: nothing to do
    assert rig.sched.scheduler.get_job("wake") is None
    assert 299 < rig.armed_in() <= 300
    rig.sched.wake(rig.clock.now() + timedelta(minutes=1))  # earlier: the alarm moves
    assert rig.sched.scheduler.get_job("wake") is None
    assert 59 < rig.armed_in() <= 60
    rig.sched.wake(rig.clock.now() - timedelta(seconds=1))  # due already: run at once
    assert -1 < rig.armed_in("wake") <= 0.01


async def test_an_alarm_during_a_run_is_not_lost(rig: Rig) -> None:
    # run() re-arms "next" before it returns; if that alarm is due at once, APScheduler starts
    # it while the first instance still counts as running. It must run, not be skipped.
    await rig.add(timedelta(0), timedelta(0))
    await rig.sched.run()
    job = rig.sched.scheduler.get_job("next")
    assert job is None or job.max_instances > 1
    await rig.add(timedelta(seconds=1))
    await rig.sched.run()
    job = rig.sched.scheduler.get_job("next")
    assert job is not None and job.max_instances > 1
