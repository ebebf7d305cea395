"""The nudge engine against a real database: every test runs on SQLite and on PostgreSQL.

Data is made the way people make it, through ``Mentorbot.handle_text``: Ada mentors Python, Bob
asks her for an intro. The platform is :class:`tests.recording_port.RecordingMessenger`, which
has the platform's idempotency semantics and fails when told to. Time is a ManualClock.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.bootstrap import build_core, build_engine, open_store
from bot.caller import Caller
from bot.clock import ManualClock
from bot.config import CommunityDefaults, NudgeSettings, StorageSettings
from bot.domain import IntroState, NewNudge, Worker
from bot.intros.nudges import INTRO_DEADLINE_NUDGE, INTRO_REQUEST
from bot.messages import MemberAddress, MessageBuilder
from bot.nudges.engine import (
    BACKOFF_BASE,
    ORGANIZER_ALERT,
    PLATFORM_CLOCK_SKEW,
    NudgeEngine,
    RunStats,
    idempotency_key,
)
from bot.ports import (
    ChannelPost,
    Delivered,
    Destination,
    DirectMessage,
    HoldScope,
    PermanentFailure,
    RateLimited,
    TemporaryFailure,
)
from bot.repositories import Store
from storage import schema as t
from storage.db import create_engine, migrate
from storage.store import SqlStore
from tests.recording_port import RecordingMessenger

COMMUNITY = "T0TEST0001"


def caller(user_id: str, name: str, *, admin: bool = False) -> Caller:
    return Caller("test", COMMUNITY, "Test", user_id, name, "UTC", is_platform_admin=admin)


ADA = caller("U0ADA00001", "Ada")
BOB = caller("U0BOB00001", "Bob")
ORG = caller("U0ORG00001", "Org", admin=True)

REQUEST = "request Ada topic: python context: I want to learn asyncio and I tried the docs"


class World:
    def __init__(
        self, store: Store, clock: ManualClock, settings: NudgeSettings | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.core = build_core(store, clock, CommunityDefaults())
        self.port = RecordingMessenger()
        self.settings = settings or NudgeSettings(max_attempts=3)
        self.engine = build_engine(store, self.port, clock, self.settings, CommunityDefaults())

    async def say(self, who: Caller, line: str) -> str:
        return (await self.core.handle_text(who, line)).plain_text()

    async def setup_intro(self) -> int:
        assert "mentor" in await self.say(
            ADA, "mentor set topics: python bio: hi availability: Tue 18:00-20:00")
        out = await self.say(BOB, REQUEST)
        assert "Request #" in out, out
        return int(out.split("#")[1].split()[0])

    async def nudges(self, kind: str | None = None) -> list[dict[str, Any]]:
        async with self.store.reading() as tx:
            rows = await tx.conn.execute(  # type: ignore[attr-defined]
                select(t.nudges).order_by(t.nudges.c.id))
            return [dict(r._mapping) for r in rows if kind is None or r.kind == kind]

    async def one(self, kind: str) -> dict[str, Any]:
        rows = await self.nudges(kind)
        assert len(rows) == 1, rows
        return rows[0]


@pytest.fixture
async def store(any_db_url: str) -> AsyncIterator[Store]:
    """The real storage, opened as the composition root opens it: once on SQLite, once on
    PostgreSQL (a throwaway database each)."""
    s = await open_store(StorageSettings(url=any_db_url))
    yield s
    await s.close()


@pytest.fixture
def world(store: Store, clock: ManualClock) -> World:
    return World(store, clock)


async def test_sends_what_is_due_and_only_that(world: World) -> None:
    await world.setup_intro()
    stats = await world.engine.run_due()
    assert stats.sent == 1
    [delivery] = world.port.deliveries
    assert isinstance(delivery.destination, DirectMessage)
    assert delivery.destination.member.display_name == "Ada"
    assert "asks you for an intro" in delivery.text
    request = await world.one(INTRO_REQUEST)
    assert request["state"] == "sent" and request["delivery_ref"] == delivery.ref
    assert request["sent_at"] == world.clock.now()
    deadline = await world.one(INTRO_DEADLINE_NUDGE)
    assert deadline["state"] == "pending"

    world.clock.advance(timedelta(hours=48) - timedelta(seconds=1))
    assert (await world.engine.run_due()).handled == 0
    assert len(world.port.deliveries) == 1

    world.clock.advance(timedelta(seconds=1))
    assert (await world.engine.run_due()).sent == 1
    assert "gentle reminder" in world.port.deliveries[-1].text
    assert (await world.one(INTRO_DEADLINE_NUDGE))["state"] == "sent"
    assert world.port.attempts[idempotency_key(request["id"])] == 1


async def test_withdrawn_request_makes_its_nudges_stale_with_the_reason(world: World) -> None:
    intro_id = await world.setup_intro()
    assert "withdrawn" in await world.say(BOB, f"withdraw {intro_id}")
    await world.engine.run_due()
    world.clock.advance(timedelta(days=4))
    await world.engine.run_due()
    for kind in (INTRO_REQUEST, INTRO_DEADLINE_NUDGE, "intro.release"):
        row = await world.one(kind)
        assert (row["state"], row["outcome"]) == ("stale", "request withdrawn")
    report = await world.say(ORG, "report")
    assert "Nudges: sent 1, stale 3" in report, report
    # Only the mentor's "withdrawn" note went out, never the request itself.
    assert [d.text for d in world.port.deliveries] == [
        f"@Bob withdrew request #{intro_id}. Nothing more to do, thank you!"
    ]


async def test_a_change_after_queueing_is_caught_when_rendering(world: World) -> None:
    intro_id = await world.setup_intro()
    # The request is answered behind the nudge's back (no skip): rendering sees it.
    async with world.store.transaction() as tx:
        assert await tx.intros.set_state(
            intro_id, IntroState.PENDING, IntroState.DECLINED, world.clock.now())
    stats = await world.engine.run_due()
    assert (stats.stale, stats.sent) == (1, 0)
    row = await world.one(INTRO_REQUEST)
    assert row["state"] == "stale" and row["outcome"] == "request declined"
    assert world.port.deliveries == []


async def test_rate_limit_waits_for_retry_after_without_burning_attempts(world: World) -> None:
    assert "now" in await world.say(ORG, "settings set announce_requests true")
    assert "now" in await world.say(ORG, "settings set mentors_channel C0MENTORS")
    await world.setup_intro()  # the request and its announcement are due now
    world.port.fail_next(lambda: RateLimited(120.0, scope=HoldScope.EVERYTHING))
    stats = await world.engine.run_due()
    assert (stats.sent, stats.retried) == (0, 2)
    # The first send got the 429; the rest of the batch stepped back without trying.
    assert sum(world.port.attempts.values()) == 0
    hold = world.clock.now() + timedelta(seconds=120)
    assert world.engine.hold_until == hold
    assert await world.engine.next_due() == hold
    for row in await world.nudges():
        if row["due_at"] <= hold:
            assert (row["state"], row["attempts"], row["due_at"]) == ("pending", 0, hold)

    world.clock.advance(timedelta(seconds=119))
    assert (await world.engine.run_due()).handled == 0
    assert world.port.deliveries == []

    world.clock.advance(timedelta(seconds=1))
    assert (await world.engine.run_due()).sent == 2
    assert sorted(world.port.attempts.values()) == [1, 1]
    assert world.port.to(ChannelPost("C0MENTORS"))
    assert all(r["attempts"] == 0 for r in await world.nudges(INTRO_REQUEST))


async def test_a_rate_limit_on_one_destination_holds_only_that_destination(
    world: World,
) -> None:
    assert "now" in await world.say(ORG, "settings set announce_requests true")
    assert "now" in await world.say(ORG, "settings set mentors_channel C0MENTORS")
    await world.setup_intro()  # the DM to Ada and the announcement are due now
    world.port.fail_next(lambda: RateLimited(60.0),
                         when=lambda dest, _key: isinstance(dest, DirectMessage))
    stats = await world.engine.run_due()
    assert (stats.sent, stats.retried) == (1, 1)
    assert world.port.to(ChannelPost("C0MENTORS"))  # the channel was not held back
    assert world.engine.hold_until is None and not world.engine.held()
    request = await world.one(INTRO_REQUEST)
    assert (request["state"], request["attempts"]) == ("pending", 0)
    assert request["due_at"] == world.clock.now() + timedelta(seconds=60)
    world.clock.advance(timedelta(seconds=60))
    assert (await world.engine.run_due()).sent == 1
    assert (await world.one(INTRO_REQUEST))["state"] == "sent"


async def test_server_errors_back_off_then_succeed(world: World) -> None:
    await world.setup_intro()
    world.port.fail_next(lambda: TemporaryFailure("502 bad gateway"), times=2)
    assert (await world.engine.run_due()).retried == 1
    row = await world.one(INTRO_REQUEST)
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert row["due_at"] == world.clock.now() + BACKOFF_BASE

    world.clock.advance(BACKOFF_BASE)
    assert (await world.engine.run_due()).retried == 1
    row = await world.one(INTRO_REQUEST)
    assert row["attempts"] == 2 and row["due_at"] == world.clock.now() + 2 * BACKOFF_BASE

    world.clock.advance(2 * BACKOFF_BASE - timedelta(seconds=1))
    assert (await world.engine.run_due()).handled == 0
    world.clock.advance(timedelta(seconds=1))
    finds = world.port.find_calls
    assert (await world.engine.run_due()).sent == 1
    # A retry after an unknown fate asks the platform first, then sends once; since a try
    # may have reached it before the due time moved, the whole history is searched.
    assert world.port.find_calls == finds + 1
    assert world.port.searched_since[-1] is None
    row = await world.one(INTRO_REQUEST)
    assert (row["state"], row["attempts"]) == ("sent", 2)
    assert len(world.port.deliveries) == 1


async def test_gives_up_after_max_attempts_and_tells_organizers(world: World) -> None:
    assert "now" in await world.say(ORG, "settings set organizer_channel C0ORG")
    await world.setup_intro()
    world.port.fail_next(
        lambda: TemporaryFailure("503 unavailable"), times=100,
        when=lambda dest, _key: isinstance(dest, DirectMessage),
    )
    for _ in range(3):
        await world.engine.run_due()
        world.clock.advance(timedelta(hours=1))
    row = await world.one(INTRO_REQUEST)
    assert row["state"] == "failed" and row["attempts"] == 3
    assert "gave up after 3 attempts" in row["outcome"] and "503" in row["outcome"]
    alert = await world.one(ORGANIZER_ALERT)
    assert alert["state"] == "sent" and alert["channel"] == "C0ORG"
    [posted] = world.port.to(ChannelPost("C0ORG"))
    assert f"nudge #{row['id']}" in posted.text and "could not be delivered" in posted.text
    await world.engine.run_due()
    assert (await world.one(INTRO_REQUEST))["attempts"] == 3  # never tried again
    report = await world.say(ORG, "report")
    assert "failed 1" in report and f"failed nudge #{row['id']}" in report


async def test_refused_dm_falls_back_to_a_mention_in_the_channel(world: World) -> None:
    assert "now" in await world.say(ORG, "settings set intros_channel C0INTROS")
    intro_id = await world.setup_intro()
    await world.engine.run_due()
    world.port.close_dms("U0BOB00001")
    assert "accept" in (await world.say(ADA, f"accept {intro_id}")).lower()
    stats = await world.engine.run_due()
    # Two DMs were due for Bob (the acceptance, the mentorship's first question): one public
    # mention is enough; the second fails quietly, without a second organizer alert.
    assert (stats.fallbacks, stats.failed) == (1, 1)
    kickoff = await world.one("mentorship.kickoff_goals")
    assert kickoff["state"] == "failed"
    assert "already mentioned or reported in the last day" in kickoff["outcome"]
    assert await world.nudges(ORGANIZER_ALERT) == []
    accepted = await world.one("intro.accepted")
    assert accepted["state"] == "sent"
    assert "private message refused" in accepted["outcome"]
    assert "mentioned in C0INTROS" in accepted["outcome"]
    [mention] = world.port.to(ChannelPost("C0INTROS"))
    assert mention.text.startswith("@Bob I tried to send you a private message")
    assert mention.key == idempotency_key(accepted["id"]) + "-fb"


async def test_permanent_errors_are_never_retried(world: World) -> None:
    intro_id = await world.setup_intro()
    await world.engine.run_due()
    world.port.close_dms("U0ADA00001")  # the withdrawn note has no public fallback
    await world.say(BOB, f"withdraw {intro_id}")
    assert (await world.engine.run_due()).failed == 1
    row = await world.one("intro.withdrawn")
    assert row["state"] == "failed" and "RecipientUnreachable" in row["outcome"]
    await world.say(ADA, "mentor set topics: python, go")  # wakes nothing
    world.port.fail_next(lambda: PermanentFailure("missing access (50001)"))
    assert "now" in await world.say(ORG, "settings set organizer_channel C0ORG")
    async with world.store.transaction() as tx:
        community = await tx.communities.get("test", COMMUNITY)
        assert community is not None
        await tx.nudges.add([NewNudge(community.id, ORGANIZER_ALERT, world.clock.now(),
                                      channel="C0GONE", payload={"text": "hello"})],
                            world.clock.now())
    assert (await world.engine.run_due()).failed == 1
    world.clock.advance(timedelta(days=1))
    await world.engine.run_due()
    alerts = await world.nudges(ORGANIZER_ALERT)
    assert [a["state"] for a in alerts] == ["failed"]  # no alert about an alert
    assert "50001" in alerts[0]["outcome"]
    assert world.port.attempts[idempotency_key(row["id"])] == 0
    assert world.port.attempts[idempotency_key(alerts[0]["id"])] == 0


async def test_release_and_its_message_are_recorded_together(world: World) -> None:
    await world.setup_intro()
    world.clock.advance(timedelta(hours=72))
    await world.engine.run_due()
    release = await world.one("intro.release")
    assert (release["state"], release["outcome"]) == ("sent", "released after the deadline")
    released = await world.one("intro.released")
    assert released["state"] == "sent"
    to_bob, to_ada = (world.port.to(DirectMessage(MemberAddress(u, n, "UTC")))
                      for u, n in (("U0BOB00001", "Bob"), ("U0ADA00001", "Ada")))
    assert "hasn't answered" in to_bob[-1].text
    assert "released after 72 hours to keep things moving" in to_ada[-1].text


def _dead_pid() -> int:
    """The pid of a process that has run and been reaped: nothing runs under it now."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


