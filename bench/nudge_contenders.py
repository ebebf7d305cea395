"""The nudge benchmark's measurements, each run in a fresh process by ``bench.child``.

Every contender delivers to :class:`bench.meters.TimedMessenger` and does the same work under
the same rules:

* **Scheduling as commands do it.** One transaction (one commit) per command, holding its 1–6
  nudges, written through the real repository (``tx.nudges.add``), the values built inside
  the timer. The bot's scheduler is running and is woken after each command, as
  ``core.on_outbox(scheduler.wake)`` does. APScheduler 3 gets the same jobs with ``add_job``
  on a *running* ``AsyncIOScheduler`` with ``SQLAlchemyJobStore`` on the same SQLite file
  (WAL, the same pragmas): each ``add_job`` commits and wakes the scheduler, as a bot using it
  would. The bare aiosqlite loop writes each command's rows in one ``BEGIN IMMEDIATE`` …
  ``COMMIT``.
* **Dispatch in real time.** Every nudge is due at the same moment, after scheduling is over;
  dispatch is the time from that moment to the last delivery, through each contender's own
  scheduler (the bot's ``NudgeScheduler``, APScheduler's timer). The bare loop, which has no
  scheduler, claims as soon as scheduling is done: it is the floor.

Scheduling wakes of the bot's scheduler, APScheduler's synchronous commits inside the event
loop, the engine's DM budgets and quiet-hour checks: all of it is in the timings, because all
of it happens in a bot.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import json
import logging
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.community import Seeded
from bench.meters import StallMeter, TimedMessenger, peak_rss_mb, percentile
from bench.nudge_work import (
    PING,
    TRIVIAL,
    command_shapes,
    engine_kinds,
    new_nudges,
    spread,
    write_nudges,
)
from bot import choice_ids
from bot.bootstrap import assemble, build_core, build_engine, build_registry, open_store
from bot.clock import SystemClock
from bot.config import CommunityDefaults, NudgeSettings, Settings, StorageSettings
from bot.domain import Community, Nudge
from bot.messages import MemberAddress, MessageBuilder, MomentStyle
from bot.nudges.engine import NudgeEngine, idempotency_key
from bot.nudges.kinds import NudgeKinds, OpenSpace, Outgoing, RenderContext
from bot.nudges.scheduler import NudgeScheduler
from bot.ports import ChannelPost, DirectMessage
from bot.repositories import Store
from bot.when import warm_up
from tests.recording_port import RecordingMessenger

log = logging.getLogger(__name__)

SETTINGS = NudgeSettings()
BATCH = SETTINGS.batch_size


def _engine(store: Store, port: RecordingMessenger) -> tuple[NudgeEngine, NudgeScheduler]:
    """The real engine with every feature's kinds plus ``bench.ping``, and its scheduler."""
    engine = NudgeEngine(store, port, SystemClock(), SETTINGS, CommunityDefaults(),
                         engine_kinds())
    return engine, NudgeScheduler(engine, SETTINGS.sweep_seconds, SETTINGS.heartbeat_seconds)


async def _close(scheduler: NudgeScheduler | None, store: Store) -> None:
    """Stop the scheduler and close the store. A shutdown that hangs (seen twice, never
    reproduced on demand) is reported with every task's stack instead of hanging the run."""

    async def close() -> None:
        if scheduler is not None:
            await scheduler.stop()
        await store.close()

    try:
        await asyncio.wait_for(close(), 60)
    except TimeoutError:
        log.error("shutdown did not finish within 60 s; the tasks still running:")
        for task in asyncio.all_tasks():
            task.print_stack(file=sys.stderr)


