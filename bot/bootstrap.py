"""The composition root: settings → storage → core → scheduler → adapter, closed in reverse.

Nothing else builds long-lived objects, and there are no module-level singletons: tests build
as many independent bots as they like, each with its own database, clock and adapter.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.core import Mentorbot
from bot.nudges.engine import NudgeEngine
from bot.nudges.scheduler import NudgeScheduler
from bot.ports import Messenger
from storage.db import create_engine, migrate
from storage.store import Store

log = logging.getLogger(__name__)


class Adapter(Protocol):
    """What a platform adapter offers the composition root."""

    messenger: Messenger

    async def run(self, app: App) -> None:
        """Serve until stopped (console: until the person quits)."""
        ...

    async def close(self) -> None: ...


@dataclass
class App:
    settings: Settings
    store: Store
    core: Mentorbot
    engine: NudgeEngine
    scheduler: NudgeScheduler
    clock: Clock


@asynccontextmanager
async def assemble(
    settings: Settings,
    messenger: Messenger,
    clock: Clock | None = None,
    *,
    start_scheduler: bool = True,
) -> AsyncIterator[App]:
    """Build and start everything below the adapter; close it all in reverse order."""
    clock = clock or SystemClock()
    engine = create_engine(settings.storage.url)
    store = Store(engine)
    try:
        await migrate(engine)
        core = Mentorbot(store, clock, settings.community)
        nudge_engine = NudgeEngine(store, messenger, clock, settings.nudges, settings.community)
        scheduler = NudgeScheduler(nudge_engine, settings.nudges.sweep_seconds)
        core.on_outbox(scheduler.wake)
        if start_scheduler:
            await nudge_engine.recover()
            await scheduler.start()
        try:
            yield App(settings, store, core, nudge_engine, scheduler, clock)
        finally:
            await scheduler.stop()
    finally:
        await store.close()


async def run(settings: Settings, make_adapter: Callable[[Settings], Adapter],
              clock: Clock | None = None) -> None:
    """Start the bot with the adapter ``make_adapter`` builds, until the adapter returns."""
    adapter = make_adapter(settings)
    try:
        async with assemble(settings, adapter.messenger, clock) as app:
            log.info("mentorbot started on %s", adapter.messenger.platform)
            await adapter.run(app)
    finally:
        await adapter.close()
