"""Benchmark of the durable nudge engine. Prints figures; not a test.

    python -m bench.nudges            # full run (100k nudges)
    python -m bench.nudges --quick    # smaller run (10k), for a quick look

Side by side, on SQLite files in a temporary directory, all delivering to the in-memory
:class:`tests.recording_port.RecordingMessenger`:

1. Throughput: schedule N nudges and dispatch them all.
   - mentorbot: ``Tx.add_nudges`` then ``NudgeEngine.run_due`` (claim, render, send, record);
   - APScheduler 3 with ``SQLAlchemyJobStore`` on SQLite (WAL, like ours): one date job per
     nudge, ``misfire_grace_time=None`` so none is dropped. Measured on a smaller N (it commits
     once per job to add it and once to remove it) and extrapolated per nudge;
   - a bare aiosqlite claim loop over the same table: the storage floor (claim a batch with one
     UPDATE … RETURNING, send, mark sent with one executemany).
2. Lateness with the real scheduler and real time: 10k nudges due within the same 10 s.
3. Start-up with 100k pending nudges (time, peak RSS; in a fresh subprocess), draining a 100k
   backlog after downtime through the real scheduler, and the worst event-loop stall meanwhile
   (a ticker task every 5 ms).
4. (Context) APScheduler's own default, ``misfire_grace_time=1``: how many of 10k jobs due
   within 10 s it skips when its SQLite job store is the schedule.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from bot import notifications as n
from bot.clock import ManualClock, SystemClock
from bot.config import CommunityDefaults, NudgeSettings
from bot.messages import Message, MessageBuilder
from bot.ports import ChannelPost
from storage.db import create_engine, migrate
from storage.store import NewNudge, NudgeRow, Store
from tests.recording_port import RecordingMessenger

log = logging.getLogger(__name__)

KIND = "bench.ping"
CHANNEL = "C0BENCH001"
COMMUNITY = "T0BENCH001"
BATCH = NudgeSettings().batch_size


@n.renders(KIND)
async def _ping(ctx: n.RenderContext, nudge: NudgeRow) -> n.Rendered:
    """The cheapest real renderer: a short post in a channel, made from the row."""
    return n.Outgoing(
        ChannelPost(nudge.channel or CHANNEL),
        MessageBuilder().say(f"ping {nudge.payload.get('i')}").build(),
    )


def _message(i: int) -> Message:
    return MessageBuilder().say(f"ping {i}").build()


@contextmanager
def timer() -> Iterator[list[float]]:
    out: list[float] = []
    start = time.perf_counter()
    yield out
    out.append(time.perf_counter() - start)


async def _fresh_store(path: Path) -> tuple[Store, int]:
    store = Store(create_engine(f"sqlite+aiosqlite:///{path}"))
    await migrate(store.engine)
    async with store.transaction() as tx:
        community = await tx.create_community("bench", COMMUNITY, "Bench", datetime.now(UTC))
    return store, community.id


def _new(community_id: int, count: int, due: datetime, spread: float = 0.0) -> list[NewNudge]:
    return [
        NewNudge(community_id, KIND, due + timedelta(seconds=spread * i / max(count, 1)),
                 channel=CHANNEL, payload={"i": i})
        for i in range(count)
    ]


async def _schedule(store: Store, nudges: list[NewNudge], now: datetime) -> None:
    for start in range(0, len(nudges), 10_000):
        async with store.transaction() as tx:
            await tx.add_nudges(nudges[start:start + 10_000], now)


# -- 1. throughput ---------------------------------------------------------------------------


async def bench_engine(tmp: Path, count: int) -> tuple[float, float]:
    from bot.nudges.engine import NudgeEngine

    store, cid = await _fresh_store(tmp / f"engine-{uuid.uuid4().hex}.db")
    try:
        clock = ManualClock(datetime.now(UTC))
        port = RecordingMessenger(keep_messages=False)
        engine = NudgeEngine(store, port, clock, NudgeSettings(), CommunityDefaults())
        nudges = _new(cid, count, clock.now())
        with timer() as scheduling:
            await _schedule(store, nudges, clock.now())
        with timer() as dispatching:
            stats = await engine.run_due()
        assert stats.sent == count == port.delivered_count, (stats, count)
        return scheduling[0], dispatching[0]
    finally:
        await store.close()


_APS_PORT: RecordingMessenger | None = None
_APS_DONE: asyncio.Event | None = None
_APS_TARGET = 0


async def aps_job(i: int) -> None:
    """One APScheduler job = one nudge: send it (module level so the job store can pickle it)."""
    assert _APS_PORT is not None and _APS_DONE is not None
    await _APS_PORT.send(COMMUNITY, ChannelPost(CHANNEL), _message(i), f"aps-{i}")
    if _APS_PORT.delivered_count >= _APS_TARGET:
        _APS_DONE.set()


def _aps_scheduler(path: Path, grace: int | None) -> Any:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from sqlalchemy import create_engine as create_sync_engine
    from sqlalchemy import event

    engine = create_sync_engine(f"sqlite:///{path}")

    def pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", pragmas)
    defaults: dict[str, Any] = {"coalesce": True}
    if grace is None:
        defaults["misfire_grace_time"] = None
    return AsyncIOScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine)},
        job_defaults=defaults, timezone=UTC,
    )


async def bench_apscheduler(tmp: Path, count: int) -> tuple[float, float]:
    global _APS_PORT, _APS_DONE, _APS_TARGET
    _APS_PORT = RecordingMessenger(keep_messages=False)
    _APS_DONE, _APS_TARGET = asyncio.Event(), count
    scheduler = _aps_scheduler(tmp / f"aps-{uuid.uuid4().hex}.db", grace=None)
    scheduler.start(paused=True)
    try:
        now = datetime.now(UTC)
        with timer() as scheduling:
            for i in range(count):
                scheduler.add_job(aps_job, "date", run_date=now, args=[i], id=f"n{i}")
        with timer() as dispatching:
            scheduler.resume()
            await _APS_DONE.wait()
        assert _APS_PORT.delivered_count == count
        return scheduling[0], dispatching[0]
    finally:
        scheduler.shutdown(wait=False)


async def bench_bare(tmp: Path, count: int) -> tuple[float, float]:
    """The floor: the same table and the same claim/mark protocol in raw aiosqlite."""
    path = tmp / f"bare-{uuid.uuid4().hex}.db"
    store, cid = await _fresh_store(path)
    await store.close()
    port = RecordingMessenger(keep_messages=False)
    db = await aiosqlite.connect(path, isolation_level=None)
    try:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
        with timer() as scheduling:
            rows = [(cid, KIND, CHANNEL, json.dumps({"i": i}), now, now)
                    for i in range(count)]
            for start in range(0, count, 10_000):
                await db.execute("BEGIN IMMEDIATE")
                await db.executemany(
                    "INSERT INTO nudges (community_id, kind, channel, payload, due_at, state, "
                    "attempts, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?)",
                    rows[start:start + 10_000],
                )
                await db.execute("COMMIT")
        with timer() as dispatching:
            while True:
                token = uuid.uuid4().hex
                await db.execute("BEGIN IMMEDIATE")
                cursor = await db.execute(
                    "UPDATE nudges SET state='sending', claimed_at=?, claim_token=? "
                    "WHERE id IN (SELECT id FROM nudges WHERE state='pending' AND due_at<=? "
                    "ORDER BY due_at, id LIMIT ?) "
                    "RETURNING id, channel, payload",
                    (now, token, now, BATCH),
                )
                claimed = await cursor.fetchall()
                await db.execute("COMMIT")
                if not claimed:
                    break
                done = []
                for nid, channel, payload in claimed:
                    i = json.loads(payload)["i"]
                    delivered = await port.send(COMMUNITY, ChannelPost(channel), _message(i),
                                                f"bare-{nid}")
                    done.append((now, delivered.ref, nid, token))
                await db.execute("BEGIN IMMEDIATE")
                await db.executemany(
                    "UPDATE nudges SET state='sent', sent_at=?, delivery_ref=? "
                    "WHERE id=? AND claim_token=?", done,
                )
                await db.execute("COMMIT")
        assert port.delivered_count == count
        return scheduling[0], dispatching[0]
    finally:
        await db.close()


# -- 2. lateness -----------------------------------------------------------------------------


class TimedMessenger(RecordingMessenger):
    """Records when each nudge arrived (wall time) and wakes a waiter at the target count."""

    def __init__(self, target: int) -> None:
        super().__init__(keep_messages=False)
        self.target = target
        self.arrived: dict[str, float] = {}
        self.done = asyncio.Event()

    async def send(self, community_external_id: str, destination: Any, message: Message,
                   idempotency_key: str) -> Any:
        delivered = await super().send(community_external_id, destination, message,
                                       idempotency_key)
        self.arrived[idempotency_key] = time.time()
        if len(self.arrived) >= self.target:
            self.done.set()
        return delivered


async def _ticker(stop: asyncio.Event, worst: list[float], every: float = 0.005) -> None:
    loop = asyncio.get_running_loop()
    last = loop.time()
    while not stop.is_set():
        await asyncio.sleep(every)
        now = loop.time()
        worst[0] = max(worst[0], now - last - every)
        last = now


async def bench_lateness(tmp: Path, count: int, spread: float = 10.0) -> tuple[float, float, float]:
    from bot.nudges.engine import NudgeEngine, idempotency_key
    from bot.nudges.scheduler import NudgeScheduler

    store, cid = await _fresh_store(tmp / f"late-{uuid.uuid4().hex}.db")
    port = TimedMessenger(count)
    engine = NudgeEngine(store, port, SystemClock(), NudgeSettings(), CommunityDefaults())
    scheduler = NudgeScheduler(engine, NudgeSettings().sweep_seconds)
    first_due = datetime.now(UTC) + timedelta(seconds=2)
    await _schedule(store, _new(cid, count, first_due, spread), datetime.now(UTC))
    async with store.transaction() as tx:
        due = {idempotency_key(r.id): r.due_at.timestamp()
               for r in await tx.nudges(cid, limit=count)}
    stop, worst = asyncio.Event(), [0.0]
    ticker = asyncio.create_task(_ticker(stop, worst))
    await scheduler.start()
    try:
        await asyncio.wait_for(port.done.wait(), timeout=spread + 60)
    finally:
        stop.set()
        await ticker
        await scheduler.stop()
        await store.close()
    late = sorted(port.arrived[k] - due[k] for k in due)
    return (statistics.median(late), late[int(len(late) * 0.99) - 1], worst[0])


# -- 3. start-up and backlog -----------------------------------------------------------------


async def _prepare(path: Path, count: int, due: datetime) -> None:
    store, cid = await _fresh_store(path)
    try:
        await _schedule(store, _new(cid, count, due, spread=3600.0), datetime.now(UTC))
    finally:
        await store.close()


async def _child_start(path: Path) -> None:
    """In a fresh process: start mentorbot (migrate, recover, arm the scheduler) and report."""
    from bot.bootstrap import assemble
    from bot.config import Settings, StorageSettings

    imported = time.perf_counter()
    settings = Settings(storage=StorageSettings(url=f"sqlite+aiosqlite:///{path}"))
    async with assemble(settings, RecordingMessenger(keep_messages=False)) as app:
        ready = time.perf_counter()
        armed = app.scheduler.scheduler.get_job("next") or app.scheduler.scheduler.get_job("wake")
        assert armed is not None
        rss = _peak_rss_mb()
        print(json.dumps({"start": ready - imported,
                          "rss_mb": rss}))


def _peak_rss_mb() -> float:
    """This process's peak RSS. Not getrusage's ru_maxrss: Linux carries it over from the
    parent across fork and exec, so a child of a big benchmark process reports the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_start(path: Path) -> dict[str, float]:
    began = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "bench.nudges", "--child-start", str(path)],
        check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
    )
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    figures["process"] = time.perf_counter() - began
    return figures


