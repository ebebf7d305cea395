"""Benchmark of the durable nudge engine against APScheduler's job store and a bare loop.

    python -m bench.nudges                      # full run on SQLite (see bench/README.md)
    python -m bench.nudges --quick              # smaller sizes, for a quick look
    python -m bench.nudges --db postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        --instances 3                           # + the engine on PostgreSQL, 1 and 3 processes
    python -m bench.nudges --only 1,3 --profile /tmp/prof   # some sections; cProfile them

Sections (each measurement in a fresh process, on a fresh copy of a seeded community):

1. Schedule as commands do, then dispatch, with the trivial and the real renderer: the
   engine, APScheduler 3 with ``SQLAlchemyJobStore``, the bare aiosqlite floor (and the engine
   on PostgreSQL with ``--db``). See ``bench.nudge_contenders`` for the rules.
2. Lateness: nudges due within the same 10 s, through the real ``NudgeScheduler``.
3. Start-up of the bot (``assemble``) with 100k nudges pending, in a fresh process: time and
   peak RSS, and where the time goes.
4. Drain 100k overdue nudges after downtime, and the worst event-loop stall meanwhile.
5. (``--db`` and ``--instances N``) 1 and N dispatcher processes on one PostgreSQL database
   (and 1 on SQLite): dispatch throughput, lateness, and deliveries counted per key.

``--db URL`` names a PostgreSQL server and a database to connect to for administration; the
benchmark creates its own throwaway databases there and drops them at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.child import run_child
from bench.community import Seeded, seed
from bench.databases import POSTGRESQL, SQLITE, Database, Databases
from bench.instances import Instances
from bench.meters import percentile
from bench.nudge_work import REAL, RENDERERS, TRIVIAL, command_shapes, spread, write_nudges
from bench.profiles import report
from bot.bootstrap import open_store
from bot.config import StorageSettings

log = logging.getLogger(__name__)

CONTENDERS = "bench.nudge_contenders"


@dataclass(frozen=True)
class Sizes:
    throughput: int
    lateness: int
    backlog: int
    """Start-up with this many pending; drain this many with the trivial renderer."""
    backlog_real: int
    """Drain this many with the real renderer (at its pace, 100k would take minutes)."""
    instances: int
    sessions: int
    mentors: int
    members: int


FULL = Sizes(throughput=10_000, lateness=10_000, backlog=100_000, backlog_real=20_000,
             instances=10_000, sessions=10_000, mentors=1000, members=10_000)
QUICK = Sizes(throughput=2_000, lateness=2_000, backlog=10_000, backlog_real=2_000,
              instances=2_000, sessions=2_000, mentors=200, members=2000)


class Figures:
    """Every figure printed, also kept flat for ``--json`` (and ``bench.summary``)."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def put(self, key: str, value: float) -> float:
        self.values[key] = value
        return value


# -- set-up ---------------------------------------------------------------------------------------


async def make_template(dbs: Databases, sizes: Sizes, seeded_path: Path) -> Database:
    db = await dbs.new("template")
    store = await open_store(StorageSettings(url=db.url))
    try:
        seeded = await seed(store, mentors=sizes.mentors, members=sizes.members,
                            sessions=sizes.sessions)
    finally:
        await store.close()
    seeded.save(seeded_path)
    return db


async def with_pending(db: Database, seeded: Seeded, count: int, due: datetime) -> None:
    """Set-up: ``count`` real reminders pending at ``due`` (big transactions, not measured)."""
    store = await open_store(StorageSettings(url=db.url))
    try:
        await write_nudges(store, command_shapes(seeded, count), REAL, seeded.community_id,
                           due, datetime.now(UTC))
    finally:
        await store.close()


# -- section 1 ------------------------------------------------------------------------------------


def _margin(per_item_s: float, items: int) -> float:
    """How far ahead to make everything due, so scheduling is surely over by then."""
    return 3.0 + per_item_s * items


