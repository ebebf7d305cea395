"""APScheduler as an alarm clock for the nudge engine, never as the keeper of nudges.

APScheduler 3 drops overdue jobs after a one-second misfire grace and removes a job from its
store before running it, so it must not own anything that matters. Here it only *wakes* the
engine: at the next due time (one date job, replaced whenever that time changes), on a
periodic sweep (which also recovers nudges stuck in ``sending``), and right after a command
queued something. The heartbeat (every few seconds) also looks at the other processes: when one
is gone (its lease ran out, or its pid no longer runs on this host) a sweep starts at once, so
its claims are taken over within a heartbeat, not at the next sweep. Every job coalesces, has
no misfire limit and runs one at a time; if a job is missed entirely the next sweep finds the
same rows in the table.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.nudges.engine import NudgeEngine, RunStats

log = logging.getLogger(__name__)

#: After a failed run, wait this long before the next try (never spin on a broken database).
RETRY_AFTER_ERROR = 5.0

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
#: The alarm jobs may overlap a run in progress (``run`` re-arms the alarm before it returns,
#: and a wake may come at any time). APScheduler would *skip* such a firing ("maximum number of
#: running instances reached") and a skipped date job is gone: nudges would wait for the sweep.
#: ``run`` serializes itself with its lock and ``_again`` flag, so let APScheduler start it.
ALARM = {"max_instances": 1000}


class NudgeScheduler:
    """Runs the engine when nudges are due; at most one run at a time."""

    def __init__(
        self, engine: NudgeEngine, sweep_seconds: float, heartbeat_seconds: float = 5.0
    ) -> None:
        self.engine = engine
        self.sweep_seconds = sweep_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.scheduler = AsyncIOScheduler(job_defaults=JOB_DEFAULTS, timezone=UTC)
        self._lock = asyncio.Lock()
        self._again = False
        self._stopping = False
        self.takeover: asyncio.Task[RunStats] | None = None
        """The sweep the heartbeat started when it found a peer gone (None before any)."""

    async def start(self) -> RunStats:
        """Say this process is alive, take over the claims of processes that are gone (this
        one's previous run included), then deliver the backlog in the background and wake up
        whenever something is due. Returns what the recovery at start did."""
        await self.engine.register()
        recovered = RunStats()
        try:
            recovered = await self.engine.recover()
        except Exception:  # the database was away: the first sweep tries again
            log.exception("recovering interrupted nudges at start failed")
        self.scheduler.add_job(
            self.sweep, "interval", seconds=self.sweep_seconds, id="sweep", replace_existing=True
        )
        self.scheduler.add_job(
            self.heartbeat, "interval", seconds=self.heartbeat_seconds, id="heartbeat",
            replace_existing=True,
        )
        self.scheduler.start()
        # Everything alive at start (modules, settings, SQLAlchemy's caches: ~90k objects) would
        # be traversed by every full collection (~80 ms mid-drain); gc.freeze, a documented gc
        # API, moves it out of the collector's sight. Freezing again later is harmless.
        gc.freeze()
        self.wake()
        return recovered

    async def heartbeat(self) -> asyncio.Task[RunStats] | None:
        """Tell other processes this one is alive, so they leave its claims alone; when one of
        them is gone, start a sweep that takes its claims over (returned, for tests).

        The sweep runs as its own task: the heartbeat job must never wait for a long delivery
        run, or this process would stop beating and look gone itself.
        """
        try:
            gone = await self.engine.heartbeat()
        except Exception:
            log.exception("recording the heartbeat failed; trying again shortly")
            return None
        if not gone or self._stopping:
            return None
        if self.takeover is not None and not self.takeover.done():
            return self.takeover
        log.info("process(es) %s gone: taking over their claims now",
                 ", ".join(w.id for w in gone))
        self.takeover = asyncio.get_running_loop().create_task(self.sweep())
        return self.takeover

    async def stop(self) -> None:
        """Stop waking; let a run in progress finish recording its outcomes first.

        APScheduler's asyncio executor cancels the tasks of running jobs at shutdown, so the
        scheduler is paused, the run lock taken, and only then shut down.
        """
        if not self.scheduler.running:
            return
        self._stopping = True
        self.scheduler.pause()
        async with self._lock:
            self.scheduler.shutdown(wait=False)
        if self.takeover is not None:  # it finds _stopping set and returns
            await asyncio.gather(self.takeover, return_exceptions=True)
        try:
            await self.engine.unregister()
        except Exception:
            log.exception("could not unregister this process; its lease will run out")

    def wake(self, due: datetime | None = None) -> None:
        """Called after a command queued messages, ``due`` the earliest of them (None: now).

        Something due now: run as soon as possible. Something due later (a reminder two days
        ahead): only make sure the alarm rings by then; a run now would claim nothing and cost
        a transaction and a read for every such command.
        """
        if not self.scheduler.running:
            return
        if due is None or due <= self.engine.clock.now():
            self.scheduler.add_job(
                self.run, "date", run_date=datetime.now(UTC), id="wake", replace_existing=True,
                **ALARM,
            )
            return
        ring_at = self._ring_time(due)
        alarm = self.scheduler.get_job("next")
        if alarm is None or alarm.next_run_time is None or alarm.next_run_time > ring_at:
            self._ring(ring_at)

    async def sweep(self) -> RunStats:
        """The periodic safety net: recover abandoned claims, then deliver what is due."""
        stats = RunStats()
        async with self._lock:
            if self._stopping:
                return stats
            try:
                stats = await self.engine.recover()
            except Exception:  # the database was away: the next sweep tries again
                log.exception("recovering interrupted nudges failed")
        stats.add(await self.run())
        return stats

    async def run(self) -> RunStats:
        """Deliver everything due, then arm the alarm for the next due time.

        The alarm is armed even when the run failed (a database hiccup), so one error never
        leaves nudges waiting for the sweep.
        """
        if self._lock.locked():
            self._again = True
            return RunStats()
        total = RunStats()
        failed = False
        async with self._lock:
            if self._stopping:
                return total
            try:
                while True:
                    self._again = False
                    total.add(await self.engine.run_due())
                    if not self._again:
                        break
            except Exception:
                failed = True
                log.exception("delivering nudges failed; trying again shortly")
            finally:
                try:
                    await self._arm_next(min_delay=RETRY_AFTER_ERROR if failed else 0.0)
                except Exception:
                    log.exception("could not read the next due time; the sweep will")
        if total.handled:
            log.info("nudges: %s", total)
        return total

    async def _arm_next(self, *, min_delay: float = 0.0) -> None:
        due = await self.engine.next_due()
        if due is None or not self.scheduler.running:
            return
        self._ring(self._ring_time(due, min_delay))

    def _ring_time(self, due: datetime, min_delay: float = 0.0) -> datetime:
        """When, in wall time, to run for something ``due`` on the engine's clock: that clock
        may run ahead of the wall clock (console /time), and the alarm is never further away
        than a sweep."""
        delay = max((due - self.engine.clock.now()).total_seconds(), min_delay)
        return datetime.now(UTC) + timedelta(seconds=min(delay, self.sweep_seconds))

    def _ring(self, at: datetime) -> None:
        """Set the alarm (one date job, replaced) to run the engine at ``at``, wall time."""
        self.scheduler.add_job(
            self.run, "date", run_date=at, id="next", replace_existing=True, **ALARM
        )