class Profile:
    """cProfile around the measured part, when asked for (``--profile``): stats to a file."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._profiler = cProfile.Profile() if path else None

    def __enter__(self) -> Profile:
        if self._profiler is not None:
            self._profiler.enable()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._profiler is not None and self.path is not None:
            self._profiler.disable()
            self._profiler.dump_stats(self.path)


def _checked(port: TimedMessenger, expected: int) -> None:
    twice = [key for key, n in port.attempts.items() if n > 1]
    if port.delivered_count != expected or twice:
        raise RuntimeError(f"delivered {port.delivered_count} of {expected}; "
                           f"{len(twice)} key(s) sent more than once")


# -- section 1: schedule as commands do, then dispatch ------------------------------------------


async def engine_throughput(url: str, seeded: str, renderer: str, nudges: int,
                            margin: float, profile: str | None = None,
                            wake: bool = True) -> dict[str, Any]:
    """The bot's way. ``wake=False`` (for the breakdown only) leaves out the scheduler's wake
    after each command, which in the bot costs a claim transaction and a next-due read."""
    plan = Seeded.load(Path(seeded))
    shapes = command_shapes(plan, nudges)
    store = await open_store(StorageSettings(url=url))
    port = TimedMessenger(nudges)
    engine, scheduler = _engine(store, port)
    await scheduler.start()
    clock = engine.clock
    try:
        with Profile(profile):
            due = clock.now() + timedelta(seconds=margin)
            async with StallMeter() as schedule_stall:
                began = time.perf_counter()
                for shape in shapes:
                    rows = new_nudges(shape, renderer, plan.community_id, due)
                    async with store.transaction() as tx:
                        await tx.nudges.add(rows, clock.now())
                    if wake:
                        # what core.on_outbox does after a command
                        scheduler.wake(min(r.due_at for r in rows))
                    await asyncio.sleep(0)  # the command's handler returns to the loop
                scheduled = time.perf_counter() - began
            if not wake:
                scheduler.wake()  # once, so the alarm is armed for the due time
            overlapped = clock.now() >= due
            async with StallMeter() as dispatch_stall:
                await asyncio.wait_for(port.done.wait(), timeout=margin + 1800)
        _checked(port, nudges)
        return {
            "schedule_s": scheduled, "dispatch_s": max(port.arrived.values()) - due.timestamp(),
            "commands": len(shapes), "nudges": nudges, "overlapped": overlapped,
            "schedule_stall_ms": schedule_stall.worst * 1000,
            "dispatch_stall_ms": dispatch_stall.worst * 1000,
        }
    finally:
        await _close(scheduler, store)


@dataclass
class _Aps:
    """What an APScheduler job needs (module state: the job store pickles a reference to the
    job function, not a closure)."""

    store: Store
    kinds: NudgeKinds
    community: Community
    settings: CommunityDefaults
    port: TimedMessenger
    clock: SystemClock


_APS: _Aps | None = None


async def aps_deliver(i: int, kind: str, recipient_id: int | None, channel: str | None,
                      session_id: int | None, payload: dict[str, Any]) -> None:
    """One APScheduler job = one nudge: render it from the current state, send it.

    The community and its settings are loaded once per process (generous to APScheduler: the
    engine reloads them per batch). The real renderer reads the session and both people in a
    read-only transaction, as the engine does inside its claim transaction.
    """
    state = _APS
    assert state is not None
    community = state.community
    if kind == PING:  # the same message the ping renderer makes, from the job's arguments
        out = Outgoing(ChannelPost(channel or ""),
                       MessageBuilder().say(f"ping {payload.get('i')}").build())
    else:
        declared = state.kinds.get(kind)
        assert declared is not None
        nudge = Nudge(i, community.id, kind, recipient_id, channel, None, session_id, payload,
                      state.clock.now(), "sending", 0)
        async with state.store.reading() as tx:
            rendered = await declared.render(
                RenderContext(tx, community, state.settings, state.clock.now()), nudge)
        assert isinstance(rendered, Outgoing)

        async def stash(command: str) -> int:
            async with state.store.transaction() as tx:
                return await tx.communities.stash_command(community.id, command,
                                                          state.clock.now())

        out = Outgoing(rendered.destination,
                       await choice_ids.seal(rendered.message, community.id, stash))
    assert not isinstance(out.destination, OpenSpace)  # reminders go to people or channels
    await state.port.send(community.external_id, out.destination, out.message, f"aps-{i}")


class _JobFailures:
    """Jobs APScheduler ran and that raised (or that it skipped as missed).

    A date job is removed from its store before it runs, so a job that raises (say, the
    database stayed busy past its timeout) is gone for good: APScheduler logs it and nothing
    retries it. The benchmark counts them instead of waiting for deliveries that cannot come;
    ``settled`` is set once every job has either delivered or failed.
    """

    def __init__(self, port: TimedMessenger, nudges: int,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.port, self.nudges, self.loop = port, nudges, loop
        self.count = 0
        self.first = ""
        self.settled = asyncio.Event()

    def failed(self, event: Any) -> None:
        self.count += 1
        if not self.first:
            exception = getattr(event, "exception", None)
            self.first = repr(exception) if exception is not None else "missed"
        self.loop.call_soon_threadsafe(self.check)

    def check(self) -> None:
        if len(self.port.arrived) + self.count >= self.nudges:
            self.settled.set()


def _aps_scheduler(path: str, busy_ms: int) -> Any:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from sqlalchemy import create_engine as create_sync_engine
    from sqlalchemy import event

    engine = create_sync_engine(f"sqlite:///{path}")

    def pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    event.listen(engine, "connect", pragmas)
    return AsyncIOScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine)},
        # No job may be dropped (its default 1 s misfire grace would drop late ones).
        job_defaults={"coalesce": True, "misfire_grace_time": None},
        timezone=UTC,
    )


async def aps_throughput(url: str, seeded: str, renderer: str, nudges: int,
                         margin: float) -> dict[str, Any]:
    global _APS
    plan = Seeded.load(Path(seeded))
    shapes = command_shapes(plan, nudges)
    storage = StorageSettings(url=url)
    store = await open_store(storage)
    port = TimedMessenger(nudges)
    clock = SystemClock()
    async with store.reading() as tx:
        community = await tx.communities.by_id(plan.community_id)
        assert community is not None
        settings = CommunityDefaults().model_copy(
            update=await tx.communities.settings(community.id))
    _APS = _Aps(store, engine_kinds(), community, settings, port, clock)
    path = url.removeprefix("sqlite+aiosqlite:///")
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED

    scheduler = _aps_scheduler(path, round(storage.busy_timeout_seconds * 1000))
    failures = _JobFailures(port, nudges, asyncio.get_running_loop())
    scheduler.add_listener(failures.failed, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    port.on_arrival = failures.check
    scheduler.start()
    try:
        due = clock.now() + timedelta(seconds=margin)
        async with StallMeter() as schedule_stall:
            began = time.perf_counter()
            for shape in shapes:
                for k, n in enumerate(new_nudges(shape, renderer, community.id, due)):
                    i = shape.first + k
                    scheduler.add_job(
                        aps_deliver, "date", run_date=due, id=f"n{i}",
                        args=[i, n.kind, n.recipient_id, n.channel, n.session_id,
                              dict(n.payload)],
                    )
                await asyncio.sleep(0)  # the command's handler returns to the loop, which
                # runs the scheduler's wake-ups (APScheduler queues one per add_job)
            scheduled = time.perf_counter() - began
        overlapped = clock.now() >= due
        async with StallMeter() as dispatch_stall:
            await asyncio.wait_for(failures.settled.wait(), timeout=margin + 3600)
        twice = [key for key, n in port.attempts.items() if n > 1]
        if twice:
            raise RuntimeError(f"{len(twice)} key(s) sent more than once")
        return {
            "schedule_s": scheduled, "dispatch_s": max(port.arrived.values()) - due.timestamp(),
            "commands": len(shapes), "nudges": nudges, "overlapped": overlapped,
            "schedule_stall_ms": schedule_stall.worst * 1000,
            "dispatch_stall_ms": dispatch_stall.worst * 1000,
            "lost": failures.count, "lost_reason": failures.first,
        }
    finally:
        scheduler.shutdown(wait=False)
        await _close(None, store)


async def bare_throughput(url: str, seeded: str, renderer: str, nudges: int,
                          ) -> dict[str, Any]:
    """The storage floor: the same commits in raw aiosqlite, no SQLAlchemy, no engine.

    Scheduling: one ``BEGIN IMMEDIATE`` … ``COMMIT`` per command with its rows (the same
    columns, JSON payload and stored time format). Dispatch: the engine's protocol — one
    transaction per batch that records the previous batch's deliveries and claims the next
    500 (``UPDATE … RETURNING``); for the real renderer it also reads each nudge's session and
    both people in that transaction and builds the same kind of message. No DM budgets, no
    quiet hours, no stale checks, no button ids: those are the product's work on top.
    """
    import aiosqlite

    plan = Seeded.load(Path(seeded))
    shapes = command_shapes(plan, nudges)
    port = TimedMessenger(nudges)
    path = url.removeprefix("sqlite+aiosqlite:///")
    db = await aiosqlite.connect(path, isolation_level=None)
    community_id = plan.community_id
    try:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                       "busy_timeout=2000"):
            await db.execute(f"PRAGMA {pragma}")
        async with db.execute("SELECT external_id, platform FROM communities WHERE id=?",
                              (community_id,)) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        external_id, platform = row
        async with StallMeter() as schedule_stall:
            began = time.perf_counter()
            for shape in shapes:
                now = datetime.now(UTC)
                stamp = _stamp(now)
                rows = [
                    (n.community_id, n.kind, n.recipient_id, n.channel, n.session_id,
                     json.dumps(dict(n.payload), sort_keys=True), _stamp(n.due_at), stamp,
                     platform)
                    for n in new_nudges(shape, renderer, community_id, now)
                ]
                await db.execute("BEGIN IMMEDIATE")
                await db.executemany(
                    "INSERT INTO nudges (community_id, kind, recipient_id, channel, session_id, "
                    "payload, due_at, state, attempts, created_at, platform) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)", rows)
                await db.execute("COMMIT")
                await asyncio.sleep(0)
            scheduled = time.perf_counter() - began
        async with StallMeter() as dispatch_stall:
            began = time.perf_counter()
            await _bare_dispatch(db, port, external_id, renderer)
            dispatched = time.perf_counter() - began
        _checked(port, nudges)
        return {
            "schedule_s": scheduled, "dispatch_s": dispatched, "commands": len(shapes),
            "nudges": nudges, "overlapped": False,
            "schedule_stall_ms": schedule_stall.worst * 1000,
            "dispatch_stall_ms": dispatch_stall.worst * 1000,
        }
    finally:
        await db.close()


def _stamp(at: datetime) -> str:
    """The text SQLAlchemy stores for a UTC time in SQLite."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


