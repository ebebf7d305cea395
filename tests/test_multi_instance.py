"""Several bot instances on one database: every nudge delivered exactly once through crashes, a
dead instance's claims taken over within seconds, a slow but live instance's never.

The crash test runs real processes (``tests/instance_child.py``, started through the bot's own
start-up path) on one PostgreSQL database with 10,000 due nudges across 50 communities. One
instance runs under a host name of its own (as on another machine: its death is noticed when
its heartbeat is older than the lease), two on this host (a dead pid is noticed at once). The
first is SIGKILLed a third of the way through, the second two thirds of the way through and
started again. The shared platform journals every send attempt, so the count of attempts per
idempotency key is the proof: exactly one each. The figures (throughput of one instance and of
three, how long recovery took) are printed.

The in-process tests pin the rules with a manual clock on both engines: a claim carries its
instance's id; an instance that is slow but beating keeps its claims however long it takes.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.discord.messenger import DiscordMessenger
from bot.bootstrap import build_registry, open_store
from bot.clock import ManualClock
from bot.config import CommunityDefaults, NudgeSettings, StorageSettings
from bot.domain import NewNudge, Worker
from bot.messages import MemberAddress, Message, MessageBuilder
from bot.nudges.engine import ORGANIZER_ALERT, PLATFORM_CLOCK_SKEW, NudgeEngine, idempotency_key
from bot.nudges.scheduler import NudgeScheduler
from bot.nudges.workers import Identity
from bot.ports import ChannelPost, Delivered, Destination
from bot.repositories import Store
from storage import schema as t
from tests.conftest import pg_database
from tests.discord_harness import db_url, running_bot, settings_for
from tests.instances import (
    COMMUNITIES,
    NUDGES,
    Run,
    final_state,
    in_flight,
    journal_counts,
    seed,
)
from tests.recording_port import RecordingMessenger
from tests.standins.discord import ALICE_ID, BOB_ID, GUILD_ID, MENTORS_ID, running_discord

#: Short enough that the test sees a lease run out; the defaults are 20 s, 5 s and 30 s.
LEASE, HEARTBEAT, SWEEP = 5.0, 1.0, 1.0
TIMINGS = {"lease": LEASE, "heartbeat": HEARTBEAT, "sweep": SWEEP}


@pytest.fixture
async def run() -> AsyncIterator[Run]:
    r = Run()
    try:
        yield r
    finally:
        await r.close()


def resolved_after(run: Run, keys: set[str], since: float) -> float | None:
    """When the last of ``keys`` was settled by a live instance after ``since`` (the platform
    asked, then sent if it was missing), or None while some are not."""
    last = since
    for key in keys:
        checks = [c for c in run.checks.get(key, []) if c[2] >= since]
        if not checks:
            return None
        _who, answer, when = checks[-1]
        if answer == "missing":
            sent = run.sent_at.get(key)
            if sent is None or sent < when:
                return None
            when = sent
        last = max(last, when)
    return last


async def dispatch_alone(url: str, journal: Path, logs: Path) -> float:
    """One instance delivers ``NUDGES``: seconds from commit to the last delivery."""
    run = Run()
    try:
        solo = await run.spawn("solo", url, journal, logs, **TIMINGS)
        await run.start(solo)
        seeded = await seed(url)
        solo.send_line("go")
        await run.until(lambda: len(run.sends) == NUDGES, "the lone instance to deliver all")
        took = max(run.sent_at.values()) - seeded
        assert await solo.stop() == 0
    finally:
        await run.close()
    assert set(journal_counts(journal).values()) == {1}
    assert await final_state(url) == ({"sent": NUDGES}, 0)
    return took


async def test_three_instances_one_killed_one_restarted_deliver_each_nudge_once(
    postgres_url: str, tmp_path: Path, run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    async with pg_database() as solo_url:
        alone = await dispatch_alone(solo_url, tmp_path / "solo.journal", tmp_path)

    url, journal = postgres_url, tmp_path / "platform.journal"
    a = await run.spawn("A", url, journal, tmp_path, host="mentorbot-host-a", **TIMINGS)
    b = await run.spawn("B", url, journal, tmp_path, **TIMINGS)
    c = await run.spawn("C", url, journal, tmp_path, **TIMINGS)
    await run.start(a, b, c)
    assert len({a.worker, b.worker, c.worker}) == 3
    seeded = await seed(url)
    for instance in (a, b, c):
        instance.send_line("go")

    await run.until(lambda: len(run.sends) >= NUDGES // 3, "a third of the nudges")
    killed_a = a.kill()
    await a.process.wait()
    before_kill = len(run.sends)
    claimed_by_a = await in_flight(url, a.worker)

    await run.until(lambda: len(run.sends) >= 2 * NUDGES // 3, "two thirds of the nudges")
    killed_b = b.kill()
    await b.process.wait()
    claimed_by_b = await in_flight(url, b.worker)
    b_again = await run.spawn("B again", url, journal, tmp_path, **TIMINGS)
    await run.start(b_again)
    b_again.send_line("go")

    await run.until(
        lambda: len(run.delivered()) == NUDGES
        and resolved_after(run, claimed_by_a, killed_a) is not None
        and resolved_after(run, claimed_by_b, killed_b) is not None,
        "every nudge delivered and the dead instances' claims settled",
    )
    done = time.monotonic()
    for instance in (c, b_again):
        assert await instance.stop() == 0, instance.last_words()

    # Exactly once: every key attempted once on the platform, none lost.
    attempts = journal_counts(journal)
    assert len(attempts) == NUDGES, f"lost {NUDGES - len(attempts)}"
    doubles = {k: n for k, n in attempts.items() if n > 1}
    assert not doubles, f"sent more than once: {list(doubles.items())[:5]}"
    assert await final_state(url) == ({"sent": NUDGES}, 0)  # the dead ones' rows were removed
    # Only the dead instances' claims were taken over, each once: no live claim was touched.
    assert claimed_by_a, "A had nothing in flight when it was killed"
    assert set(run.checks) <= claimed_by_a | claimed_by_b, sorted(
        set(run.checks) - claimed_by_a - claimed_by_b)[:5]
    assert all(len(checks) == 1 for checks in run.checks.values())

    a_took = (resolved_after(run, claimed_by_a, killed_a) or done) - killed_a
    b_took = (resolved_after(run, claimed_by_b, killed_b) or done) - killed_b
    rate_alone = NUDGES / alone
    rate_three = before_kill / (killed_a - seeded)
    elsewhere = "on another host" if a.host else "on this host (no namespaces here)"
    with capsys.disabled():
        print(
            f"\n[multi-instance] PostgreSQL, {NUDGES:,} nudges in {COMMUNITIES} communities, "
            f"lease {LEASE:.0f} s, heartbeat {HEARTBEAT:.0f} s, sweep {SWEEP:.0f} s\n"
            f"  1 instance : {NUDGES:,} in {alone:.2f} s = {rate_alone:,.0f}/s\n"
            f"  3 instances: {before_kill:,} in {killed_a - seeded:.2f} s before the first kill "
            f"= {rate_three:,.0f}/s ({rate_three / rate_alone:.2f}x); all {NUDGES:,} in "
            f"{done - seeded:.2f} s with two kills\n"
            f"  A killed ({elsewhere}): {len(claimed_by_a)} claims in flight, settled "
            f"{a_took:.2f} s after the kill\n"
            f"  B killed (this host) and restarted: {len(claimed_by_b)} claims in flight, "
            f"settled {b_took:.2f} s after the kill; the restart was ready "
            f"{(b_again.ready_at or done) - killed_b:.2f} s after the kill and recovered "
            f"{b_again.recovered_at_start} itself"
        )
    # Within seconds: a dead pid at the next sweep, another host's once its lease ran out.
    assert b_took < SWEEP + 5, b_took
    assert a_took < (LEASE if a.host else 0) + HEARTBEAT + SWEEP + 5, a_took


# -- in one process, with a manual clock ------------------------------------------------------


class SlowPlatform:
    """A platform that takes as long as the test says: the first send waits for ``release``."""

    platform = "test"

    def __init__(self) -> None:
        self.port = RecordingMessenger()
        self.sending = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, community: str, destination: Destination, message: Message,
                   key: str) -> Delivered:
        self.sending.set()
        await self.release.wait()
        return await self.port.send(community, destination, message, key)

    async def find_sent(self, community: str, destination: Destination, key: str, *,
                        since: datetime | None = None) -> Delivered | None:
        return await self.port.find_sent(community, destination, key, since=since)

    async def open_space(self, community: str, key: str, members: tuple[MemberAddress, ...],
                         title: str, parent_channel: str | None) -> str:
        return await self.port.open_space(community, key, members, title, parent_channel)


def engine_on(store: Store, messenger: object, clock: ManualClock, host: str) -> NudgeEngine:
    """An engine that takes itself for a process on ``host`` (another machine)."""
    identity = Identity(f"{host}:4242:x", "test", host, 4242)
    return NudgeEngine(store, messenger, clock, NudgeSettings(batch_size=50),  # type: ignore[arg-type]
                       CommunityDefaults(), build_registry().nudges, identity=identity,
                       platform="test")


@pytest.fixture
async def shared_store(any_db_url: str) -> AsyncIterator[Store]:
    store = await open_store(StorageSettings(url=any_db_url))
    yield store
    await store.close()


async def test_a_slow_live_instance_keeps_its_claims_however_long_it_takes(
    shared_store: Store, clock: ManualClock
) -> None:
    async with shared_store.transaction() as tx:
        community = await tx.communities.create("test", "T0SLOW", "Slow", clock.now())
        await tx.nudges.add([NewNudge(community.id, ORGANIZER_ALERT, clock.now(),
                                      channel="C0ORG", payload={"text": f"alert {i}"})
                             for i in range(30)], clock.now())
    slow_platform, other_platform = SlowPlatform(), RecordingMessenger()
    slow = engine_on(shared_store, slow_platform, clock, "host-slow")
    other = engine_on(shared_store, other_platform, clock, "host-other")
    await slow.register()
    await other.register()
    running = asyncio.create_task(slow.run_due())
    await slow_platform.sending.wait()
    async with shared_store.reading() as tx:
        rows = await tx.conn.execute(  # type: ignore[attr-defined]
            select(t.nudges.c.claimed_by).where(t.nudges.c.state == "sending"))
        assert {owner for (owner,) in rows} == {slow.identity.id}  # each claim says whose
    lease = timedelta(seconds=slow.settings.worker_lease_seconds)
    for _ in range(30):  # ten leases pass while the first send hangs; the heartbeat goes on
        clock.advance(lease / 3)
        await slow.heartbeat()
        assert (await other.recover()).recovered == 0
        assert (await other.run_due()).handled == 0
    slow_platform.release.set()
    assert (await running).sent == 30
    assert other_platform.attempts == {}
    assert len(slow_platform.port.attempts) == 30
    assert set(slow_platform.port.attempts.values()) == {1}


async def test_a_restarted_container_with_the_same_pid_takes_over_its_previous_claims(
    shared_store: Store, clock: ManualClock
) -> None:
    async with shared_store.transaction() as tx:
        community = await tx.communities.create("test", "T0PID1", "Pid one", clock.now())
        await tx.nudges.add([NewNudge(community.id, ORGANIZER_ALERT, clock.now(),
                                      channel="C0ORG", payload={"text": "alert"})], clock.now())
        host, pid = socket.gethostname()[:100], os.getpid()
        before = Worker(f"{host}:{pid}:previous-life", "test", host, pid, clock.now(),
                        clock.now())
        await tx.workers.register(before)
        assert len(await tx.nudges.claim_due(clock.now(), 10, "token", worker=before.id,
                                             platform="test")) == 1
    port = RecordingMessenger()
    restarted = NudgeEngine(shared_store, port, clock, NudgeSettings(), CommunityDefaults(),
                            build_registry().nudges, platform="test")
    # Within the lease it may be another engine of this very process: left alone.
    clock.advance(timedelta(seconds=restarted.settings.worker_lease_seconds))
    assert (await restarted.recover()).recovered == 0
    clock.advance(timedelta(seconds=1))
    stats = await restarted.recover()
    assert (stats.recovered, stats.sent) == (1, 1)
    assert list(port.attempts.values()) == [1]
    async with shared_store.reading() as tx:
        assert before.id not in [w.id for w in await tx.workers.all()]


# -- a peer found gone by the heartbeat, not at the next sweep --------------------------------


def dead_pid() -> int:
    """The pid of a process that has run and been reaped: nothing runs under it now."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