async def bench_drain(tmp: Path, count: int) -> tuple[float, float]:
    """A backlog of ``count`` overdue nudges (the bot was down): start and drain it."""
    from bot.nudges.engine import NudgeEngine
    from bot.nudges.scheduler import NudgeScheduler

    path = tmp / f"drain-{uuid.uuid4().hex}.db"
    await _prepare(path, count, datetime.now(UTC) - timedelta(hours=2))
    store = Store(create_engine(f"sqlite+aiosqlite:///{path}"))
    port = TimedMessenger(count)
    engine = NudgeEngine(store, port, SystemClock(), NudgeSettings(), CommunityDefaults())
    scheduler = NudgeScheduler(engine, NudgeSettings().sweep_seconds)
    stop, worst = asyncio.Event(), [0.0]
    ticker = asyncio.create_task(_ticker(stop, worst))
    try:
        with timer() as took:
            await engine.recover()
            await scheduler.start()
            await asyncio.wait_for(port.done.wait(), timeout=600)
    finally:
        stop.set()
        await ticker
        await scheduler.stop()
        await store.close()
    return took[0], worst[0]


# -- 4. APScheduler's default misfire grace ----------------------------------------------------


async def bench_aps_misfire(tmp: Path, count: int, spread: float = 10.0) -> tuple[int, int]:
    """10k jobs due within 10 s in APScheduler's SQLite job store, default misfire grace (1 s)."""
    global _APS_PORT, _APS_DONE, _APS_TARGET
    _APS_PORT = RecordingMessenger(keep_messages=False)
    _APS_DONE, _APS_TARGET = asyncio.Event(), count
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # one warning per lost job
    scheduler = _aps_scheduler(tmp / f"aps-misfire-{uuid.uuid4().hex}.db", grace=1)
    scheduler.start(paused=True)
    first = datetime.now(UTC) + timedelta(seconds=2)
    for i in range(count):
        scheduler.add_job(aps_job, "date", args=[i], id=f"n{i}",
                          run_date=first + timedelta(seconds=spread * i / count))
    scheduler.resume()
    # Wait until the store is empty: every job either ran or was dropped as misfired.
    while scheduler.get_jobs():
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)
    scheduler.shutdown(wait=False)
    return _APS_PORT.delivered_count, count