def _throughput_child(run: str, db: Database, seeded: Path, renderer: str, nudges: int,
                      margin: float | None, profile: str | None = None,
                      **extra: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"url": db.url, "seeded": str(seeded), "renderer": renderer,
                            "nudges": nudges, **extra}
    if margin is not None:
        args["margin"] = margin
    if profile is not None:
        args["profile"] = profile
    result = run_child(f"{CONTENDERS}:{run}", **args)
    if result.get("overlapped") and margin is not None:  # scheduling ran past the due time
        log.warning("%s: scheduling overran the due time; running again with more margin", run)
        args["margin"] = margin * 3
        result = run_child(f"{CONTENDERS}:{run}", **args)
    return result


async def section_throughput(dbs: dict[str, Databases], templates: dict[str, Database],
                             seeded: dict[str, Path], sizes: Sizes, figures: Figures,
                             profile_dir: Path | None) -> None:
    n = sizes.throughput
    print(f"\n## 1. schedule as commands do ({n:,} nudges, 1–6 per command, one commit per "
          "command), then dispatch")
    for renderer in RENDERERS:
        commands = len(command_shapes(Seeded.load(seeded[SQLITE]), n))
        rows: list[tuple[str, str, dict[str, Any]]] = []
        plan: list[tuple[str, str, str, str, float | None, dict[str, Any]]] = [
            ("engine", "mentorbot engine (SQLite)", SQLITE, "engine_throughput", 0.002, {}),
            ("aps", "APScheduler 3 SQLAlchemyJobStore", SQLITE, "aps_throughput", 0.0015, {}),
            ("bare", "bare aiosqlite loop (floor)", SQLITE, "bare_throughput", None, {}),
            ("engine_nowake", "  engine, no wake per command ¹", SQLITE, "engine_throughput",
             0.002, {"wake": False}),
        ]
        if POSTGRESQL in dbs:
            plan.append(("engine_pg", "mentorbot engine (PostgreSQL)", POSTGRESQL,
                         "engine_throughput", 0.003, {}))
        for key, label, backend, run, per_item, extra in plan:
            db = await dbs[backend].copy(templates[backend], f"s1_{key}_{renderer}")
            profile = None
            if profile_dir is not None and key in ("engine", "engine_pg"):
                profile = str(profile_dir / f"s1_{key}_{renderer}.prof")
            margin = None if per_item is None else _margin(per_item, n)
            result = _throughput_child(run, db, seeded[backend], renderer, n, margin, profile,
                                       **extra)
            rows.append((key, label, result))
            if profile is not None:
                print(report(f"section 1, {label}, {renderer} renderer", profile))
        print(f"\n### {renderer} renderer ({commands:,} commands)")
        print(f"{'contender':34} {'schedule s':>10} {'ms/cmd':>7} {'dispatch s':>10} "
              f"{'nudges/s':>9} {'total s':>8} {'worst stall ms sched/disp':>26}")
        got: dict[str, dict[str, float]] = {}
        for key, label, r in rows:
            total = r["schedule_s"] + r["dispatch_s"]
            got[key] = {"schedule": r["schedule_s"], "dispatch": r["dispatch_s"], "total": total}
            for part, value in got[key].items():
                figures.put(f"s1.{renderer}.{key}.{part}_s", value)
            figures.put(f"s1.{renderer}.{key}.schedule_stall_ms", r["schedule_stall_ms"])
            figures.put(f"s1.{renderer}.{key}.dispatch_stall_ms", r["dispatch_stall_ms"])
            print(f"{label:34} {r['schedule_s']:10.2f} {r['schedule_s'] / commands * 1000:7.2f} "
                  f"{r['dispatch_s']:10.2f} {(n - r.get('lost', 0)) / r['dispatch_s']:9,.0f} "
                  f"{total:8.2f} "
                  f"{r['schedule_stall_ms']:14.0f} / {r['dispatch_stall_ms']:<9.0f}")
        for key, label, r in rows:
            lost = r.get("lost", 0)
            figures.put(f"s1.{renderer}.{key}.lost", lost)
            if lost:
                print(f"  {label.strip()} lost {lost:,} of {n:,} nudges: the job raised "
                      f"({r.get('lost_reason', '?')}) and a date job is gone once it has run; "
                      "its dispatch time counts only what was delivered")
        e, a, b = got["engine"], got["aps"], got["bare"]
        ratios = [
            ("aps_over_engine_total", "APScheduler / engine, overall", a["total"] / e["total"],
             "≥ 3×"),
            ("aps_over_engine_dispatch", "APScheduler / engine, dispatch",
             a["dispatch"] / e["dispatch"], "≥ 5×"),
            ("aps_over_engine_schedule", "APScheduler / engine, scheduling",
             a["schedule"] / e["schedule"], ""),
            ("engine_over_bare_total", "engine / bare loop, overall", e["total"] / b["total"],
             "≤ 2×"),
            ("engine_over_bare_schedule", "engine / bare loop, scheduling",
             e["schedule"] / b["schedule"], ""),
            ("engine_over_bare_dispatch", "engine / bare loop, dispatch",
             e["dispatch"] / b["dispatch"], ""),
        ]
        if "engine_pg" in got:
            ratios.append(("pg_over_sqlite_total", "engine PostgreSQL / SQLite, overall",
                           got["engine_pg"]["total"] / e["total"], "(time; lower is faster)"))
        for key, label, value, target in ratios:
            figures.put(f"s1.{renderer}.{key}", value)
            print(f"  {label:40} {value:6.2f}×  {target}")
        print("  ¹ not how the bot runs: the scheduler is woken once after all commands, not "
              "after each; shows what the wake costs")