async def _claim_as(world: World, worker: Worker) -> list[Any]:
    """``worker`` registers, claims everything due, and (the test decides) dies."""
    async with world.store.transaction() as tx:
        await tx.workers.register(worker)
        return await tx.nudges.claim_due(world.clock.now(), 10, "token-of-" + worker.id,
                                         worker=worker.id, platform=None)


async def test_a_restart_on_the_same_host_resolves_a_dead_process_claims_at_once(
    world: World,
) -> None:
    await world.setup_intro()
    assert "mentor" in await world.say(BOB, "mentor set topics: rust bio: hi")
    assert "Request #" in await world.say(ADA, REQUEST.replace("Ada", "Bob"))
    now = world.clock.now()
    # A process claims both requests, delivers the first, and dies before recording anything.
    dead = Worker(f"{socket.gethostname()}:{_dead_pid()}:gone", None, socket.gethostname(),
                  _dead_pid(), now, now)
    claimed = await _claim_as(world, dead)
    assert [c.kind for c in claimed] == [INTRO_REQUEST, INTRO_REQUEST]
    first, second = claimed
    await world.port.send(
        COMMUNITY, DirectMessage(MemberAddress("U0ADA00001", "Ada", "UTC")),
        MessageBuilder().say("the first request").build(), idempotency_key(first.id),
    )
    # Its pid no longer runs on this host: no waiting for a lease or a claim timeout.
    stats = await world.engine.recover()
    assert (stats.recovered, stats.sent) == (2, 2)
    rows = await world.nudges(INTRO_REQUEST)
    assert [r["state"] for r in rows] == ["sent", "sent"]
    assert "found already delivered" in rows[0]["outcome"]
    assert rows[1]["outcome"] is None
    assert world.port.attempts[idempotency_key(first.id)] == 1  # not sent again
    assert world.port.attempts[idempotency_key(second.id)] == 1
    assert world.port.deduplicated == 0
    # Asked from the moment each became due (a claim takes only what is due), not 7 days back.
    assert world.port.searched_since == [c.due_at - PLATFORM_CLOCK_SKEW for c in claimed]
    assert (await world.engine.recover()).handled == 0
    async with world.store.reading() as tx:
        assert dead.id not in [w.id for w in await tx.workers.all()]


