"""What every repository shares: the connection of the transaction it works in.

A repository is a thin object made per transaction (``storage.store.SqlTx``); all of them share
that transaction's connection, so a change and the nudges it causes commit together.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger(__name__)


class SqlRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    @property
    def on_postgresql(self) -> bool:
        return self.conn.dialect.name == "postgresql"


def counts(rows: Iterable[Row[Any, Any]]) -> dict[Any, int]:
    """``{key: count}`` from rows of ``(key, count(*))`` (a ``GROUP BY`` query)."""
    return {r[0]: int(r[1]) for r in rows}