async def _bare_dispatch(db: Any, port: TimedMessenger, external_id: str, renderer: str,
                         ) -> None:
    done: list[tuple[str, str, int, str]] = []
    while True:
        token = uuid.uuid4().hex
        now = _stamp(datetime.now(UTC))
        await db.execute("BEGIN IMMEDIATE")
        if done:
            await db.executemany(
                "UPDATE nudges SET state='sent', sent_at=?, delivery_ref=?, delivered_via='dm' "
                "WHERE id=? AND claim_token=?", done)
        async with db.execute(
            "UPDATE nudges SET state='sending', claimed_at=?, claim_token=? "
            "WHERE id IN (SELECT id FROM nudges WHERE state='pending' AND due_at<=? "
            "ORDER BY due_at, id LIMIT ?) "
            "RETURNING id, kind, recipient_id, channel, session_id, payload",
            (now, token, now, BATCH),
        ) as cursor:
            claimed = sorted(await cursor.fetchall())
        outgoing = []
        for nid, _kind, recipient_id, channel, session_id, payload in claimed:
            if renderer == TRIVIAL:
                outgoing.append((nid, ChannelPost(channel), MessageBuilder().say(
                    f"ping {json.loads(payload).get('i')}").build()))
                continue
            outgoing.append((nid, *await _bare_reminder(db, recipient_id, session_id)))
        await db.execute("COMMIT")
        done = []
        if not claimed:
            return
        for nid, destination, message in outgoing:
            delivered = await port.send(external_id, destination, message, idempotency_key(nid))
            done.append((now, delivered.ref, nid, token))


