"""Fresh SQLite databases for tests, copied from one migrated template per test session.

Migrating an empty SQLite file takes about 0.3 s (Alembic loads and runs every revision);
copying a migrated file and checking it is up to date takes about 0.05 s. Most tests want a
fresh, migrated database, not a migration: they get a copy. Tests about migrations themselves
(start-up, `db copy`, `db check`) keep using empty files.

The template lives in the session's pytest base directory (made by the ``sqlite_template``
fixture in ``conftest.py``); a copy is found from the test's own ``tmp_path`` by looking up the
directory tree, so harnesses need no extra argument. Outside pytest there is no template and
the file simply starts empty (the bot then migrates it, as in production).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from bot.bootstrap import open_store
from bot.config import StorageSettings

TEMPLATE_NAME = "migrated-template.db"


def build_template(directory: Path) -> Path:
    """Migrate an empty SQLite file in ``directory`` the way the bot does at start-up."""

    async def migrate() -> None:
        store = await open_store(StorageSettings(url=sqlite_url(template)))
        await store.close()

    template = directory / TEMPLATE_NAME
    asyncio.run(migrate())
    return template


def migrated_sqlite_url(path: Path) -> str:
    """The URL of :func:`fresh_sqlite` at ``path``."""
    return sqlite_url(fresh_sqlite(path))


def fresh_sqlite(path: Path) -> Path:
    """``path``, made a migrated copy of the template when there is no file there yet (and the
    session has a template). An existing file is left as it is: a bot restarted on the same
    path finds what it left."""
    if path.exists():
        return path
    for directory in path.parents:
        template = directory / TEMPLATE_NAME
        if template.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, path)
            break
    return path


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"
