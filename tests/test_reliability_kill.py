"""Exactly once across SIGKILL: kill the dispatcher at random moments, restart it, count.

The dispatcher runs in a child process (``tests/kill_child.py``) over a real database (a SQLite
file, then a PostgreSQL database) with 2,000 due nudges, started through the bot's own start-up
path (the composition root and the scheduler), so a restart takes over the killed process's
claims the way the bot does: at once, because the owner's pid no longer runs, not after a
five-minute claim timeout. Its port appends every send call to a journal and fsyncs it before
the call returns, so the record survives the kill; a restarted child reads the journal back,
which is what the platform would answer to ``find_sent``. The journal holds every send
*attempt*, not only the first of each key, so the platform's deduplication cannot hide a double
send of ours.

The parent kills after a random number of further deliveries (read from the child's output:
no sleeping), at least 10 times, including kills during start-up and recovery, then lets the
last child finish and checks: every nudge sent exactly once, none lost, every row ``sent``, and
that a restart after a kill in the middle of a batch delivered the interrupted batch within
seconds of starting.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from bot.bootstrap import open_store
from bot.config import StorageSettings
from bot.domain import NewNudge
from bot.nudges.engine import ORGANIZER_ALERT, idempotency_key
from storage import schema as t

ROOT = Path(__file__).resolve().parent.parent
NUDGES = 2000
KILLS = 12


async def _seed(url: str) -> list[int]:
    store = await open_store(StorageSettings(url=url))
    try:
        now = datetime.now(UTC)
        async with store.transaction() as tx:
            community = await tx.communities.create("test", "T0TEST0001", "Test", now)
            await tx.nudges.add(
                [NewNudge(community.id, ORGANIZER_ALERT, now, channel="C0ORG",
                          payload={"text": f"alert {i}"}) for i in range(NUDGES)],
                now,
            )
            ids = await tx.conn.execute(select(t.nudges.c.id))  # type: ignore[attr-defined]
            return [i for (i,) in ids]
    finally:
        await store.close()


async def _in_flight(url: str) -> int:
    """Nudges a killed child left claimed (``sending``)."""
    store = await open_store(StorageSettings(url=url))
    try:
        async with store.reading() as tx:
            return (await tx.nudges.state_counts(1)).get("sending", 0)
    finally:
        await store.close()


async def _run_child(
    url: str, journal: Path, kill_after: int | None
) -> tuple[str, int, tuple[int, float] | None]:
    """Start a child; kill it after ``kill_after`` more deliveries (None: let it finish).

    ``kill_after`` 0 kills as soon as it says it started (during start-up), -1 as soon as it
    finished recovering. Returns how the child ended, how many deliveries it reported, and
    what its start-up recovered and how many seconds after starting it was done.
    """
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.kill_child", url, str(journal),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    sent = 0
    outcome = "exited"
    recovery: tuple[int, float] | None = None
    while True:
        line = (await child.stdout.readline()).decode()
        if not line:
            break
        if line.startswith("sent "):
            sent += 1
        if line.startswith("recovered "):
            _word, count, seconds = line.split()
            recovery = (int(count), float(seconds))
        hit = (
            (kill_after == 0 and line.startswith("started"))
            or (kill_after == -1 and line.startswith("recovered"))
            or (kill_after is not None and kill_after > 0 and sent >= kill_after)
        )
        if hit:
            child.send_signal(signal.SIGKILL)
            outcome = "killed"
            break
    await child.stdout.read()
    code = await child.wait()
    if outcome == "killed" and code != -signal.SIGKILL:
        outcome = "exited"  # it finished before the signal landed
    assert code in (0, -signal.SIGKILL), code
    return outcome, sent, recovery


def _journal(journal: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in journal.read_text().splitlines(keepends=True):
        if line.endswith("\n"):
            counts[line.rstrip("\n").split("\t")[2]] += 1
    return counts


async def test_sigkill_at_random_moments_delivers_each_nudge_exactly_once(
    any_db_url: str, tmp_path: Path,
) -> None:
    started = time.monotonic()
    url = any_db_url
    journal = tmp_path / "platform.journal"
    ids = await _seed(url)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    plan = [0, -1] + [rng.randint(1, 150) for _ in range(KILLS - 2)]
    rng.shuffle(plan)
    kills = 0
    resumed: list[tuple[int, int, float]] = []  # (left in flight, recovered at start, seconds)
    for kill_after in [*plan, None]:
        in_flight = await _in_flight(url)
        outcome, _sent, recovery = await _run_child(url, journal, kill_after)
        kills += outcome == "killed"
        if recovery is not None and in_flight:
            resumed.append((in_flight, *recovery))
    assert outcome == "exited"
    # A restart takes over what the killed child had claimed at once: all of it, recovered by
    # the start-up itself, seconds after starting (not after claim_timeout_seconds, 300 s).
    assert resumed, f"no restart found a batch in flight (seed {seed})"
    for in_flight, recovered, seconds in resumed:
        assert recovered == in_flight, (in_flight, recovered, seed)
        assert seconds < 15, (seconds, seed)

    assert kills >= 10, f"only {kills} kills landed (seed {seed})"
    counts = _journal(journal)
    wanted = {idempotency_key(i) for i in ids}
    assert set(counts) == wanted, f"lost: {sorted(wanted - set(counts))[:5]} (seed {seed})"
    doubles = {k: c for k, c in counts.items() if c != 1}
    assert not doubles, f"sent more than once: {list(doubles.items())[:5]} (seed {seed})"

    store = await open_store(StorageSettings(url=url))
    try:
        async with store.reading() as tx:
            states = dict(
                (await tx.conn.execute(  # type: ignore[attr-defined]
                    select(t.nudges.c.state, func.count()).group_by(t.nudges.c.state)
                )).all()
            )
    finally:
        await store.close()
    assert states == {"sent": NUDGES}, states
    assert time.monotonic() - started < 60
