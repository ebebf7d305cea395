"""Starting the bot against a database: several instances at once, a schema newer than the code,
a database that is down, and the operator's ``mentorbot db check|upgrade`` through the real CLI.

What an operator sees is the point: one line and exit code 2 when the database cannot be used,
never a stack trace; the schema built once however many instances start together.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.bootstrap import open_store
from bot.config import StorageSettings
from storage.db import SchemaTooNew, create_engine, latest_version, migrate
from tests.instances import Run, final_state, journal_counts, run_cli, seed

ROOT = Path(__file__).resolve().parent.parent
HEAD = latest_version()


@pytest.fixture
async def run() -> AsyncIterator[Run]:
    r = Run()
    try:
        yield r
    finally:
        await r.close()


async def test_three_instances_starting_at_once_build_the_schema_once(
    any_db_url: str, tmp_path: Path, run: Run
) -> None:
    journal = tmp_path / "platform.journal"
    instances = [await run.spawn(name, any_db_url, journal, tmp_path, batch=20, sweep=1)
                 for name in ("A", "B", "C")]
    await run.start(*instances)  # all three released at once against an empty database

    built = [i.name for i in instances if f"database schema upgraded from none to {HEAD}" in i.logs]
    found = [i.name for i in instances if f"database schema is up to date ({HEAD})" in i.logs]
    assert len(built) == 1, [i.logs for i in instances]
    assert sorted(built + found) == ["A", "B", "C"], [i.logs for i in instances]
    # And all three run: registered, and together they deliver what is due, once each.
    assert len({i.worker for i in instances}) == 3
    await seed(any_db_url, 300)
    for i in instances:
        i.send_line("go")
    await run.until(lambda: len(run.sends) == 300, "300 deliveries")
    for i in instances:
        assert await i.stop() == 0, i.last_words()
    assert set(journal_counts(journal).values()) == {1}
    assert await final_state(any_db_url) == ({"sent": 300}, 0)


async def test_an_instance_refuses_a_schema_newer_than_it_knows(any_db_url: str) -> None:
    engine = create_engine(StorageSettings(url=any_db_url))
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        await engine.dispose()

    with pytest.raises(SchemaTooNew) as refused:
        await open_store(StorageSettings(url=any_db_url))
    assert str(refused.value) == (
        f"the database schema is at version 9999, newer than this mentorbot knows (up to "
        f"{HEAD}): run the newer mentorbot that upgraded it")

    upgrade = run_cli(["db", "upgrade"], any_db_url)
    assert upgrade.returncode == 2
    assert upgrade.stderr.splitlines() == [f"mentorbot: database unavailable: {refused.value}"]
    check = run_cli(["db", "check"], any_db_url)
    assert check.returncode == 0, check.stderr
    assert check.stdout.splitlines()[0] == (
        f"schema version: 9999 (newer than this mentorbot, which knows up to {HEAD})")
    engine = create_engine(StorageSettings(url=any_db_url))
    try:
        async with engine.connect() as conn:  # nothing was touched
            assert (await conn.execute(text("SELECT version_num FROM alembic_version"))
                    ).scalar() == "9999"
    finally:
        await engine.dispose()


def test_db_check_and_upgrade_through_the_cli(any_db_url: str) -> None:
    empty = run_cli(["db", "check"], any_db_url)
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.splitlines()[0].startswith("schema version: none (no schema yet")

    first = run_cli(["db", "upgrade"], any_db_url)
    assert (first.returncode, first.stdout) == (
        0, f"upgraded the database from schema version none to {HEAD}\n"), first.stderr
    again = run_cli(["db", "upgrade"], any_db_url)
    assert again.stdout == f"the database is already at schema version {HEAD}\n"

    check = run_cli(["db", "check"], any_db_url)
    assert check.returncode == 0
    lines = check.stdout.splitlines()
    assert lines[0] == f"schema version: {HEAD} (up to date)"
    counts = dict(line.strip().split(": ") for line in lines[1:])
    assert counts["nudges"] == "0" and counts["communities"] == "0"
    assert counts["installation"] == "1"  # the identity the migrations give every database
    assert "Traceback" not in first.stderr + again.stderr + check.stderr


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("task", [["db", "check"], ["db", "upgrade"]])
def test_a_database_that_is_down_gives_one_line_and_exit_code_2(
    task: list[str], tmp_path: Path
) -> None:
    down = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/mentorbot"
    unopenable = f"sqlite+aiosqlite:///{tmp_path / 'no-such-dir' / 'mentorbot.db'}"
    for url, why in ((down, "Connect call failed"), (unopenable, "unable to open database")):
        result = run_cli(task, url)
        assert result.returncode == 2, result.stdout + result.stderr
        [line] = result.stderr.splitlines()
        assert line.startswith(f"mentorbot: database unavailable: cannot connect to "
                               f"{url}: "), line
        assert why in line
        assert result.stdout == ""


def test_db_copy_from_a_database_that_is_down_gives_one_line_and_exit_code_2(
    tmp_path: Path,
) -> None:
    down = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/mentorbot"
    result = run_cli(["db", "copy", "--from", down, "--to", f"sqlite+aiosqlite:///{tmp_path}/x.db"],
                 down)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("mentorbot: database unavailable: cannot connect to "), line