async def test_a_recovered_nudge_postponed_for_quiet_hours_is_not_sent_twice(
    world: World,
) -> None:
    await world.setup_intro()
    await world.engine.run_due()
    world.clock.advance(timedelta(hours=48))  # the reminder to Ada is due (a prompt)
    now = world.clock.now()
    dead = Worker(f"{socket.gethostname()}:{_dead_pid()}:gone", None, socket.gethostname(),
                  _dead_pid(), now, now)
    [reminder] = await _claim_as(world, dead)
    assert reminder.kind == INTRO_DEADLINE_NUDGE
    key = idempotency_key(reminder.id)
    ada = DirectMessage(MemberAddress("U0ADA00001", "Ada", "UTC"))
    await world.port.send(COMMUNITY, ada, MessageBuilder().say("reminder").build(), key)
    # The process died before recording; Ada's quiet hours begin before the restart.
    start = (now - timedelta(hours=1)).strftime("%H:%M")
    end = (now + timedelta(hours=2)).strftime("%H:%M")
    assert f"{start}-{end}" in await world.say(ADA, f"quiet {start}-{end}")
    assert (await world.engine.recover()).postponed == 1
    world.clock.advance(timedelta(hours=2))
    assert (await world.engine.run_due()).sent == 1  # found on the platform...
    assert world.port.attempts[key] == 1  # ...not sent again after the quiet hours
    assert world.port.searched_since[-1] is None  # a send of unknown time: all history
    row = await world.one(INTRO_DEADLINE_NUDGE)
    assert row["state"] == "sent" and "found already delivered" in row["outcome"]