# -- main --------------------------------------------------------------------------------------


@dataclass
class Figures:
    values: dict[str, float]


async def run_all(quick: bool, aps_count: int | None, skip_misfire: bool) -> None:
    # As NudgeScheduler.start does at start-up: the objects alive now are never traversed by
    # the garbage collector. Applied here before section 1, for all three contenders alike.
    gc.freeze()
    count = 10_000 if quick else 100_000
    aps_n = aps_count or (2_000 if quick else 10_000)
    with tempfile.TemporaryDirectory(prefix="mentorbot-bench-") as name:
        tmp = Path(name)
        print(f"# mentorbot nudge benchmark ({'quick' if quick else 'full'}): N={count:,}, "
              f"APScheduler measured on {aps_n:,} and extrapolated per nudge, batch {BATCH}")
        e_sched, e_disp = await bench_engine(tmp, count)
        b_sched, b_disp = await bench_bare(tmp, count)
        a_sched, a_disp = await bench_apscheduler(tmp, aps_n)
        scale = count / aps_n
        rows = [
            ("mentorbot engine", e_sched, e_disp, ""),
            ("APScheduler SQLAlchemyJobStore", a_sched * scale, a_disp * scale,
             f"(measured {a_sched + a_disp:.2f} s for {aps_n:,})"),
            ("bare aiosqlite claim loop", b_sched, b_disp, ""),
        ]
        print("\n## 1. schedule + dispatch N nudges to a recording port")
        print(f"{'':34} {'schedule s':>10} {'dispatch s':>10} {'total s':>9} {'µs/nudge':>9}")
        for label, s, d, note in rows:
            print(f"{label:34} {s:10.2f} {d:10.2f} {s + d:9.2f} {(s + d) / count * 1e6:9.1f} "
                  f"{note}")
        engine_total, aps_total, bare_total = e_sched + e_disp, (a_sched + a_disp) * scale, (
            b_sched + b_disp)
        print(f"ratio APScheduler / engine: {aps_total / engine_total:.1f}x (target >= 10x)")
        print(f"ratio engine / bare loop:   {engine_total / bare_total:.2f}x (target <= 2x)")
        print(f"  dispatch only: engine/bare {e_disp / b_disp:.2f}x, "
              f"APScheduler/engine {a_disp * scale / e_disp:.1f}x")

        late_n = 2_000 if quick else 10_000
        p50, p99, stall = await bench_lateness(tmp, late_n)
        print(f"\n## 2. lateness, {late_n:,} nudges due within the same 10 s (real scheduler, "
              "real time)")
        print(f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms (target p99 < 1000 ms); "
              f"worst loop stall {stall * 1000:.1f} ms")

        start_path = tmp / "start.db"
        await _prepare(start_path, count, datetime.now(UTC) + timedelta(hours=1))
        started = bench_start(start_path)
        drain_s, drain_stall = await bench_drain(tmp, count)
        print(f"\n## 3. start-up and backlog ({count:,} nudges)")
        print(f"start with {count:,} pending: {started['start'] * 1000:.0f} ms "
              f"(whole process incl. interpreter and imports {started['process']:.2f} s), peak RSS "
              f"{started['rss_mb']:.0f} MB (targets < 1 s, < 100 MB)")
        print(f"drain {count:,} overdue: {drain_s:.2f} s (target < 10 s), worst event-loop "
              f"stall {drain_stall * 1000:.1f} ms (target < 100 ms)")

        if not skip_misfire:
            ran, total = await bench_aps_misfire(tmp, 2_000 if quick else 10_000)
            print("\n## 4. APScheduler alone, default misfire_grace_time (1 s), SQLite job store")
            print(f"{total:,} jobs due within 10 s: {ran:,} ran, {total - ran:,} "
                  f"({(total - ran) / total:.0%}) skipped as misfired")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10k nudges instead of 100k")
    parser.add_argument("--aps-count", type=int, help="jobs to measure APScheduler on")
    parser.add_argument("--no-misfire", action="store_true", help="skip section 4")
    parser.add_argument("--child-start", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    if args.child_start is not None:
        asyncio.run(_child_start(args.child_start))
        return
    asyncio.run(run_all(args.quick, args.aps_count, args.no_misfire))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
