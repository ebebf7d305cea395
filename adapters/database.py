"""``mentorbot db …``: database tasks an operator runs by hand (upgrade, check, copy).

The work itself is done by the composition root (``bot.bootstrap``), the one place that knows
the storage; this module only reads the arguments and prints the outcome.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from bot import bootstrap
from bot.config import Settings
from bot.errors import StorageUnavailable

log = logging.getLogger(__name__)


def run_db(settings: Settings, args: argparse.Namespace) -> int:
    try:
        if args.db_task == "upgrade":
            version = asyncio.run(bootstrap.upgrade_database(settings.storage))
            print(f"database is at schema version {version}")
            return 0
        if args.db_task == "check":
            report = asyncio.run(bootstrap.check_database(settings.storage))
            print(f"schema version: {report.version}")
            for table, count in report.counts.items():
                print(f"  {table}: {count}")
            return 0
        print("mentorbot: db copy is not available in this version", flush=True)
        return 2
    except StorageUnavailable as err:
        print(f"mentorbot: database unavailable: {err}")
        return 2