# -- sections 2–4 ---------------------------------------------------------------------------------


async def section_lateness(dbs: dict[str, Databases], templates: dict[str, Database],
                           seeded: dict[str, Path], sizes: Sizes, figures: Figures) -> None:
    n = sizes.lateness
    print(f"\n## 2. lateness: {n:,} nudges due within the same 10 s, real NudgeScheduler, "
          "real time (target p99 < 1 s)")
    for backend, dbset in dbs.items():
        for renderer in RENDERERS:
            db = await dbset.copy(templates[backend], f"s2_{renderer}")
            r = run_child(f"{CONTENDERS}:lateness", url=db.url, seeded=str(seeded[backend]),
                          renderer=renderer, nudges=n, seconds=10.0)
            for key in ("p50_ms", "p99_ms", "max_ms", "stall_ms"):
                figures.put(f"s2.{backend}.{renderer}.{key}", r[key])
            print(f"{db.label:10} {renderer:8} p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} "
                  f"ms  max {r['max_ms']:7.1f} ms  worst loop stall {r['stall_ms']:6.1f} ms")


async def section_start(dbs: dict[str, Databases], templates: dict[str, Database],
                        seeded: dict[str, Path], sizes: Sizes, figures: Figures) -> None:
    n = sizes.backlog
    print(f"\n## 3. start-up (assemble) with {n:,} nudges pending, fresh process "
          "(targets < 1 s, < 100 MB)")
    for backend, dbset in dbs.items():
        db = await dbset.copy(templates[backend], "s3")
        await with_pending(db, Seeded.load(seeded[backend]), n,
                           datetime.now(UTC) + timedelta(hours=1))
        whole = run_child(f"{CONTENDERS}:start_up", url=db.url)
        steps = run_child(f"{CONTENDERS}:start_up_steps", url=db.url)
        figures.put(f"s3.{backend}.start_s", whole["start_s"])
        figures.put(f"s3.{backend}.rss_mb", whole["rss_mb"])
        figures.put(f"s3.{backend}.process_s", whole["process_seconds"])
        for key in ("open_store_s", "warm_up_s", "build_s", "scheduler_start_s"):
            figures.put(f"s3.{backend}.{key}", steps[key])
        print(f"{db.label:10} assemble {whole['start_s'] * 1000:6.0f} ms after imports (whole "
              f"process {whole['process_seconds']:.2f} s), peak RSS {whole['rss_mb']:.0f} MB")
        print(f"{'':10} steps: open_store {steps['open_store_s'] * 1000:.0f} ms, warm_up "
              f"{steps['warm_up_s'] * 1000:.0f} ms, build {steps['build_s'] * 1000:.0f} ms, "
              f"scheduler.start {steps['scheduler_start_s'] * 1000:.0f} ms")


