"""Shared fixtures: a real SQLite file per test, a manual clock, and (optionally) PostgreSQL.

PostgreSQL tests skip with a reason when no server answers on 127.0.0.1:5432, and fail instead
when ``CI`` is set, so CI can never pass by skipping them.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.console.session import ConsoleSession, open_console
from bot.bootstrap import build_core, open_store
from bot.clock import ManualClock
from bot.config import CommunityDefaults, StorageSettings
from bot.core import Mentorbot
from bot.repositories import Store
from tests.template_db import build_template, migrated_sqlite_url
from tests.template_db import sqlite_url as sqlite_url_of

#: A Monday at noon UTC: tests read more easily with a fixed, known "now".
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(scope="session", autouse=True)
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; fresh databases are copies of it."""
    return build_template(tmp_path_factory.getbasetemp())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An empty SQLite file: for tests of migrations and of what start-up does to it."""
    return sqlite_url_of(tmp_path / "mentorbot.db")


@pytest.fixture
def migrated_url(tmp_path: Path) -> str:
    """A fresh SQLite file at the newest schema (a copy of the session's template)."""
    return migrated_sqlite_url(tmp_path / "mentorbot.db")


@pytest.fixture
async def console(migrated_url: str, clock: ManualClock) -> AsyncIterator[ConsoleSession]:
    """The console over a fresh SQLite file, no demo data: scenario tests type into it."""
    async with open_console(migrated_url, clock) as session:
        yield session


def postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@asynccontextmanager
async def pg_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not running on 127.0.0.1:5432 and CI is set")
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    import asyncpg

    name = f"mentorbot_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_db_url(request: pytest.FixtureRequest, sqlite_url: str) -> AsyncIterator[str]:
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_url
        return
    async with pg_database() as url:
        yield url


@pytest.fixture
async def store(migrated_url: str) -> AsyncIterator[Store]:
    """The real storage over a fresh SQLite file, migrated, as the composition root opens it."""
    s = await open_store(StorageSettings(url=migrated_url))
    yield s
    await s.close()


@pytest.fixture
def core(store: Store, clock: ManualClock) -> Mentorbot:
    return build_core(store, clock, CommunityDefaults())