async def claimed_by_peer(store: Store, clock: ManualClock, peer: Worker, count: int) -> None:
    """``peer`` registers and claims ``count`` alerts of a community on its platform, then
    (the test decides) is gone."""
    async with store.transaction() as tx:
        community = await tx.communities.create(peer.platform or "test", "T0PEER", "Peers",
                                                clock.now())
        await tx.nudges.add([NewNudge(community.id, ORGANIZER_ALERT, clock.now(),
                                      channel="C0ORG", payload={"text": f"alert {i}"})
                             for i in range(count)], clock.now())
        await tx.workers.register(peer)
        assert len(await tx.nudges.claim_due(clock.now(), count, "peer-token", worker=peer.id,
                                             platform=peer.platform)) == count


@asynccontextmanager
async def scheduler_of(engine: NudgeEngine) -> AsyncIterator[NudgeScheduler]:
    """The engine's scheduler, started paused: the test runs its jobs, as APScheduler would.
    The sweep is far away, so only the heartbeat can take anything over."""
    scheduler = NudgeScheduler(engine, sweep_seconds=3600, heartbeat_seconds=HEARTBEAT)
    scheduler.scheduler.start(paused=True)
    await engine.register()
    try:
        yield scheduler
    finally:
        await scheduler.stop()


async def test_a_peer_whose_lease_runs_out_is_taken_over_at_the_next_heartbeat(
    shared_store: Store, clock: ManualClock
) -> None:
    peer = Worker("host-gone:4242:x", "test", "host-gone", 4242, clock.now(), clock.now())
    await claimed_by_peer(shared_store, clock, peer, 3)
    port = RecordingMessenger()
    engine = engine_on(shared_store, port, clock, "host-here")
    async with scheduler_of(engine) as scheduler:
        clock.advance(timedelta(seconds=engine.settings.worker_lease_seconds))
        assert await scheduler.heartbeat() is None  # its last beat is exactly a lease old
        clock.advance(timedelta(seconds=HEARTBEAT))
        takeover = await scheduler.heartbeat()
        assert takeover is not None
        stats = await takeover
        assert (stats.recovered, stats.sent) == (3, 3)
        assert len(port.attempts) == 3 and set(port.attempts.values()) == {1}
        assert await scheduler.heartbeat() is None  # forgotten once its claims were settled
    async with shared_store.reading() as tx:
        assert peer.id not in [w.id for w in await tx.workers.all()]


