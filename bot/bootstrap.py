"""The composition root: the one place that knows every part and wires them together.

settings → storage → registry (from the explicit feature list) → core → nudge engine and
scheduler → (the adapter, passed in). Everything is closed in reverse order. This is the only
module of the core allowed to import ``storage/`` (see the import-linter contracts in
pyproject.toml); there are no module-level singletons, so tests build as many independent bots
as they like, each with its own database, clock and adapter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from bot.clock import Clock, SystemClock
from bot.community import feature as community
from bot.config import CommunityDefaults, NudgeSettings, Settings, StorageSettings
from bot.core import Mentorbot
from bot.feature import Feature
from bot.followups import feature as followups
from bot.intros import feature as intros
from bot.mentorships import feature as mentorships
from bot.nudges.engine import NudgeEngine
from bot.nudges.scheduler import NudgeScheduler
from bot.nudges.workers import Identity
from bot.ports import Messenger
from bot.profiles import feature as profiles
from bot.registry import Registry
from bot.repositories import Store
from bot.sessions import feature as sessions
from bot.when import warm_up
from storage import maintenance
from storage.db import NO_SCHEMA, Migration, create_engine, is_known, latest_version, migrate
from storage.store import SqlStore

log = logging.getLogger(__name__)


def features() -> tuple[Feature, ...]:
    """Every feature of the bot, in the order help lists them. Add a feature here, once."""
    return (
        community.FEATURE,
        profiles.FEATURE,
        intros.FEATURE,
        sessions.FEATURE,
        followups.FEATURE,
        mentorships.FEATURE,
    )


def build_registry() -> Registry:
    return Registry(features())


async def open_store(storage: StorageSettings) -> Store:
    """The database, migrated to the newest schema."""
    engine = create_engine(storage)
    await migrate(engine)
    return SqlStore(engine, busy_timeout_seconds=storage.busy_timeout_seconds)


def build_core(
    store: Store, clock: Clock, defaults: CommunityDefaults, registry: Registry | None = None
) -> Mentorbot:
    return Mentorbot(store, clock, defaults, registry or build_registry())


def build_engine(
    store: Store,
    messenger: Messenger,
    clock: Clock,
    settings: NudgeSettings,
    defaults: CommunityDefaults,
    registry: Registry | None = None,
    *,
    platform: str | None = None,
) -> NudgeEngine:
    """The nudge engine; it renders every kind the features declare, whatever process it
    runs in."""
    return NudgeEngine(
        store, messenger, clock, settings, defaults, (registry or build_registry()).nudges,
        identity=Identity.of_this_process(platform), platform=platform,
    )


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
    registry: Registry
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
    platform: str | None = None,
) -> AsyncIterator[App]:
    """Build and start everything below the adapter; close it all in reverse order.

    ``platform`` makes the engine claim only that platform's nudges (one process per
    platform connection); None claims every platform's (the console, tests).
    """
    clock = clock or SystemClock()
    store = await open_store(settings.storage)
    try:
        # Reading times loads the zone list and compiles patterns on first use: do it now, off
        # the event loop, not inside the first person's command.
        await asyncio.to_thread(warm_up)
        registry = build_registry()
        core = build_core(store, clock, settings.community, registry)
        engine = build_engine(store, messenger, clock, settings.nudges, settings.community,
                              registry, platform=platform)
        scheduler = NudgeScheduler(engine, settings.nudges.sweep_seconds,
                                   settings.nudges.heartbeat_seconds)
        core.on_outbox(scheduler.wake)
        if start_scheduler:
            await scheduler.start()
        try:
            yield App(settings, store, registry, core, engine, scheduler, clock)
        finally:
            await scheduler.stop()
    finally:
        await store.close()


@dataclass(frozen=True)
class DatabaseReport:
    version: str
    """The schema version of the database ("none" when it has no mentorbot schema yet)."""
    latest: str
    """The newest schema version this mentorbot knows."""
    known: bool
    """Whether this mentorbot knows ``version`` (False: a newer mentorbot upgraded it)."""
    counts: dict[str, int]


async def upgrade_database(storage: StorageSettings) -> Migration:
    """Run the migrations (once, even with instances starting at the same time)."""
    engine = create_engine(storage)
    try:
        return await migrate(engine)
    finally:
        await engine.dispose()


async def check_database(storage: StorageSettings) -> DatabaseReport:
    """The schema version and the rows in every table, without changing anything."""
    engine = create_engine(storage)
    try:
        version = await maintenance.schema_version(engine)
        known = version == NO_SCHEMA or is_known(version)
        return DatabaseReport(version, latest_version(), known,
                              await maintenance.row_counts(engine))
    finally:
        await engine.dispose()


async def copy_database(
    source: StorageSettings, target: StorageSettings, *, worker_lease_seconds: float
) -> maintenance.CopyReport:
    """Copy everything from ``source`` into the empty ``target`` (``mentorbot db copy``).

    Refused (``UserError``) while a bot process still runs on the source (its heartbeat is
    younger than ``worker_lease_seconds``) or a nudge is being sent, or when the target is
    not empty.
    """
    source_engine, target_engine = create_engine(source), create_engine(target)
    try:
        return await maintenance.copy_database(
            source_engine, target_engine, worker_lease=timedelta(seconds=worker_lease_seconds)
        )
    finally:
        await source_engine.dispose()
        await target_engine.dispose()


async def run(settings: Settings, make_adapter: Callable[[Settings], Adapter],
              clock: Clock | None = None) -> None:
    """Start the bot with the adapter ``make_adapter`` builds, until the adapter returns."""
    adapter = make_adapter(settings)
    try:
        async with assemble(settings, adapter.messenger, clock,
                            platform=adapter.messenger.platform) as app:
            log.info("mentorbot started on %s", adapter.messenger.platform)
            await adapter.run(app)
    finally:
        await adapter.close()
