"""Running bot processes and their heartbeats: whose claims on nudges are still owned."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row

from bot.domain import Worker
from storage import schema as t
from storage.repository import SqlRepository

log = logging.getLogger(__name__)


class SqlWorkers(SqlRepository):
    async def register(self, worker: Worker) -> None:
        """Record the process, or refresh it if it is known (a restart of the same identity,
        or a process that was taken for gone and comes back)."""
        values = {
            "platform": worker.platform,
            "host": worker.host,
            "pid": worker.pid,
            "started_at": worker.started_at,
            "heartbeat_at": worker.heartbeat_at,
        }
        changed = await self.conn.execute(
            update(t.workers).where(t.workers.c.id == worker.id).values(**values)
        )
        if changed.rowcount == 0:
            await self.conn.execute(insert(t.workers).values(id=worker.id, **values))

    async def beat(self, worker_id: str, now: datetime) -> bool:
        """Record a heartbeat; False if the row is gone (another process declared us dead)."""
        result = await self.conn.execute(
            update(t.workers).where(t.workers.c.id == worker_id).values(heartbeat_at=now)
        )
        return bool(result.rowcount)

    async def remove(self, worker_id: str) -> None:
        await self.conn.execute(delete(t.workers).where(t.workers.c.id == worker_id))

    async def all(self) -> list[Worker]:
        rows = await self.conn.execute(
            select(t.workers).order_by(t.workers.c.started_at, t.workers.c.id)
        )
        return [_worker(r) for r in rows]


def _worker(r: Row[Any]) -> Worker:
    return Worker(r.id, r.platform, r.host, r.pid, r.started_at, r.heartbeat_at)
