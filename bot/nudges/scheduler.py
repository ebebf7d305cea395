"""APScheduler as an alarm clock for the nudge engine, never as the keeper of nudges.

APScheduler 3 drops overdue jobs after a one-second misfire grace and removes a job from its
store before running it, so it must not own anything that matters. Here it only *wakes* the
engine: at the next due time (one date job, replaced whenever that time changes), on a
periodic sweep (which also recovers nudges stuck in ``sending``), and right after a command
queued something. Every job coalesces, has no misfire limit and runs one at a time; if a job
is missed entirely the next sweep finds the same rows in the table.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.nudges.engine import NudgeEngine, RunStats

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}


class NudgeScheduler:
    """Runs the engine when nudges are due; at most one run at a time."""

    def __init__(self, engine: NudgeEngine, sweep_seconds: float) -> None:
        self.engine = engine
        self.sweep_seconds = sweep_seconds
        self.scheduler = AsyncIOScheduler(job_defaults=JOB_DEFAULTS, timezone=UTC)
        self._lock = asyncio.Lock()
        self._again = False

    async def start(self) -> None:
        """Recover interrupted sends, deliver the backlog in the background, start waking."""
        self.scheduler.add_job(
            self.sweep, "interval", seconds=self.sweep_seconds, id="sweep", replace_existing=True
        )
        self.scheduler.start()
        self.wake()

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        async with self._lock:  # let a run in progress finish recording its outcomes
            pass

    def wake(self) -> None:
        """Run as soon as possible (called after a command queued messages)."""
        if self.scheduler.running:
            self.scheduler.add_job(
                self.run, "date", run_date=datetime.now(UTC), id="wake", replace_existing=True
            )

    async def sweep(self) -> RunStats:
        async with self._lock:
            stats = await self.engine.recover()
        stats.add(await self.run())
        return stats

    async def run(self) -> RunStats:
        if self._lock.locked():
            self._again = True
            return RunStats()
        total = RunStats()
        async with self._lock:
            while True:
                self._again = False
                total.add(await self.engine.run_due())
                if not self._again:
                    break
            await self._arm_next()
        if total.handled:
            log.info("nudges: %s", total)
        return total

    async def _arm_next(self) -> None:
        due = await self.engine.next_due()
        if due is None or not self.scheduler.running:
            return
        # The engine's clock may run ahead of the wall clock (console /time); wait in wall time.
        delay = max((due - self.engine.clock.now()).total_seconds(), 0.0)
        run_at = datetime.now(UTC) + timedelta(seconds=min(delay, self.sweep_seconds))
        self.scheduler.add_job(self.run, "date", run_date=run_at, id="next", replace_existing=True)