async def section_drain(dbs: dict[str, Databases], templates: dict[str, Database],
                        seeded: dict[str, Path], sizes: Sizes, figures: Figures,
                        profile_dir: Path | None) -> None:
    print(f"\n## 4. drain overdue nudges through the real scheduler: {sizes.backlog:,} trivial, "
          f"{sizes.backlog_real:,} real (targets for 100k: < 10 s, worst stall < 100 ms)")
    for backend, dbset in dbs.items():
        for renderer in RENDERERS:
            n = sizes.backlog if renderer == TRIVIAL else sizes.backlog_real
            db = await dbset.copy(templates[backend], f"s4_{renderer}")
            profile = None
            if profile_dir is not None and renderer == REAL:
                profile = str(profile_dir / f"s4_{backend}_{renderer}.prof")
            args: dict[str, Any] = {"url": db.url, "seeded": str(seeded[backend]),
                                    "renderer": renderer, "nudges": n}
            if profile:
                args["profile"] = profile
            r = run_child(f"{CONTENDERS}:drain", **args)
            figures.put(f"s4.{backend}.{renderer}.drain_s", r["drain_s"])
            figures.put(f"s4.{backend}.{renderer}.rate", n / r["drain_s"])
            figures.put(f"s4.{backend}.{renderer}.stall_ms", r["stall_ms"])
            print(f"{db.label:10} {renderer:8} {n:7,} in {r['drain_s']:7.2f} s "
                  f"({n / r['drain_s']:,.0f} nudges/s; 100k would take "
                  f"{100_000 / (n / r['drain_s']):.0f} s), worst loop stall "
                  f"{r['stall_ms']:6.1f} ms")
            if profile:
                print(report(f"section 4, {db.label}, {renderer} renderer", profile,
                             cumulative=True))


# -- section 5 ------------------------------------------------------------------------------------


async def run_instances(db: Database, seeded: Seeded, count: int, nudges: int,
                        spread_seconds: float) -> dict[str, float]:
    """``count`` dispatcher processes; ``nudges`` written once they are all ready, due a
    second later (all at once, or spread over ``spread_seconds``)."""
    async with Instances(f"{CONTENDERS}:dispatcher", count, url=db.url) as instances:
        store = await open_store(StorageSettings(url=db.url))
        try:
            shapes = command_shapes(seeded, nudges)
            written_at = datetime.now(UTC)
            first = written_at + timedelta(seconds=1.5)
            dues = spread(shapes, first, spread_seconds)
            await write_nudges(store, shapes, REAL, seeded.community_id, dues, written_at)
            async with store.reading() as tx:
                due_of = {f"mentorbot-nudge-{x.id}": x.due_at.timestamp()
                          for x in await tx.nudges.list(seeded.community_id, limit=nudges + 1)}
            await instances.say("go")
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                async with store.reading() as tx:
                    states = await tx.nudges.state_counts(seeded.community_id)
                if states.get("sent", 0) + states.get("stale", 0) >= nudges:
                    break
            await asyncio.sleep(0.3)  # a second send of a key would arrive by now
            await instances.say("stop")
            results = await instances.results()
        finally:
            await store.close()
    per_key: Counter[str] = Counter()
    arrived: dict[str, float] = {}
    for r in results:
        for key, at in r["deliveries"]:
            per_key[key] += 1
            arrived[key] = min(at, arrived.get(key, at))
    doubles = sum(c - 1 for c in per_key.values() if c > 1)
    late = [arrived[k] - due_of[k] for k in due_of if k in arrived]
    span = max(arrived.values()) - first.timestamp() if arrived else math.nan
    return {
        "delivered": len(arrived), "doubles": doubles,
        "throughput": len(arrived) / span if span > 0 else math.nan, "span_s": span,
        "p50_ms": percentile(late, 50) * 1000, "p99_ms": percentile(late, 99) * 1000,
        "stall_ms": max(r["stall_ms"] for r in results),
        "per_instance": min(len(r["deliveries"]) for r in results),
    }