async def _bare_reminder(db: Any, recipient_id: int, session_id: int) -> tuple[Any, Any]:
    """The mentor reminder's reads and message, by hand: the session, then both people."""
    async with db.execute(
        "SELECT mentor_id, member_id, topic, start_at, duration_minutes FROM sessions "
        "WHERE id=?", (session_id,)) as cursor:
        mentor_id, member_id, topic, start_at, minutes = await cursor.fetchone()
    people = {}
    for person_id in (mentor_id, member_id):
        async with db.execute(
            "SELECT id, platform_user_id, display_name, timezone FROM members WHERE id=?",
            (person_id,)) as cursor:
            pid, user_id, name, zone = await cursor.fetchone()
        people[pid] = MemberAddress(user_id, name, zone or "UTC")
    reader = people[recipient_id]
    other = people[member_id if recipient_id == mentor_id else mentor_id]
    start = datetime.fromisoformat(start_at).replace(tzinfo=UTC)
    message = (
        MessageBuilder().say(f"Reminder: session #{session_id} with ").mention(other)
        .say(" about “").user_text(topic).say("” on ")
        .moment(start, reader.timezone, MomentStyle.DATE_TIME).say(f" ({minutes} min).")
        .line("No agenda shared yet.")
        .choice("Reschedule", f"reschedule {session_id}")
        .choice("Cancel", f"cancel {session_id}")
        .build()
    )
    return DirectMessage(reader), message


