"""Running several bot instances as real processes, and hearing what they do (for the
multi-instance and start-up tests).

Each instance is ``tests/instance_child.py`` (see there for its line protocol). The parent
reads every instance's output as it comes and keeps it in a :class:`Run`; tests wait for what
they need with :meth:`Run.until` (a condition over what was heard, bounded by a deadline that
fails the test with the instances' last words), never by sleeping.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import func, select

from bot.bootstrap import open_store
from bot.config import StorageSettings
from bot.domain import NewNudge
from bot.nudges.engine import ORGANIZER_ALERT, idempotency_key
from storage import schema as t

ROOT = Path(__file__).resolve().parent.parent
NUDGES = 10_000
COMMUNITIES = 50


@dataclass
class Instance:
    """One bot process and what it said."""

    name: str
    process: asyncio.subprocess.Process
    stderr: Path
    host: str | None
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    worker: str = ""
    recovered_at_start: int = 0
    start_seconds: float = 0.0
    logs: list[str] = field(default_factory=list)
    sent: int = 0
    killed_at: float | None = None
    ended: bool = False
    """Its output ended (it exited)."""
    told_to_end: bool = False
    spawned_at: float = field(default_factory=time.monotonic)
    ready_at: float | None = None
    reader: asyncio.Task[None] | None = None

    def send_line(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())

    def kill(self) -> float:
        """SIGKILL: no clean-up, no unregistering, claims left as they are."""
        self.killed_at = time.monotonic()
        self.told_to_end = True
        self.process.send_signal(signal.SIGKILL)
        return self.killed_at

    async def stop(self) -> int:
        """Stop it as the bot is stopped (end of input); its exit code."""
        assert self.process.stdin is not None
        self.told_to_end = True
        self.process.stdin.close()
        return await self.process.wait()

    def last_words(self) -> str:
        text = self.stderr.read_text() if self.stderr.exists() else ""
        return f"--- {self.name} stderr (last 2000 chars) ---\n{text[-2000:]}"


@dataclass
class Run:
    """Everything the instances said, with the moment they said it."""

    instances: list[Instance] = field(default_factory=list)
    sends: Counter[str] = field(default_factory=Counter)
    """Deliveries reported, by idempotency key (a key twice here is a double send)."""
    checks: dict[str, list[tuple[str, str, float]]] = field(default_factory=dict)
    """Platform look-ups of interrupted sends: key → [(instance, found|missing, when)]."""
    sent_at: dict[str, float] = field(default_factory=dict)
    """When each key was last reported sent."""
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def delivered(self) -> set[str]:
        """Keys the platform has, as far as the instances said: reported sent, or found there
        when a send was checked (an instance killed between the platform taking a message and
        saying so is only known to have sent it through the platform's answer)."""
        found = {k for k, checks in self.checks.items() if any(c[1] == "found" for c in checks)}
        return set(self.sends) | found

    async def until(self, done: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        """Wait until ``done()`` holds after something was heard; fail after ``timeout``."""
        def crashed() -> list[Instance]:
            return [i for i in self.instances if i.ended and not i.told_to_end]

        try:
            async with asyncio.timeout(timeout):
                async with self.changed:
                    await self.changed.wait_for(lambda: bool(crashed()) or done())
        except TimeoutError:
            words = "\n".join(i.last_words() for i in self.instances)
            heard = ", ".join(f"{i.name} sent {i.sent}" for i in self.instances)
            raise AssertionError(
                f"gave up waiting ({timeout:.0f} s) for {what}: {len(self.sends)} keys sent "
                f"({heard}), {len(self.checks)} checked\n{words}"
            ) from None
        if crashed():
            words = "\n".join(i.last_words() for i in crashed())
            raise AssertionError(f"an instance exited while waiting for {what}\n{words}")

    async def _heard(self, instance: Instance, line: str) -> None:
        now = time.monotonic()
        word, _, rest = line.partition(" ")
        if word == "sent":
            self.sends[rest] += 1
            self.sent_at[rest] = now
            instance.sent += 1
        elif word in ("found", "missing"):
            self.checks.setdefault(rest, []).append((instance.name, word, now))
        elif word == "loaded":
            instance.loaded.set()
        elif word == "ready":
            worker, recovered, seconds = rest.split()
            instance.worker = worker
            instance.recovered_at_start = int(recovered)
            instance.start_seconds = float(seconds)
            instance.ready_at = now
            instance.ready.set()
        elif word == "log":
            instance.logs.append(rest)
        async with self.changed:
            self.changed.notify_all()

    async def _listen(self, instance: Instance) -> None:
        stdout = instance.process.stdout
        assert stdout is not None
        while line := await stdout.readline():
            await self._heard(instance, line.decode().rstrip("\n"))
        instance.ended = True
        async with self.changed:
            self.changed.notify_all()

    async def spawn(
        self, name: str, url: str, journal: Path, logs: Path, *, host: str | None = None,
        **options: float,
    ) -> Instance:
        """Start an instance (it waits for ``start``). ``host``: run it under its own host name
        (a UTS namespace), as an instance on another machine would be."""
        command = [sys.executable, "-m", "tests.instance_child", url, str(journal)]
        for key, value in options.items():
            command += [f"--{key}", str(value)]
        if host is not None and can_run_other_hosts():
            command = [*other_host_prefix(host), *command]
        else:
            host = None
        env = {k: v for k, v in os.environ.items() if not k.startswith("MENTORBOT_")}
        env["PYTHONPATH"] = str(ROOT)
        stderr = logs / f"{name}.stderr"
        with stderr.open("ab") as err:
            process = await asyncio.create_subprocess_exec(
                *command, cwd=ROOT, env=env, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=err,
            )
        instance = Instance(name, process, stderr, host)
        instance.reader = asyncio.create_task(self._listen(instance))
        self.instances.append(instance)
        return instance

    async def start(self, *instances: Instance) -> None:
        """Let the instances start at the same moment, and wait until each is ready."""
        await self.until(lambda: all(i.loaded.is_set() for i in instances), "imports")
        for i in instances:
            i.send_line("start")
        await self.until(lambda: all(i.ready.is_set() for i in instances), "start-up")

    async def close(self) -> None:
        """Kill whatever still runs (after a failed test)."""
        for i in self.instances:
            if i.process.returncode is None:
                i.process.kill()
                await i.process.wait()
            if i.reader is not None:
                await i.reader


def journal_counts(journal: Path) -> Counter[str]:
    """Send attempts per idempotency key, as the shared platform recorded them."""
    counts: Counter[str] = Counter()
    if journal.exists():
        for line in journal.read_text().splitlines():
            counts[line.split("\t")[2]] += 1
    return counts


def run_cli(args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    """``mentorbot …`` as an operator runs it, with ``storage.url`` from the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENTORBOT_")}
    env["MENTORBOT_STORAGE__URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *args], cwd=ROOT, env=env, text=True,
        capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
    )


@cache
def _namespace_flags() -> tuple[str, ...]:
    """``unshare`` flags that give a process its own host name here, or () if none work."""
    if shutil.which("unshare"):
        for flags in (("--uts",), ("--user", "--map-root-user", "--uts")):
            probe = subprocess.run(["unshare", *flags, "hostname", "probe"],
                                   capture_output=True, check=False)
            if probe.returncode == 0:
                return flags
    return ()


def other_host_prefix(host: str) -> list[str]:
    """A command prefix that runs a process under its own host name, or [] if this machine
    cannot (no ``unshare``, no namespaces): then the instance shares this host's name."""
    flags = _namespace_flags()
    if not flags:
        return []
    return ["unshare", *flags, "sh", "-c", 'hostname "$0" && exec "$@"', host]


def can_run_other_hosts() -> bool:
    return bool(_namespace_flags())


# -- the shared database ------------------------------------------------------------------


async def seed(url: str, count: int = NUDGES) -> float:
    """``count`` due nudges across the communities; when they were committed (monotonic)."""
    store = await open_store(StorageSettings(url=url))
    try:
        now = datetime.now(UTC)
        async with store.transaction() as tx:
            ids = [(await tx.communities.create("test", f"T{i:04d}", f"Community {i}", now)).id
                   for i in range(COMMUNITIES)]
            await tx.nudges.add(
                [NewNudge(ids[i % COMMUNITIES], ORGANIZER_ALERT, now - timedelta(seconds=1),
                          channel="C0ORG", payload={"text": f"alert {i}"})
                 for i in range(count)],
                now,
            )
        return time.monotonic()
    finally:
        await store.close()


async def in_flight(url: str, worker: str) -> set[str]:
    """Keys of the nudges a (dead) instance left claimed."""
    store = await open_store(StorageSettings(url=url))
    try:
        async with store.reading() as tx:
            rows = await tx.conn.execute(  # type: ignore[attr-defined]
                select(t.nudges.c.id).where(t.nudges.c.state == "sending",
                                            t.nudges.c.claimed_by == worker))
            return {idempotency_key(i) for (i,) in rows}
    finally:
        await store.close()


async def final_state(url: str) -> tuple[dict[str, int], int]:
    """Nudges per state, and how many workers are still registered."""
    store = await open_store(StorageSettings(url=url))
    try:
        async with store.reading() as tx:
            conn = tx.conn  # type: ignore[attr-defined]
            states = dict((await conn.execute(
                select(t.nudges.c.state, func.count()).group_by(t.nudges.c.state))).all())
            workers = (await conn.execute(select(func.count()).select_from(t.workers))).scalar()
            return states, int(workers)
    finally:
        await store.close()
