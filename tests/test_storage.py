"""Storage: a real database file, migrations, WAL, communities kept apart, times in UTC.

The same tests run on SQLite and PostgreSQL (``any_db_url``): the core's queries must mean the
same thing on both. Each repository method is exercised in ``tests/test_repositories.py``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bootstrap import build_core
from bot.caller import Caller
from bot.clock import ManualClock
from bot.config import CommunityDefaults, StorageSettings
from bot.domain import IntroState
from bot.errors import StorageBusy
from storage import schema
from storage.db import NO_SCHEMA, create_engine, latest_version, migrate
from storage.store import SqlStore
from tests.conftest import START

MENTOR_SET = (
    "mentor set topics: python, career bio: I review code for a living. "
    "lengths: 30, 45 availability: Tue 18:00-20:00 mentees: 3 sessions: 4"
)
CONTEXT = "I wrote a small CLI and got stuck on packaging it for PyPI."


def caller(community: str, user_id: str, name: str) -> Caller:
    return Caller("test", community, f"Community {community}", user_id, name)


def engine_for(url: str) -> AsyncEngine:
    return create_engine(StorageSettings(url=url))


async def sql_store(url: str) -> SqlStore:
    """The store as the composition root opens it (migrated); ``tx.conn`` reads raw tables."""
    engine = engine_for(url)
    await migrate(engine)
    return SqlStore(engine)


async def table_names(url: str) -> set[str]:
    engine = engine_for(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_migrations_create_every_table_from_an_empty_database(any_db_url: str) -> None:
    engine = engine_for(any_db_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    names = await table_names(any_db_url)
    assert {t.name for t in schema.metadata.sorted_tables} <= names
    assert "alembic_version" in names


async def test_migrating_twice_is_harmless_and_keeps_the_data(any_db_url: str) -> None:
    clock = ManualClock(START)
    store = await sql_store(any_db_url)
    core = build_core(store, clock, CommunityDefaults())
    await core.handle_text(caller("c1", "U1", "Grace"), MENTOR_SET)
    await store.close()

    store = await sql_store(any_db_url)  # a second start
    try:
        async with store.reading() as tx:
            community = await tx.communities.get("test", "c1")
            assert community is not None
            profiles = await tx.profiles.all(community.id)
        assert [p.topics for p in profiles] == [("python", "career")]
    finally:
        await store.close()


async def test_sqlite_database_is_a_real_file_in_wal_mode(sqlite_url: str, tmp_path: Path) -> None:
    engine = engine_for(sqlite_url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
            fks = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
            busy_ms = (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one()
    finally:
        await engine.dispose()
    assert mode.lower() == "wal"
    assert fks == 1
    # A command stops waiting for another writer in time to answer within 3 seconds.
    assert busy_ms == StorageSettings().busy_timeout_seconds * 1000 == 2000
    assert (tmp_path / "mentorbot.db").stat().st_size > 0


async def test_times_are_stored_as_utc_and_come_back_aware(any_db_url: str) -> None:
    store = await sql_store(any_db_url)
    berlin_noon = datetime(2026, 11, 23, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    try:
        async with store.transaction() as tx:
            community = await tx.communities.create("test", "tz", "Zones", berlin_noon)
            await tx.members.add(community.id, "U1", "Ada", "Europe/Berlin", berlin_noon)
        async with store.transaction() as tx:
            back = await tx.communities.get("test", "tz")
            member = await tx.members.by_platform_id(back.id, "U1") if back else None
            typed = (
                await tx.conn.execute(select(schema.members.c.created_at))
            ).scalar_one()
            untyped = (
                await tx.conn.execute(text("SELECT created_at FROM members"))
            ).scalar_one()
        assert back is not None and member is not None
        assert typed == berlin_noon
        assert typed.tzinfo is not None and typed.utcoffset() == timedelta(0)
        # What is in the database itself is 12:00 UTC (13:00 at +01:00), not local time.
        if isinstance(untyped, str):
            assert untyped.startswith("2026-11-23 12:00:00")
        else:
            assert untyped == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    finally:
        await store.close()


async def test_a_naive_datetime_is_refused_by_storage(any_db_url: str) -> None:
    store = await sql_store(any_db_url)
    try:
        with pytest.raises(Exception, match="naive"):
            async with store.transaction() as tx:
                await tx.communities.create("test", "naive", "Naive", datetime(2026, 11, 23, 12))
    finally:
        await store.close()


async def test_two_communities_in_one_database_never_see_each_other(any_db_url: str) -> None:
    """Same platform user ids and display names in both: nothing crosses over."""
    store = await sql_store(any_db_url)
    core = build_core(store, ManualClock(START), CommunityDefaults())
    try:
        for community, topics in (("red", "python"), ("blue", "rust")):
            reply = await core.handle_text(
                caller(community, "U_MENTOR", "Grace"),
                MENTOR_SET.replace("python, career", topics),
            )
            assert "now a mentor" in reply.plain_text()
        sent = await core.handle_text(
            caller("red", "U_MEMBER", "Ada"),
            f"request Grace topic: python context: {CONTEXT}",
        )
        assert "Request #" in sent.plain_text()

        blue_find = await core.handle_text(caller("blue", "U_MEMBER", "Ada"), "find python")
        assert "No mentor is free" in blue_find.plain_text()
        red_find = await core.handle_text(caller("red", "U_MEMBER", "Ada"), "find rust")
        assert "No mentor is free" in red_find.plain_text()

        blue_mine = (await core.handle_text(caller("blue", "U_MEMBER", "Ada"), "my")).plain_text()
        assert "none yet" in blue_mine and "python" not in blue_mine
        blue_mentor = (
            await core.handle_text(caller("blue", "U_MENTOR", "Grace"), "my")
        ).plain_text()
        assert "from @Ada" not in blue_mentor and "rust" in blue_mentor

        # Request numbers are global, but one community cannot answer another's request.
        intro_id = int(sent.plain_text().split("#")[1].split()[0])
        refused = await core.handle_text(caller("blue", "U_MENTOR", "Grace"), f"accept {intro_id}")
        assert "isn't one addressed to you" in refused.plain_text()

        # Ada asking blue's Grace works independently of the open request in red.
        blue_request = await core.handle_text(
            caller("blue", "U_MEMBER", "Ada"), f"request Grace topic: rust context: {CONTEXT}"
        )
        assert "Request #" in blue_request.plain_text()

        async with store.reading() as tx:
            red = await tx.communities.get("test", "red")
            blue = await tx.communities.get("test", "blue")
            assert red is not None and blue is not None and red.id != blue.id
            red_intros = await tx.intros.of(red.id)
            blue_intros = await tx.intros.of(blue.id)
            member_rows = (
                await tx.conn.execute(
                    select(schema.members.c.id, schema.members.c.community_id)
                )
            ).all()
        community_of = {r.id: r.community_id for r in member_rows}
        assert [i.topic for i in red_intros] == ["python"]
        assert [i.topic for i in blue_intros] == ["rust"]
        for intro in red_intros:
            assert community_of[intro.member_id] == community_of[intro.mentor_id] == red.id
        for intro in blue_intros:
            assert community_of[intro.member_id] == community_of[intro.mentor_id] == blue.id
        assert red_intros[0].state is IntroState.PENDING
    finally:
        await store.close()


async def test_community_settings_round_trip_as_json(any_db_url: str) -> None:
    store = await sql_store(any_db_url)
    try:
        async with store.transaction() as tx:
            community = await tx.communities.create("test", "s", "S", START)
            await tx.communities.save_settings(
                community.id, {"request_limit": 5, "synonyms": {"golang": "go"}}
            )
        async with store.reading() as tx:
            assert await tx.communities.settings(community.id) == {
                "request_limit": 5,
                "synonyms": {"golang": "go"},
            }
    finally:
        await store.close()


async def test_a_failed_transaction_leaves_nothing_behind(any_db_url: str) -> None:
    store = await sql_store(any_db_url)
    try:
        with pytest.raises(RuntimeError):
            async with store.transaction() as tx:
                await tx.communities.create("test", "gone", "Gone", START)
                raise RuntimeError("boom")
        async with store.reading() as tx:
            assert await tx.communities.get("test", "gone") is None
    finally:
        await store.close()


async def test_instances_migrating_at_the_same_moment_build_the_schema_once(
    any_db_url: str,
) -> None:
    engines = [engine_for(any_db_url) for _ in range(3)]
    try:
        done = await asyncio.gather(*(migrate(e) for e in engines))
    finally:
        for e in engines:
            await e.dispose()
    head = latest_version()
    assert sorted((m.before, m.after) for m in done) == sorted([
        (NO_SCHEMA, head), (head, head), (head, head)])  # built once; the others found it


async def test_postgresql_connections_carry_the_configured_limits(postgres_url: str) -> None:
    settings = StorageSettings(url=postgres_url, pool_size=3, statement_timeout_seconds=0.3,
                               busy_timeout_seconds=1.5)
    store = SqlStore(create_engine(settings))
    try:
        async with store.reading() as tx:
            conn = tx.conn
            assert (await conn.execute(text("SHOW statement_timeout"))).scalar() == "300ms"
            assert (await conn.execute(text("SHOW lock_timeout"))).scalar() == "1500ms"
        assert store.engine.pool.size() == 3  # type: ignore[attr-defined]
        # A statement that runs longer than the timeout is cancelled: the core hears "busy".
        with pytest.raises(StorageBusy):
            async with store.reading() as tx:
                await tx.conn.execute(text("SELECT pg_sleep(5)"))
    finally:
        await store.close()


def test_start_is_aware_utc() -> None:
    assert START.tzinfo is UTC


async def test_the_migrations_build_exactly_the_schema_the_code_uses(any_db_url: str) -> None:
    """A column added to storage/schema.py without a migration (or the reverse) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = engine_for(any_db_url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": False}),
                    schema.metadata,
                )
            )
    finally:
        await engine.dispose()
    assert differences == []