# -- section 2: lateness through the real scheduler ---------------------------------------------


async def lateness(url: str, seeded: str, renderer: str, nudges: int, seconds: float,
                   lead: float = 2.0) -> dict[str, Any]:
    """``nudges`` due evenly within ``seconds``, written before the scheduler starts (set-up);
    lateness = arrival − due, in real time."""
    plan = Seeded.load(Path(seeded))
    shapes = command_shapes(plan, nudges)
    store = await open_store(StorageSettings(url=url))
    first = datetime.now(UTC) + timedelta(seconds=lead)
    await write_nudges(store, shapes, renderer, plan.community_id,
                       spread(shapes, first, seconds), datetime.now(UTC))
    async with store.reading() as tx:
        due = {idempotency_key(n.id): n.due_at.timestamp()
               for n in await tx.nudges.list(plan.community_id, limit=nudges + 1)}
    port = TimedMessenger(nudges)
    _, scheduler = _engine(store, port)
    try:
        async with StallMeter() as stall:
            await scheduler.start()
            await asyncio.wait_for(port.done.wait(), timeout=seconds + lead + 600)
        _checked(port, nudges)
    finally:
        await _close(scheduler, store)
    late = [port.arrived[key] - at for key, at in due.items()]
    return {"p50_ms": percentile(late, 50) * 1000, "p99_ms": percentile(late, 99) * 1000,
            "max_ms": max(late) * 1000, "stall_ms": stall.worst * 1000}


# -- section 3: start-up with a big backlog pending ---------------------------------------------


async def start_up(url: str) -> dict[str, Any]:
    """The bot's own start (``assemble``: migrations check, time-reading warm-up, registry,
    core, engine, scheduler start with recovery), with the database's pending nudges."""
    settings = Settings(storage=StorageSettings(url=url))
    began = time.perf_counter()
    async with assemble(settings, RecordingMessenger(keep_messages=False)) as app:
        ready = time.perf_counter() - began
        armed = app.scheduler.scheduler.get_job("next") or app.scheduler.scheduler.get_job("wake")
        assert armed is not None
        rss = peak_rss_mb()
    return {"start_s": ready, "rss_mb": rss}