async def section_instances(dbs: dict[str, Databases], templates: dict[str, Database],
                            seeded: dict[str, Path], sizes: Sizes, figures: Figures,
                            instances: int) -> None:
    n = sizes.instances
    print(f"\n## 5. dispatcher processes on one database, {n:,} real reminders "
          f"(target: {instances} instances ≥ 1.5× the throughput of 1; 0 double sends)")
    runs = [(SQLITE, 1), (POSTGRESQL, 1), (POSTGRESQL, instances)]
    got: dict[tuple[str, int, str], dict[str, float]] = {}
    for workload, seconds in (("burst", 0.0), ("spread", 10.0)):
        for backend, count in runs:
            db = await dbs[backend].copy(templates[backend], f"s5_{workload}_{backend}_{count}")
            r = await run_instances(db, Seeded.load(seeded[backend]), count, n, seconds)
            got[(backend, count, workload)] = r
            for key, value in r.items():
                figures.put(f"s5.{workload}.{backend}.{count}.{key}", value)
            what = (f"{r['throughput']:8,.0f} nudges/s ({r['span_s']:.2f} s)"
                    if workload == "burst" else
                    f"lateness p50 {r['p50_ms']:7.1f} ms p99 {r['p99_ms']:7.1f} ms")
            print(f"{workload:6} {backend:10} ×{count}: {what}; delivered {r['delivered']:,}, "
                  f"sent twice {r['doubles']}, fewest by one instance {r['per_instance']:,}, "
                  f"worst stall {r['stall_ms']:.0f} ms")
    scale = (got[(POSTGRESQL, instances, "burst")]["throughput"]
             / got[(POSTGRESQL, 1, "burst")]["throughput"])
    pg_vs_sqlite = (got[(POSTGRESQL, 1, "burst")]["throughput"]
                    / got[(SQLITE, 1, "burst")]["throughput"])
    figures.put("s5.scale", scale)
    figures.put("s5.pg_over_sqlite", pg_vs_sqlite)
    print(f"  PostgreSQL throughput, {instances} instances / 1: {scale:.2f}× (target ≥ 1.5×)")
    print(f"  throughput with 1 instance, PostgreSQL / SQLite: {pg_vs_sqlite:.2f}×")


# -- main -----------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> Figures:
    sizes = QUICK if args.quick else FULL
    sections = {int(x) for x in args.only.split(",")} if args.only else {1, 2, 3, 4, 5}
    figures = Figures()
    profile_dir = Path(args.profile) if args.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    print(f"# mentorbot nudge benchmark ({'quick' if args.quick else 'full'}), "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; community of {sizes.mentors:,} mentors, "
          f"{sizes.members:,} members, {sizes.sessions:,} sessions")
    with tempfile.TemporaryDirectory(prefix="mentorbot-bench-") as name:
        tmp = Path(name)
        dbs: dict[str, Databases] = {SQLITE: Databases(tmp)}
        if args.db:
            dbs[POSTGRESQL] = Databases(tmp, args.db)
        try:
            templates: dict[str, Database] = {}
            seeded: dict[str, Path] = {}
            for backend, dbset in dbs.items():
                began = time.perf_counter()
                seeded[backend] = tmp / f"seeded-{backend}.json"
                templates[backend] = await make_template(dbset, sizes, seeded[backend])
                print(f"(seeded the {templates[backend].label} template through the "
                      f"repositories in {time.perf_counter() - began:.1f} s)")
            if 1 in sections:
                await section_throughput(dbs, templates, seeded, sizes, figures, profile_dir)
            if 2 in sections:
                await section_lateness(dbs, templates, seeded, sizes, figures)
            if 3 in sections:
                await section_start(dbs, templates, seeded, sizes, figures)
            if 4 in sections:
                await section_drain(dbs, templates, seeded, sizes, figures, profile_dir)
            if 5 in sections:
                if POSTGRESQL in dbs and args.instances:
                    await section_instances(dbs, templates, seeded, sizes, figures,
                                            args.instances)
                else:
                    print("\n## 5. skipped: needs --db and --instances")
        finally:
            for dbset in dbs.values():
                await dbset.drop_all()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--db", help="a PostgreSQL URL (postgresql+asyncpg://…): run the "
                        "engine parts there too, on throwaway databases")
    parser.add_argument("--instances", type=int, default=0,
                        help="with --db: also run this many dispatcher processes (and 1)")
    parser.add_argument("--only", help="comma-separated section numbers, e.g. 1,4")
    parser.add_argument("--profile", help="directory for cProfile stats of the engine's "
                        "section-1 and real-renderer drain runs (printed as a summary)")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    figures = asyncio.run(run(args))
    if args.json:
        Path(args.json).write_text(json.dumps(figures.values, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