async def test_a_dead_pid_on_this_host_is_taken_over_at_the_next_heartbeat(
    shared_store: Store, clock: ManualClock
) -> None:
    host, pid = socket.gethostname()[:100], dead_pid()
    peer = Worker(f"{host}:{pid}:x", "test", host, pid, clock.now(), clock.now())
    await claimed_by_peer(shared_store, clock, peer, 2)
    port = RecordingMessenger()
    engine = NudgeEngine(shared_store, port, clock, NudgeSettings(), CommunityDefaults(),
                         build_registry().nudges, platform="test")
    async with scheduler_of(engine) as scheduler:
        takeover = await scheduler.heartbeat()  # no lease to wait for: the pid runs nothing
        assert takeover is not None
        assert (await takeover).recovered == 2
        assert len(port.attempts) == 2 and set(port.attempts.values()) == {1}


async def test_the_heartbeat_goes_on_while_a_takeover_is_sending(
    shared_store: Store, clock: ManualClock
) -> None:
    peer = Worker("host-gone:4242:x", "test", "host-gone", 4242, clock.now(), clock.now())
    await claimed_by_peer(shared_store, clock, peer, 2)
    slow = SlowPlatform()
    engine = engine_on(shared_store, slow, clock, "host-here")
    async with scheduler_of(engine) as scheduler:
        clock.advance(timedelta(seconds=engine.settings.worker_lease_seconds + HEARTBEAT))
        takeover = await scheduler.heartbeat()
        assert takeover is not None
        await slow.sending.wait()  # the takeover hangs in its first send...
        clock.advance(timedelta(seconds=HEARTBEAT))
        assert await scheduler.heartbeat() is takeover  # ...the heartbeat does not wait for it
        async with shared_store.reading() as tx:
            [me] = [w for w in await tx.workers.all() if w.id == engine.identity.id]
        assert me.heartbeat_at == clock.now()  # and this process still says it is alive
        slow.release.set()
        assert (await takeover).recovered == 2
        assert set(slow.port.attempts.values()) == {1}


