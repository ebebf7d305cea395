"""``mentorbot db …``: database tasks an operator runs by hand (upgrade, check, copy).

The work itself is done by the composition root (``bot.bootstrap``), the one place that knows
the storage; this module only reads the arguments and prints the outcome. Every task ends with
one line on stderr and a non-zero exit code when it cannot be done: 2 when a database cannot be
reached (or was upgraded by a newer mentorbot), 1 when the task was refused (nothing changed).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from pydantic import ValidationError

from bot import bootstrap
from bot.config import Settings, StorageSettings
from bot.errors import StorageUnavailable, UserError

log = logging.getLogger(__name__)

UNAVAILABLE = 2
REFUSED = 1


def run_db(settings: Settings, args: argparse.Namespace) -> int:
    try:
        if args.db_task == "upgrade":
            return _upgrade(settings.storage)
        if args.db_task == "check":
            return _check(settings.storage)
        return _copy(settings, args.source, args.target)
    except StorageUnavailable as err:
        return _fail(f"database unavailable: {err}", UNAVAILABLE)
    except UserError as err:
        return _fail(f"db {args.db_task} refused: {err}", REFUSED)


def _upgrade(storage: StorageSettings) -> int:
    migration = asyncio.run(bootstrap.upgrade_database(storage))
    if migration.changed:
        print(f"upgraded the database from schema version {migration.before} "
              f"to {migration.after}")
    else:
        print(f"the database is already at schema version {migration.after}")
    return 0


def _check(storage: StorageSettings) -> int:
    report = asyncio.run(bootstrap.check_database(storage))
    if report.version == report.latest:
        state = "up to date"
    elif report.version == "none":
        state = "no schema yet: mentorbot db upgrade (or the bot's start) builds it"
    elif not report.known:
        state = f"newer than this mentorbot, which knows up to {report.latest}"
    else:
        state = f"this mentorbot knows {report.latest}: run mentorbot db upgrade"
    print(f"schema version: {report.version} ({state})")
    for table, count in report.counts.items():
        print(f"  {table}: {count}")
    return 0


def _copy(settings: Settings, source_url: str, target_url: str) -> int:
    try:
        source = _storage(settings, source_url)
        target = _storage(settings, target_url)
    except ValidationError:
        return _fail("db copy: --from and --to take database URLs: sqlite+aiosqlite:///path.db "
                     "or postgresql+asyncpg://user@host/db", UNAVAILABLE)
    print(f"copying {source_url} to {target_url} …", flush=True)
    report = asyncio.run(bootstrap.copy_database(
        source, target, worker_lease_seconds=settings.nudges.worker_lease_seconds
    ))
    width = max(len(c.table) for c in report.tables)
    for c in report.tables:
        check = "ok" if c.source == c.target else "DIFFERENT"
        print(f"  {c.table:<{width}}  {c.source:>8} → {c.target:<8} {check}")
    print(f"copied {report.rows} rows at schema version {report.version}; every table's "
          "count matches. Point storage.url at the new database before starting the bot.")
    return 0


def _storage(settings: Settings, url: str) -> StorageSettings:
    """The configured pool and time-outs, for another database."""
    return StorageSettings.model_validate({**settings.storage.model_dump(), "url": url})


def _fail(message: str, code: int) -> int:
    print(f"mentorbot: {message}", file=sys.stderr)
    return code
