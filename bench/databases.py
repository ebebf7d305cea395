"""Throwaway databases for the benchmarks: SQLite files in a temporary directory, or databases
created on (and dropped from) the PostgreSQL server named by ``--db``.

Every measurement starts from a fresh copy of a seeded *template* (``bench.community``), so no
measurement inherits another's rows, indexes or caches. SQLite: the template file is copied
(after its store is closed, so its WAL is checkpointed into the file). PostgreSQL:
``CREATE DATABASE … TEMPLATE …``, the server's own file-level copy. Every database created here
is dropped on exit, even after an error.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

SQLITE = "sqlite"
POSTGRESQL = "postgresql"


@dataclass(frozen=True)
class Database:
    url: str
    backend: str

    @property
    def label(self) -> str:
        return "SQLite" if self.backend == SQLITE else "PostgreSQL"


class Databases:
    """Creates and drops the benchmark's databases on one backend."""

    def __init__(self, tmp: Path, pg_url: str | None = None) -> None:
        self.tmp = tmp
        self.pg_url = pg_url
        self.backend = POSTGRESQL if pg_url else SQLITE
        self._created: list[str] = []
        self._prefix = f"mentorbot_bench_{uuid.uuid4().hex[:8]}"

    async def new(self, name: str) -> Database:
        """An empty database (the store's migrations build the schema)."""
        if self.backend == SQLITE:
            return Database(f"sqlite+aiosqlite:///{self.tmp / f'{name}.db'}", SQLITE)
        db_name = f"{self._prefix}_{name}"
        await self._admin(f'CREATE DATABASE "{db_name}"')
        self._created.append(db_name)
        return Database(self._pg_url_for(db_name), POSTGRESQL)

    async def copy(self, template: Database, name: str) -> Database:
        """A copy of ``template``, which must have no open connection."""
        if self.backend == SQLITE:
            source = Path(make_url(template.url).database or "")
            target = self.tmp / f"{name}.db"
            shutil.copyfile(source, target)
            for suffix in ("-wal", "-shm"):
                extra = source.with_name(source.name + suffix)
                if extra.exists():
                    shutil.copyfile(extra, target.with_name(target.name + suffix))
            return Database(f"sqlite+aiosqlite:///{target}", SQLITE)
        db_name = f"{self._prefix}_{name}"
        source_name = make_url(template.url).database
        await self._admin(f'CREATE DATABASE "{db_name}" TEMPLATE "{source_name}"')
        self._created.append(db_name)
        return Database(self._pg_url_for(db_name), POSTGRESQL)

    async def drop_all(self) -> None:
        while self._created:
            name = self._created.pop()
            try:
                await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception:
                log.exception("could not drop the benchmark database %s", name)

    def _pg_url_for(self, db_name: str) -> str:
        assert self.pg_url is not None
        return make_url(self.pg_url).set(database=db_name).render_as_string(hide_password=False)

    async def _admin(self, sql: str) -> None:
        """Run a statement on the maintenance database named in ``--db`` (asyncpg directly:
        CREATE/DROP DATABASE cannot run inside SQLAlchemy's transaction)."""
        import asyncpg

        assert self.pg_url is not None
        url = make_url(self.pg_url)
        conn = await asyncpg.connect(
            user=url.username, password=url.password, host=url.host or "127.0.0.1",
            port=url.port or 5432, database=url.database or "postgres",
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


async def build_template(
    databases: Databases, name: str, fill: Callable[[str], Awaitable[None]]
) -> Database:
    """A new database filled by ``fill(url)``, which must close its store when done."""
    db = await databases.new(name)
    await fill(db.url)
    return db
