"""Benchmark of commands through the real core while the engine drains a backlog.

    python -m bench.commands                    # SQLite: 5,000 commands (see bench/README.md)
    python -m bench.commands --quick            # 1,000 commands in a smaller community
    python -m bench.commands --db postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        --instances 3                           # + PostgreSQL with 1 and 3 bot processes
    python -m bench.commands --slack --discord  # + the adapters' own load benchmarks

A community of 1,000 mentors and 10,000 members (seeded through the repositories and the
organizer's ``settings set`` commands, see ``bench.community``) with 10,000 reminders due.
200 people send 5,000 commands (find, profile, my, request, accept, book, confirm, sessions,
settings) into ``core.handle_text`` of a bot built by ``assemble``, whose scheduler starts with
the load and delivers the backlog meanwhile. Two passes, each in a fresh process on a fresh
copy of the community (``bench.command_load`` explains the workload):

* open loop at ``--rate`` commands a second (500, the target): latency per command type;
* closed loop, 200 people each waiting for their answer: how many commands a second the bot
  can answer at most.

Then ``core.suggest`` (autocomplete) for topics, mentors, timezones and one's own sessions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.command_load import VERBS, build_units, save_units
from bench.community import Seeded, seed
from bench.databases import POSTGRESQL, SQLITE, Database, Databases
from bench.instances import Instances
from bench.meters import median, percentile
from bench.nudge_work import REAL, command_shapes, write_nudges
from bench.profiles import report
from bot.bootstrap import open_store
from bot.config import StorageSettings

log = logging.getLogger(__name__)

TARGET_P99_MS = 50.0
TARGET_RATE = 500.0
TARGET_STALL_MS = 100.0
TARGET_SUGGEST_MS = 20.0
#: Commands in the one-person-at-a-time pass (about 50 journeys).
SERIAL_COMMANDS = 450


async def make_template(dbs: Databases, mentors: int, members: int, backlog: int,
                        seeded_path: Path) -> Database:
    """The community and its backlog of due reminders (ids 1…backlog)."""
    db = await dbs.new("template")
    store = await open_store(StorageSettings(url=db.url))
    try:
        seeded = await seed(store, mentors=mentors, members=members, sessions=backlog // 4)
        now = datetime.now(UTC)
        await write_nudges(store, command_shapes(seeded, backlog), REAL, seeded.community_id,
                           now, now)
        async with store.reading() as tx:
            rows = await tx.nudges.list(seeded.community_id, limit=backlog + 1)
        ids = sorted(n.id for n in rows)
        if ids != list(range(1, backlog + 1)):
            raise RuntimeError("the backlog's nudges should be numbered 1…N")
    finally:
        await store.close()
    seeded.save(seeded_path)
    return db


async def run_pass(db: Database, seeded: Path, units: Path, instances: int, mode: str,
                   total: int, rate: float, people: int, backlog: int, suggest: bool,
                   profile: str | None = None) -> dict[str, Any]:
    async with Instances("bench.command_load:instance", instances, url=db.url,
                         seeded=str(seeded), units=str(units), mode=mode, total=total,
                         rate=rate, people=people, backlog=backlog, suggest=suggest,
                         shares=instances, numbered="share", profile=profile) as group:
        await group.say("go")
        results = await group.results(timeout=1800)
    return merge(results)


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The instances' figures as one bot's."""
    outcomes = [o for r in results for o in r["outcomes"]]
    latency: dict[str, list[float]] = defaultdict(list)
    refused: dict[str, int] = defaultdict(int)
    for verb, seconds, was_refused, _started in outcomes:
        latency[verb].append(seconds)
        refused[verb] += bool(was_refused)
    first = min(o[3] for o in outcomes)
    last = max(o[3] + o[1] for o in outcomes)
    delivered = [r["backlog_s"] for r in results if r["backlog_s"] is not None]
    failures: dict[str, str] = {}
    for r in results:
        failures.update(r["failures"])
    return {
        "count": len(outcomes), "rate": len(outcomes) / (last - first),
        "latency": latency, "refused": refused, "failures": failures,
        "stall_ms": max(r["stall_ms"] for r in results),
        "backlog_delivered": sum(r["backlog_delivered"] for r in results),
        "backlog_s": max(delivered) if delivered else None,
        "suggest": results[0]["suggest"],
    }