async def test_a_gone_instance_of_another_platform_is_left_to_its_own_platform(
    shared_store: Store, clock: ManualClock
) -> None:
    """A dead Discord instance is not forgotten by a Slack one (which cannot take its claims):
    the Discord instances must still see it gone."""
    peer = Worker("host-gone:4242:x", "other", "host-gone", 4242, clock.now(), clock.now())
    await claimed_by_peer(shared_store, clock, peer, 1)
    engine = engine_on(shared_store, RecordingMessenger(), clock, "host-here")
    async with scheduler_of(engine) as scheduler:
        clock.advance(timedelta(seconds=engine.settings.worker_lease_seconds + HEARTBEAT))
        assert await scheduler.heartbeat() is None
        assert (await engine.recover()).recovered == 0
    async with shared_store.reading() as tx:
        assert peer.id in [w.id for w in await tx.workers.all()]


# -- Discord: any instance delivers any server's nudge, whichever shard has the server ---------


async def test_a_discord_instance_delivers_for_a_server_on_another_shard(
    tmp_path: Path, clock: ManualClock
) -> None:
    """Nudges are claimed by any Discord instance, but the gateway cache holds only the servers
    of its own shards: this instance runs the shard without the server, so every look-up
    (channels by name and by id, intro threads) goes over REST, and still works."""
    async with running_discord(point_discord_py=False, shards=2) as sd:
        base = settings_for(sd, db_url(tmp_path))
        elsewhere = 1 - sd.gateway.shard_of_guild(GUILD_ID)
        settings = base.model_copy(update={"discord": base.discord.model_copy(
            update={"shard_count": 2, "shard_ids": (elsewhere,)})})
        async with running_bot(sd, settings, clock) as bot:
            assert bot.adapter.client.get_guild(int(GUILD_ID)) is None  # not in this cache
            async with bot.app.store.transaction() as tx:
                community = await tx.communities.create("discord", GUILD_ID, "Mentor Circle",
                                                        clock.now())
                await tx.nudges.add([
                    NewNudge(community.id, ORGANIZER_ALERT, clock.now(), channel=channel,
                             payload={"text": text})
                    for channel, text in (("intros", "by name"), (f"<#{MENTORS_ID}>", "by id"),
                                          ("#nowhere", "lost"))
                ], clock.now())
            stats = await bot.deliver()
            assert (stats.sent, stats.failed) == (2, 1)
            [by_name] = sd.messages_in("intros")
            [by_id] = sd.messages_in("mentors")
            assert "by name" in by_name.content and "by id" in by_id.content
            async with bot.app.store.reading() as tx:
                rows = await tx.nudges.list(community.id)
            lost = next(r for r in rows if r.channel == "#nowhere")
            assert lost.state == "failed" and "no text channel “nowhere”" in (lost.outcome or "")
            assert sd.requests_to("/guilds/{guild_id}/channels", "GET")

            # The platform answers "was it sent?" from the moment the nudge became due.
            messenger = bot.adapter.messenger
            first = next(r for r in rows if r.channel == "intros")
            found = await messenger.find_sent(
                GUILD_ID, ChannelPost("intros"), idempotency_key(first.id),
                since=first.due_at - PLATFORM_CLOCK_SKEW)
            assert found is not None and found.ref == by_name.id
            # More messages since then than a page holds: it reads from ``since`` on as well.
            for i in range(2):
                await messenger.send(GUILD_ID, ChannelPost("intros"),
                                     MessageBuilder().say(f"later {i}").build(), f"later-{i}")
            narrow = DiscordMessenger(bot.adapter.client, messenger.renderer, messenger.watch,
                                      history_limit=2)
            key = idempotency_key(first.id)
            assert await narrow.find_sent(GUILD_ID, ChannelPost("intros"), key) is None
            found = await narrow.find_sent(GUILD_ID, ChannelPost("intros"), key,
                                           since=first.due_at - PLATFORM_CLOCK_SKEW)
            assert found is not None and found.ref == by_name.id

            # A private intro thread opened over REST, and found again by an instance that
            # never saw it (no memory, no cache): among the server's active threads.
            members = (MemberAddress(ALICE_ID, "Alice"), MemberAddress(BOB_ID, "Bob"))
            ref = await messenger.open_space(GUILD_ID, "intro-7", members,
                                             "Intro: Alice & Bob", "intros")
            [thread] = sd.threads
            assert ref == thread.id and {ALICE_ID, BOB_ID} <= set(thread.members)
            another = DiscordMessenger(bot.adapter.client, messenger.renderer, messenger.watch)
            assert await another.open_space(GUILD_ID, "intro-7", members,
                                            "Intro: Alice & Bob", "intros") == ref
            assert len(sd.threads) == 1
            assert sd.requests_to("/guilds/{guild_id}/threads/active", "GET")