async def test_a_live_peer_keeps_its_claims_until_its_heartbeat_stops(world: World) -> None:
    await world.setup_intro()
    now = world.clock.now()
    peer = Worker("elsewhere:4242:peer", None, "elsewhere", 4242, now, now)
    await _claim_as(world, peer)
    # Seconds-old claims of a process on another host that is beating: left alone.
    world.clock.advance(timedelta(seconds=world.settings.worker_lease_seconds))
    assert (await world.engine.recover()).handled == 0
    assert (await world.engine.run_due()).handled == 0
    async with world.store.transaction() as tx:
        assert await tx.workers.beat(peer.id, world.clock.now())
    world.clock.advance(timedelta(seconds=world.settings.worker_lease_seconds))
    assert (await world.engine.recover()).handled == 0
    # Its heartbeat is now older than the lease: it is gone, and its claims are taken over.
    world.clock.advance(timedelta(seconds=1))
    stats = await world.engine.recover()
    assert (stats.recovered, stats.sent) == (1, 1)
    assert len(world.port.deliveries) == 1


async def test_claims_without_a_known_owner_are_recovered_after_the_claim_timeout(
    world: World,
) -> None:
    await world.setup_intro()
    async with world.store.transaction() as tx:
        await tx.nudges.claim_due(world.clock.now(), 10, "dead-process", worker="unknown",
                                  platform=None)
    assert (await world.engine.recover()).handled == 0
    world.clock.advance(timedelta(seconds=world.settings.claim_timeout_seconds))
    stats = await world.engine.recover()
    assert (stats.recovered, stats.sent) == (1, 1)
    assert len(world.port.deliveries) == 1