def show(label: str, got: dict[str, Any], backlog: int, figures: dict[str, float],
         key: str) -> None:
    print(f"\n### {label}: {got['count']:,} commands, {got['rate']:,.0f} commands/s answered; "
          f"worst event-loop stall {got['stall_ms']:.0f} ms; backlog {got['backlog_delivered']:,}"
          f"/{backlog:,} delivered"
          + (f" in {got['backlog_s']:.1f} s" if got["backlog_s"] is not None else ""))
    print(f"{'command':10} {'count':>6} {'refused':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    figures[f"{key}.rate"] = got["rate"]
    figures[f"{key}.stall_ms"] = got["stall_ms"]
    if got["backlog_s"] is not None:
        figures[f"{key}.backlog_s"] = got["backlog_s"]
    worst = 0.0
    for verb in VERBS:
        values = got["latency"].get(verb, [])
        if not values:
            print(f"{verb:10} {0:6} {'':8} {'—':>8} {'—':>8} {'—':>8}  (no journey got this far)")
            continue
        p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
        worst = max(worst, p99)
        figures[f"{key}.{verb}.p50_ms"] = p50
        figures[f"{key}.{verb}.p99_ms"] = p99
        mark = "" if p99 < TARGET_P99_MS else "  ✗ over 50 ms"
        print(f"{verb:10} {len(values):6} {got['refused'].get(verb, 0):8} {p50:8.1f} {p99:8.1f} "
              f"{max(values, default=0) * 1000:8.1f}{mark}")
    every = [v for values in got["latency"].values() for v in values]
    print(f"{'all':10} {len(every):6} {sum(got['refused'].values()):8} "
          f"{median(every) * 1000:8.1f} {percentile(every, 99) * 1000:8.1f}")
    figures[f"{key}.worst_p99_ms"] = worst
    for verb, text in got["failures"].items():
        print(f"  first refusal of {verb}: {text[:160]!r}")


async def run(args: argparse.Namespace) -> dict[str, float]:
    total = 1000 if args.quick else args.commands
    mentors, members = (200, 2000) if args.quick else (1000, 10_000)
    backlog = 2000 if args.quick else 10_000
    figures: dict[str, float] = {}
    print(f"# mentorbot command benchmark ({'quick' if args.quick else 'full'}), "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {total:,} commands from 200 people, "
          f"{mentors:,} mentors, {members:,} members, {backlog:,} nudges due")
    with tempfile.TemporaryDirectory(prefix="mentorbot-bench-") as name:
        tmp = Path(name)
        dbs: dict[str, Databases] = {SQLITE: Databases(tmp)}
        if args.db:
            dbs[POSTGRESQL] = Databases(tmp, args.db)
        try:
            templates: dict[str, Database] = {}
            seeded: dict[str, Path] = {}
            units: dict[str, Path] = {}
            for backend, dbset in dbs.items():
                began = time.perf_counter()
                seeded[backend] = tmp / f"seeded-{backend}.json"
                templates[backend] = await make_template(dbset, mentors, members, backlog,
                                                         seeded[backend])
                units[backend] = tmp / f"units-{backend}.json"
                save_units(build_units(Seeded.load(seeded[backend]), total), units[backend])
                print(f"(seeded the {templates[backend].label} template through the "
                      f"repositories and commands in {time.perf_counter() - began:.1f} s)")
            passes = args.passes.split(",")
            runs: list[tuple[str, int, str]] = [(SQLITE, 1, mode) for mode in passes]
            if POSTGRESQL in dbs:
                counts = sorted({1, args.instances or 1})
                runs += [(POSTGRESQL, n, mode) for n in counts for mode in passes
                         if mode != "serial"]
            suggest_done = set()
            for backend, count, mode in runs:
                db = await dbs[backend].copy(templates[backend], f"{mode}_{count}")
                suggest = backend not in suggest_done and mode == "open"
                if suggest:
                    suggest_done.add(backend)
                profile = None
                if args.profile and backend == SQLITE and mode in ("serial", "closed"):
                    Path(args.profile).mkdir(parents=True, exist_ok=True)
                    profile = str(Path(args.profile) / f"commands_{backend}_{mode}.prof")
                commands = min(total, SERIAL_COMMANDS) if mode == "serial" else total
                got = await run_pass(db, seeded[backend], units[backend], count, mode, commands,
                                     args.rate, args.people, backlog, suggest, profile)
                what = {
                    "open": f"open loop at {args.rate:.0f} commands/s offered",
                    "closed": f"closed loop, {args.people} people waiting for their answers",
                    "serial": "one person at a time (each command's own cost)",
                }[mode]
                show(f"{db.label}, {count} process{'es' if count > 1 else ''}, {what}", got,
                     backlog, figures, f"{backend}.{count}.{mode}")
                if got["suggest"]:
                    print(f"autocomplete (core.suggest, {db.label}, after the load; target "
                          f"< {TARGET_SUGGEST_MS:.0f} ms):")
                    for source, s in got["suggest"].items():
                        figures[f"{backend}.suggest.{source}.p50_ms"] = s["p50_ms"]
                        figures[f"{backend}.suggest.{source}.p99_ms"] = s["p99_ms"]
                        print(f"  {source:13} p50 {s['p50_ms']:6.2f} ms  p99 {s['p99_ms']:6.2f} "
                              f"ms  ({s['empty']} of {s['calls']} found nothing)")
                if profile:
                    print(report(f"commands, {db.label}, {mode}", profile,
                                 cumulative=mode == "serial"))
        finally:
            for dbset in dbs.values():
                await dbset.drop_all()
    summarize(figures, args)
    await platforms(args, total)
    return figures


def summarize(figures: dict[str, float], args: argparse.Namespace) -> None:
    if not all(f"sqlite.1.{mode}.rate" in figures for mode in ("serial", "open", "closed")):
        return  # some passes were left out: no verdict on the targets
    print("\n## targets (SQLite, one process)")
    rate = figures["sqlite.1.closed.rate"]
    open_rate = figures["sqlite.1.open.rate"]
    worst = figures["sqlite.1.open.worst_p99_ms"]
    stall = max(figures[f"sqlite.1.{mode}.stall_ms"] for mode in ("serial", "open", "closed"))
    print(f"  every type p99 < {TARGET_P99_MS:.0f} ms at {args.rate:.0f}/s offered: worst "
          f"{worst:.0f} ms {'met' if worst < TARGET_P99_MS else 'MISSED'}")
    alone = {verb: figures[f"sqlite.1.serial.{verb}.p99_ms"] for verb in VERBS}
    over = {verb: p99 for verb, p99 in alone.items() if p99 >= TARGET_P99_MS}
    print("  … one person at a time: "
          + (", ".join(f"{verb} {p99:.0f} ms" for verb, p99 in over.items()) + " over"
             if over else "every type under") + f" {TARGET_P99_MS:.0f} ms")
    print(f"  ≥ {TARGET_RATE:.0f} commands/s: {rate:,.0f} at most (closed loop), {open_rate:,.0f} "
          f"answered at {args.rate:.0f}/s offered "
          f"{'met' if rate >= TARGET_RATE else 'MISSED'}")
    print(f"  no stall > {TARGET_STALL_MS:.0f} ms: worst {stall:.0f} ms "
          f"{'met' if stall < TARGET_STALL_MS else 'MISSED'}")
    if "postgresql.1.open.worst_p99_ms" in figures and args.instances > 1:
        n = args.instances
        for mode in ("open", "closed"):
            one = figures[f"postgresql.1.{mode}.rate"]
            many = figures[f"postgresql.{n}.{mode}.rate"]
            print(f"  PostgreSQL {mode} loop: {n} processes / 1 = {many / one:.2f}× commands/s; "
                  f"worst p99 {figures[f'postgresql.1.{mode}.worst_p99_ms']:.0f} ms (1) → "
                  f"{figures[f'postgresql.{n}.{mode}.worst_p99_ms']:.0f} ms ({n})")
        print(f"  PostgreSQL / SQLite, closed loop commands/s: "
              f"{figures['postgresql.1.closed.rate'] / rate:.2f}×")


async def platforms(args: argparse.Namespace, total: int) -> None:
    """The adapters' own load benchmarks, when asked for and when they exist."""
    for flag, module, function in (("slack", "bench.slack_load", "run_slack_load"),
                                   ("discord", "bench.discord_load", "run_discord_load")):
        if not getattr(args, flag):
            continue
        print(f"\n## {flag}: the same kind of load through the {flag} adapter")
        try:
            loaded = __import__(module, fromlist=[function])
            runner = getattr(loaded, function)
        except (ImportError, AttributeError):
            print(f"  {module}.{function} is not available yet")
            continue
        result = await runner(total, args.people, args.people)
        for key, value in sorted(result.items()):
            print(f"  {key}: {value:,.2f}" if isinstance(value, float) else f"  {key}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 commands, smaller community")
    parser.add_argument("--commands", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=TARGET_RATE,
                        help="commands a second offered in the open-loop pass")
    parser.add_argument("--passes", default="serial,open,closed",
                        help="which passes to run (PostgreSQL runs all but serial), e.g. open "
                        "with --rate 50 for the latency at a load the bot keeps up with")
    parser.add_argument("--people", type=int, default=200,
                        help="people sending at once in the closed-loop pass")
    parser.add_argument("--db", help="a PostgreSQL URL (postgresql+asyncpg://…): the same "
                        "passes there, on throwaway databases")
    parser.add_argument("--instances", type=int, default=0,
                        help="with --db: also run this many bot processes (and 1)")
    parser.add_argument("--slack", action="store_true", help="also run bench.slack_load")
    parser.add_argument("--discord", action="store_true", help="also run bench.discord_load")
    parser.add_argument("--profile", help="directory for cProfile stats of the SQLite serial "
                        "and closed-loop passes (printed as a summary)")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    figures = asyncio.run(run(args))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
