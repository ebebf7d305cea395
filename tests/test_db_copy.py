"""Moving a community off SQLite: ``mentorbot db copy`` to PostgreSQL, and the bot carries on there.

The data is made as people make it, through the console on SQLite: mentors, requests (one
answered, one waiting), a mentorship with goals, a confirmed session, buttons already delivered,
nudges still pending. After the copy (the real CLI, in a subprocess) the bot started on
PostgreSQL must show every view exactly as the SQLite bot does, accept a click on a button
delivered before the move, hand out the next ids after the copied ones, and deliver the
pending nudges once: the same messages the SQLite bot delivers when its clock moves the same
way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from adapters.console.session import ConsoleSession, open_console
from bot import bootstrap
from bot.clock import ManualClock
from bot.config import StorageSettings
from bot.domain import Worker
from bot.errors import UserError
from bot.messages import Choice
from storage import schema as t
from storage.db import create_engine
from storage.maintenance import CopyRefused
from tests.conftest import START
from tests.instances import final_state, run_cli

SCENARIO = [
    "/as Grace", "tz America/New_York",
    "mentor set topics: python, career bio: I review code lengths: 30, 60 "
    "availability: Mon-Fri 09:00-17:00 mentees: 3 sessions: 4",
    "/as Linus", "tz Europe/Helsinki",
    "mentor set topics: linux bio: kernels availability: Tue 10:00-12:00",
    "/as Ada", "tz Europe/Berlin",
    "request Grace topic: python context: I want to learn asyncio properly and tried the docs",
    "/as Grace", "accept 1",
    "/as Ada", "goals 1 goal1: ship an asyncio crawler by January, reviewed by Grace",
    "book Grace when: 2026-11-26 16:00 Europe/Berlin agenda: asyncio questions",
    "/as Grace", "confirm 1",
    "/as Bob", "tz Europe/London",
    "request Linus topic: linux context: I want to learn how the scheduler works",
]

#: (who, what they type): read-only views, so looking changes nothing.
VIEWS = [
    ("Ada", "my"), ("Ada", "sessions"), ("Ada", "progress 1"), ("Ada", "mentorships"),
    ("Grace", "my"), ("Grace", "sessions"), ("Bob", "my"), ("Linus", "my"),
    ("Kofi", "report"), ("Kofi", "nudges pending"), ("Kofi", "nudges sent"),
]


async def views(console: ConsoleSession) -> list[str]:
    await console.add_person("Kofi", "UTC", organizer=True)
    shown = []
    for who, line in VIEWS:
        await console.feed(f"/as {who}")
        shown.append(f"{who}> {line}\n{await console.feed(line)}")
    return shown


def accept_button(console: ConsoleSession) -> Choice:
    """The Accept button on the request DM Linus got (delivered before the move)."""
    [dm] = [s for s in console.messenger.sent
            if "asks you for an intro (request #2)" in s.message.plain_text()]
    [accept] = [c for c in dm.message.choices if c.label == "Accept"]
    return accept


async def after_the_move(console: ConsoleSession, accept: Choice) -> list[str]:
    """What happens next, the same way on either database."""
    out = [*await views(console)]
    linus = console.people["linus"]
    out.append((await console.app.core.handle_click(console.caller(linus), accept.id))
               .plain_text())
    await console.feed("/as Cara")
    out.append(await console.feed(
        "request Grace topic: career context: I want to move from support into development"))
    await console.feed("/as Ada")
    out.append(await console.feed("/time +4d"))  # the reminders, the deadline, the follow-ups
    return out


async def test_a_community_moves_from_sqlite_to_postgresql_and_carries_on(
    sqlite_url: str, postgres_url: str, tmp_path: Path
) -> None:
    async with open_console(sqlite_url, ManualClock(START)) as console:
        for line in SCENARIO:
            assert "went wrong" not in await console.feed(line), line
        accept = accept_button(console)
    async with open_console(sqlite_url, ManualClock(START)) as console:
        before = await views(console)  # a fresh session numbers its choices from 1
    source = await bootstrap.check_database(StorageSettings(url=sqlite_url))
    assert source.counts["goals"] and source.counts["sessions"] and source.counts["mentorships"]
    pending = await nudge_ids(sqlite_url, "pending")
    assert pending

    copied = run_cli(["db", "copy", "--from", sqlite_url, "--to", postgres_url], postgres_url)
    assert copied.returncode == 0, copied.stderr
    assert copied.stderr == ""
    table_lines = {line.split()[0]: line.split()[1:] for line in copied.stdout.splitlines()
                   if line.startswith("  ")}
    assert table_lines == {
        table: [str(n), "→", str(n), "ok"] for table, n in source.counts.items()
    }
    assert f"copied {sum(source.counts.values())} rows at schema version {source.version}" \
        in copied.stdout
    assert (await bootstrap.check_database(StorageSettings(url=postgres_url))).counts \
        == source.counts

    async with open_console(postgres_url, ManualClock(START)) as on_postgres:
        moved = await after_the_move(on_postgres, accept)
        delivered = [s.idempotency_key for s in on_postgres.messenger.sent]
    async with open_console(sqlite_url, ManualClock(START)) as on_sqlite:
        stayed = await after_the_move(on_sqlite, accept)
    assert moved[:len(VIEWS)] == before  # PostgreSQL shows what SQLite showed
    assert moved == stayed
    assert "Accepted! I'm introducing you and @Bob" in moved[-3]
    assert "Request #3 sent to @Grace" in moved[-2]  # the next id after the copied ones
    assert "⏱" in moved[-1] and "→ DM to" in moved[-1]
    # Every nudge pending before the move that fell due was delivered once, from PostgreSQL.
    assert len(delivered) == len(set(delivered))
    sent_after = await nudge_ids(postgres_url, "sent")
    assert pending & sent_after
    assert {f"mentorbot-nudge-{i}" for i in pending & sent_after} <= set(delivered)
    assert (await final_state(postgres_url))[0].get("sending") is None

    # And back again: PostgreSQL to a new SQLite file, every row.
    back = f"sqlite+aiosqlite:///{tmp_path / 'back.db'}"
    report = await bootstrap.copy_database(StorageSettings(url=postgres_url),
                                           StorageSettings(url=back), worker_lease_seconds=20)
    assert all(c.source == c.target for c in report.tables)
    assert (await bootstrap.check_database(StorageSettings(url=back))).counts == {
        c.table: c.source for c in report.tables}


async def nudge_ids(url: str, state: str) -> set[int]:
    engine = create_engine(StorageSettings(url=url))
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(t.nudges.c.id).where(t.nudges.c.state == state))
            return {i for (i,) in rows}
    finally:
        await engine.dispose()


async def source_with_a_request(url: str) -> None:
    """Linus mentors, Bob asks him for an intro: a community, members, a pending nudge."""
    async with open_console(url, ManualClock(START)) as console:
        for line in [*SCENARIO[3:6], *SCENARIO[-3:]]:
            said = await console.feed(line)
        assert "Request #1 sent to @Linus" in said


async def copy(source: str, target: str) -> bootstrap.maintenance.CopyReport:
    return await bootstrap.copy_database(StorageSettings(url=source), StorageSettings(url=target),
                                         worker_lease_seconds=20)


async def test_copy_is_refused_while_a_nudge_is_being_sent(
    sqlite_url: str, postgres_url: str
) -> None:
    await source_with_a_request(sqlite_url)
    engine = create_engine(StorageSettings(url=sqlite_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(t.nudges.update().values(state="sending", claimed_by="gone"))
    finally:
        await engine.dispose()
    with pytest.raises(CopyRefused, match=r"nudge\(s\) on .* are being sent right now"):
        await copy(sqlite_url, postgres_url)
    target = await bootstrap.check_database(StorageSettings(url=postgres_url))
    assert (target.version, target.counts) == ("none", {})  # not even the schema was written


async def test_copy_is_refused_into_a_database_that_is_not_empty(
    sqlite_url: str, postgres_url: str
) -> None:
    await source_with_a_request(sqlite_url)
    await source_with_a_request(postgres_url)
    before = await bootstrap.check_database(StorageSettings(url=postgres_url))
    with pytest.raises(CopyRefused) as refused:
        await copy(sqlite_url, postgres_url)
    assert "is not empty (communities: 1, members: 2" in str(refused.value)
    assert "Copy into a new, empty database." in str(refused.value)
    assert (await bootstrap.check_database(StorageSettings(url=postgres_url))) == before

    result = run_cli(["db", "copy", "--from", sqlite_url, "--to", postgres_url], postgres_url)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("mentorbot: db copy refused: postgresql+asyncpg://") and \
        "is not empty" in line


async def test_copy_is_refused_while_a_bot_still_runs_on_the_source(
    sqlite_url: str, postgres_url: str
) -> None:
    await source_with_a_request(sqlite_url)
    now = datetime.now(UTC)
    engine = create_engine(StorageSettings(url=sqlite_url))
    try:
        async with engine.begin() as conn:
            alive = Worker("host:1:x", "slack", "host", 1, now, now - timedelta(seconds=3))
            await conn.execute(insert(t.workers).values(vars(alive)))
    finally:
        await engine.dispose()
    with pytest.raises(UserError, match=r"a bot process is still running on .* \(host host, "
                                        r"pid 1, last heartbeat 3 s ago\)"):
        await copy(sqlite_url, postgres_url)
    # Once its heartbeat is older than the lease, it is gone (killed): the copy may go ahead.
    report = await bootstrap.copy_database(StorageSettings(url=sqlite_url),
                                           StorageSettings(url=postgres_url),
                                           worker_lease_seconds=2)
    assert {c.table: c.target for c in report.tables}["workers"] == 1