async def start_up_steps(url: str) -> dict[str, Any]:
    """The same steps as ``assemble``, one by one, to say where start-up time goes."""
    settings = Settings(storage=StorageSettings(url=url))
    marks = [time.perf_counter()]
    store = await open_store(settings.storage)
    marks.append(time.perf_counter())
    await asyncio.to_thread(warm_up)
    marks.append(time.perf_counter())
    registry = build_registry()
    core = build_core(store, SystemClock(), settings.community, registry)
    engine = build_engine(store, RecordingMessenger(keep_messages=False), SystemClock(),
                          settings.nudges, settings.community, registry)
    scheduler = NudgeScheduler(engine, settings.nudges.sweep_seconds,
                               settings.nudges.heartbeat_seconds)
    core.on_outbox(scheduler.wake)
    marks.append(time.perf_counter())
    await scheduler.start()
    marks.append(time.perf_counter())
    rss = peak_rss_mb()
    await scheduler.stop()
    await store.close()
    steps = ("open_store_s", "warm_up_s", "build_s", "scheduler_start_s")
    return {**{name: b - a for name, a, b in zip(steps, marks, marks[1:], strict=False)},
            "rss_mb": rss}


# -- section 4: drain a backlog after downtime --------------------------------------------------


async def drain(url: str, seeded: str, renderer: str, nudges: int,
                profile: str | None = None) -> dict[str, Any]:
    """``nudges`` overdue (the bot was down for two hours), then start and deliver them all."""
    plan = Seeded.load(Path(seeded))
    shapes = command_shapes(plan, nudges)
    setup = await open_store(StorageSettings(url=url))
    overdue = datetime.now(UTC) - timedelta(hours=2)
    await write_nudges(setup, shapes, renderer, plan.community_id, overdue, overdue)
    await setup.close()
    del setup, shapes
    gc.collect()
    store = await open_store(StorageSettings(url=url))
    port = TimedMessenger(nudges)
    _, scheduler = _engine(store, port)
    try:
        with Profile(profile):
            async with StallMeter() as stall:
                began = time.perf_counter()
                await scheduler.start()  # registers, recovers, then drains in the background
                await asyncio.wait_for(port.done.wait(), timeout=3600)
                took = time.perf_counter() - began
        _checked(port, nudges)
    finally:
        await _close(scheduler, store)
    return {"drain_s": took, "stall_ms": stall.worst * 1000}


# -- section 5: several dispatcher processes on one database ------------------------------------


async def dispatcher(url: str) -> dict[str, Any]:
    """One dispatcher process of a multi-instance run, started the bot's way (its own
    identity, the real registry's kinds, the real scheduler). Talks over stdin/stdout: prints
    ``ready``, starts its scheduler on ``go``, stops on ``stop``, then reports every delivery
    (key, wall time) so the parent can count deliveries per key across processes."""
    loop = asyncio.get_running_loop()
    store = await open_store(StorageSettings(url=url))
    port = TimedMessenger(sys.maxsize)
    engine = build_engine(store, port, SystemClock(), SETTINGS, CommunityDefaults(),
                          build_registry())
    scheduler = NudgeScheduler(engine, SETTINGS.sweep_seconds, SETTINGS.heartbeat_seconds)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    if (await loop.run_in_executor(None, sys.stdin.readline)).strip() != "go":
        raise RuntimeError("expected go")
    try:
        async with StallMeter() as stall:
            await scheduler.start()
            await loop.run_in_executor(None, sys.stdin.readline)  # "stop"
    finally:
        await _close(scheduler, store)
    return {"deliveries": list(port.arrived.items()), "stall_ms": stall.worst * 1000,
            "attempts": sum(port.attempts.values())}

