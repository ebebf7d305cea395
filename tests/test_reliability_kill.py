"""Exactly once across SIGKILL: kill the dispatcher at random moments, restart it, count.

The dispatcher runs in a child process (``tests/kill_child.py``) over a real SQLite file with
2,000 due nudges. Its port appends every send call to a journal and fsyncs it before the call
returns, so the record survives the kill; a restarted child reads the journal back, which is
what the platform would answer to ``find_sent``. The journal holds every send *attempt*, not only
the first of each key, so the platform's deduplication cannot hide a double send of ours.

The parent kills after a random number of further deliveries (read from the child's output:
no sleeping), at least 10 times, including kills during start-up and recovery, then lets the
last child finish and checks: every nudge sent exactly once, none lost, every row ``sent``.
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

from bot.notifications import ORGANIZER_ALERT
from bot.nudges.engine import idempotency_key
from storage import schema as t
from storage.db import create_engine, migrate
from storage.store import NewNudge, Store

ROOT = Path(__file__).resolve().parent.parent
NUDGES = 2000
KILLS = 12


async def _seed(url: str) -> list[int]:
    store = Store(create_engine(url))
    try:
        await migrate(store.engine)
        now = datetime.now(UTC)
        async with store.transaction() as tx:
            community = await tx.create_community("test", "T0TEST0001", "Test", now)
            await tx.add_nudges(
                [NewNudge(community.id, ORGANIZER_ALERT, now, channel="C0ORG",
                          payload={"text": f"alert {i}"}) for i in range(NUDGES)],
                now,
            )
            ids = await tx.conn.execute(select(t.nudges.c.id))
            return [i for (i,) in ids]
    finally:
        await store.close()


async def _run_child(url: str, journal: Path, kill_after: int | None) -> tuple[str, int]:
    """Start a child; kill it after ``kill_after`` more deliveries (None: let it finish).

    ``kill_after`` 0 kills as soon as it says it started (during start-up), -1 as soon as it
    finished recovering. Returns how the child ended and how many deliveries it reported.
    """
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.kill_child", url, str(journal),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    sent = 0
    outcome = "exited"
    while True:
        line = (await child.stdout.readline()).decode()
        if not line:
            break
        if line.startswith("sent "):
            sent += 1
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
    return outcome, sent


def _journal(journal: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in journal.read_text().splitlines(keepends=True):
        if line.endswith("\n"):
            counts[line.rstrip("\n").split("\t")[2]] += 1
    return counts


async def test_sigkill_at_random_moments_delivers_each_nudge_exactly_once(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    url = f"sqlite+aiosqlite:///{tmp_path / 'kill.db'}"
    journal = tmp_path / "platform.journal"
    ids = await _seed(url)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    plan = [0, -1] + [rng.randint(1, 150) for _ in range(KILLS - 2)]
    rng.shuffle(plan)
    kills = 0
    for kill_after in plan:
        outcome, _sent = await _run_child(url, journal, kill_after)
        kills += outcome == "killed"
    outcome, _sent = await _run_child(url, journal, None)
    assert outcome == "exited"

    assert kills >= 10, f"only {kills} kills landed (seed {seed})"
    counts = _journal(journal)
    wanted = {idempotency_key(i) for i in ids}
    assert set(counts) == wanted, f"lost: {sorted(wanted - set(counts))[:5]} (seed {seed})"
    doubles = {k: c for k, c in counts.items() if c != 1}
    assert not doubles, f"sent more than once: {list(doubles.items())[:5]} (seed {seed})"

    store = Store(create_engine(url))
    try:
        async with store.transaction() as tx:
            states = dict(
                (await tx.conn.execute(
                    select(t.nudges.c.state, func.count()).group_by(t.nudges.c.state)
                )).all()
            )
    finally:
        await store.close()
    assert states == {"sent": NUDGES}, states
    assert time.monotonic() - started < 60
