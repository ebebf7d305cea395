"""Engine creation and migrations.

SQLite (aiosqlite) is the default: one file in WAL mode so readers never block the writer. Every
wait for the database is bounded by ``busy_timeout_seconds`` (2 s by default), so a command that
finds another writer answers "busy, try again" inside Slack's and Discord's 3-second deadline
instead of hanging. PostgreSQL (asyncpg) takes the same schema and queries, with a bounded pool
and the same bound on lock waits. Migrations run at every start; Alembic knows what is already
applied.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.config import StorageSettings

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"

#: Execution option read by the SQLite ``begin`` listener: this connection's next transaction
#: only reads, so it starts with a plain (deferred) ``BEGIN`` instead of ``BEGIN IMMEDIATE``.
DEFERRED_BEGIN = "mentorbot_deferred_begin"


def create_engine(settings: StorageSettings) -> AsyncEngine:
    """An async engine for ``settings.url``, with every wait bounded as described above."""
    busy_ms = round(settings.busy_timeout_seconds * 1000)
    if settings.url.startswith("sqlite"):
        engine = create_async_engine(
            settings.url, connect_args={"timeout": settings.busy_timeout_seconds}
        )

        def pragmas(dbapi_connection: Any, _record: Any) -> None:
            _sqlite_pragmas(dbapi_connection, busy_ms)

        event.listen(engine.sync_engine, "connect", pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(
        settings.url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_size,
        pool_timeout=settings.busy_timeout_seconds,
        pool_pre_ping=True,
        connect_args={
            "server_settings": {
                "statement_timeout": str(round(settings.statement_timeout_seconds * 1000)),
                # A row lock held by another transaction (a booking, a claimed batch) is
                # waited for as long as SQLite waits for its write lock, then "busy".
                "lock_timeout": str(busy_ms),
            }
        },
    )


def read_only_options(engine: AsyncEngine) -> dict[str, Any]:
    """Execution options that make a connection's next transaction a read-only one.

    PostgreSQL: ``BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`` (SQLAlchemy's documented
    ``postgresql_readonly``): writes are refused, and the view reads one snapshot, as SQLite's
    deferred transaction does. SQLite: a deferred ``BEGIN`` (see :data:`DEFERRED_BEGIN`), which
    in WAL mode reads a snapshot and never waits for the write lock. Both are reset when the
    connection goes back to the pool.
    """
    if engine.dialect.name == "postgresql":
        return {"postgresql_readonly": True, "isolation_level": "REPEATABLE READ"}
    return {DEFERRED_BEGIN: True}


def _sqlite_pragmas(dbapi_connection: Any, busy_ms: int) -> None:
    # aiosqlite's adapter: disable pysqlite's own transaction handling so ours is the only one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Writers take the write lock at BEGIN, so concurrent writers queue (up to the busy
    timeout) instead of deadlocking on a lock upgrade; readers never take it."""
    if conn.get_execution_options().get(DEFERRED_BEGIN):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema up to the newest revision (from empty, or from any earlier one)."""

    def upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # A data migration over a large table may take longer than a command may.
            await conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
            await conn.exec_driver_sql("SET LOCAL lock_timeout = 0")
        await conn.run_sync(upgrade)
    log.info("database schema is up to date")