async def _seed_alerts(store: Store, clock: ManualClock, count: int) -> int:
    async with store.transaction() as tx:
        community = await tx.communities.create("test", COMMUNITY, "Test", clock.now())
        await tx.nudges.add(
            [NewNudge(community.id, ORGANIZER_ALERT, clock.now() - timedelta(seconds=i),
                      channel="C0ORG", payload={"text": f"alert {i}"}) for i in range(count)],
            clock.now(),
        )
    return community.id


class TakeTurns:
    """One engine's view of the shared port: after its first send it waits until the other
    engine has sent once too (or has finished without sending, which the test then reports),
    so both really run at the same time: no timing luck, no sleeps.
    """

    def __init__(self, port: RecordingMessenger) -> None:
        self.port = port
        self.platform = port.platform
        self.sent_once = asyncio.Event()
        self.finished = asyncio.Event()
        self.other: TakeTurns = self

    async def send(self, community: str, destination: Destination, message: Any,
                   key: str) -> Delivered:
        delivered = await self.port.send(community, destination, message, key)
        self.sent_once.set()
        waits = [asyncio.ensure_future(e.wait())
                 for e in (self.other.sent_once, self.other.finished)]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        return delivered

    async def find_sent(self, community: str, destination: Destination, key: str, *,
                        since: datetime | None = None) -> Delivered | None:
        return await self.port.find_sent(community, destination, key, since=since)

    async def open_space(self, community: str, key: str, members: Any, title: str,
                         parent_channel: str | None) -> str:
        return await self.port.open_space(community, key, members, title, parent_channel)


