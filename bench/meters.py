"""What the benchmarks measure with: percentiles, an event-loop stall meter, peak memory, and a
recording platform that notes when each message arrived.

The platform is :class:`tests.recording_port.RecordingMessenger` (the platforms' idempotency
semantics, keys only, no message kept), so every contender delivers to the same stand-in.
"""

from __future__ import annotations

import asyncio
import logging
import math
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from bot.messages import Message
from bot.ports import Delivered, Destination
from tests.recording_port import RecordingMessenger

log = logging.getLogger(__name__)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` percentile (0 < q ≤ 100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


class StallMeter:
    """The worst event-loop stall while it runs: a task that asks to wake every 5 ms and notes
    how much later than asked it actually woke. Anything that holds the loop (a synchronous
    database call, a long render, a GC pass) shows up here as a command would feel it."""

    def __init__(self, every: float = 0.005) -> None:
        self.every = every
        self.worst = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StallMeter:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not self._stop.is_set():
            await asyncio.sleep(self.every)
            now = loop.time()
            self.worst = max(self.worst, now - last - self.every)
            last = now


def peak_rss_mb() -> float:
    """This process's peak RSS (``VmHWM``). Not ``getrusage().ru_maxrss``: Linux carries that
    over from the parent across fork and exec, so a child of a big process reports the
    parent's peak."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TimedMessenger(RecordingMessenger):
    """The recording platform, noting the wall time each new message arrived; ``done`` is set
    once ``target`` distinct messages have arrived."""

    def __init__(self, target: int, platform: str = "slack") -> None:
        super().__init__(keep_messages=False, platform=platform)
        self.target = target
        self.arrived: dict[str, float] = {}
        self.done = asyncio.Event()
        self.on_arrival: Callable[[], None] | None = None
        """Called after each new message (the APScheduler contender counts its lost jobs)."""
        if target <= 0:
            self.done.set()

    async def send(self, community_external_id: str, destination: Destination,
                   message: Message, idempotency_key: str) -> Delivered:
        delivered = await super().send(community_external_id, destination, message,
                                       idempotency_key)
        self.arrived.setdefault(idempotency_key, time.time())
        if len(self.arrived) >= self.target:
            self.done.set()
        if self.on_arrival is not None:
            self.on_arrival()
        return delivered