async def test_two_engines_on_one_database_never_send_twice(
    any_db_url: str, clock: ManualClock
) -> None:
    settings_of_db = StorageSettings(url=any_db_url)
    first_db, second_db = create_engine(settings_of_db), create_engine(settings_of_db)
    await migrate(first_db)
    stores = [SqlStore(first_db), SqlStore(second_db)]
    try:
        await _seed_alerts(stores[0], clock, 300)
        port = RecordingMessenger()
        settings = NudgeSettings(batch_size=7)
        views = TakeTurns(port), TakeTurns(port)
        views[0].other, views[1].other = views[1], views[0]

        async def run(engine: NudgeEngine, view: TakeTurns) -> RunStats:
            try:
                return await engine.run_due()
            finally:
                view.finished.set()

        results = await asyncio.gather(*(
            run(build_engine(s, view, clock, settings, CommunityDefaults()), view)
            for s, view in zip(stores, views, strict=True)
        ))
        assert sum(r.sent for r in results) == 300
        assert all(r.sent > 0 for r in results), results  # both really took part
        assert len(port.attempts) == 300 and set(port.attempts.values()) == {1}
        assert port.deduplicated == 0
        async with stores[0].reading() as tx:
            states = await tx.conn.execute(  # type: ignore[attr-defined]
                select(t.nudges.c.state).distinct())
            assert [s for (s,) in states] == ["sent"]
    finally:
        for s in stores:
            await s.close()


async def test_two_engines_recovering_at_once_never_send_twice(
    any_db_url: str, clock: ManualClock
) -> None:
    settings_of_db = StorageSettings(url=any_db_url)
    first_db, second_db = create_engine(settings_of_db), create_engine(settings_of_db)
    await migrate(first_db)
    stores = [SqlStore(first_db), SqlStore(second_db)]
    try:
        await _seed_alerts(stores[0], clock, 120)
        async with stores[0].transaction() as tx:
            assert len(await tx.nudges.claim_due(clock.now(), 1000, "dead", worker="unknown",
                                                 platform=None)) == 120
        clock.advance(timedelta(minutes=10))
        port = RecordingMessenger()
        settings = NudgeSettings(batch_size=5)
        engines = [build_engine(s, port, clock, settings, CommunityDefaults()) for s in stores]
        results = await asyncio.gather(*(e.recover() for e in engines))
        assert sum(r.recovered for r in results) == 120
        assert len(port.attempts) == 120 and set(port.attempts.values()) == {1}
    finally:
        for s in stores:
            await s.close()
