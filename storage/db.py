"""Engine creation and migrations.

SQLite (aiosqlite) is the default: one file in WAL mode so readers never block the writer. Every
wait for the database is bounded by ``busy_timeout_seconds`` (2 s by default), so a command that
finds another writer answers "busy, try again" inside Slack's and Discord's 3-second deadline
instead of hanging. PostgreSQL (asyncpg) takes the same schema and queries, with a bounded pool,
the same bound on lock waits and on opening a connection, and a statement time-out.

Migrations run at every start (Alembic knows what is already applied). Several instances may
start at the same moment against one PostgreSQL database: the upgrade runs inside a transaction
holding an advisory lock, so one instance builds or upgrades the schema and the others wait for
it, then find nothing left to do. An instance never runs against a schema newer than the
migrations it ships (a newer mentorbot upgraded the database): it refuses to start, saying so.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.config import StorageSettings
from bot.errors import StorageUnavailable

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"

#: Execution option read by the SQLite ``begin`` listener: this connection's next transaction
#: only reads, so it starts with a plain (deferred) ``BEGIN`` instead of ``BEGIN IMMEDIATE``.
DEFERRED_BEGIN = "mentorbot_deferred_begin"

#: The PostgreSQL advisory lock held while migrating (a constant every instance agrees on:
#: "mentorbt" read as a 64-bit integer).
MIGRATION_LOCK = int.from_bytes(b"mentorbt", "big", signed=True)

#: What :func:`schema_version` says of a database without mentorbot's schema.
NO_SCHEMA = "none"

#: SQLite: how long a starting instance waits for another one's migration (the write lock),
#: instead of the busy timeout a command waits. PostgreSQL waits for the lock as long as needed.
SQLITE_MIGRATION_WAIT_MS = 300_000


class SchemaTooNew(StorageUnavailable):
    """The database was upgraded by a newer mentorbot: this one does not know its schema, so it
    must neither write to it nor "upgrade" it."""


@dataclass(frozen=True)
class Migration:
    """What one call of :func:`migrate` found and left."""

    before: str
    """The schema version found (:data:`NO_SCHEMA` for an empty database)."""
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def create_engine(settings: StorageSettings) -> AsyncEngine:
    """An async engine for ``settings.url``, with every wait bounded as described above."""
    busy_ms = round(settings.busy_timeout_seconds * 1000)
    if settings.url.startswith("sqlite"):
        engine = create_async_engine(
            settings.url, connect_args={"timeout": settings.busy_timeout_seconds},
            # Waiting for a pooled connection is waiting for the database too: bounded like
            # the lock (SQLAlchemy's default is 30 s, far past a platform's 3 s deadline).
            pool_timeout=settings.busy_timeout_seconds,
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
            # Opening a connection to a server that does not answer fails after this long
            # (asyncpg's own default is a minute: a command would hang, start-up would stall).
            "timeout": settings.busy_timeout_seconds,
            "server_settings": {
                "statement_timeout": str(round(settings.statement_timeout_seconds * 1000)),
                # A row lock held by another transaction (a booking, a claimed batch) is
                # waited for as long as SQLite waits for its write lock, then "busy".
                "lock_timeout": str(busy_ms),
            },
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


def _sqlite_busy_timeout(conn: Connection, busy_ms: int) -> int:
    """Set how long this SQLite connection waits for the write lock; the previous setting."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute("PRAGMA busy_timeout")
        row = cursor.fetchone()
        previous = int(row[0]) if row else 0
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    finally:
        cursor.close()
    return previous


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


def latest_version() -> str:
    """The newest schema version this code knows (the head of its migrations)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return head or NO_SCHEMA


def is_known(version: str) -> bool:
    """Whether this code's migrations know ``version`` (a newer mentorbot's are unknown)."""
    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(version)
    except CommandError:
        return False
    return True


def describe(engine: AsyncEngine) -> str:
    """The engine's database for messages: its URL without the password."""
    return engine.url.render_as_string(hide_password=True)


async def connect(engine: AsyncEngine) -> AsyncConnection:
    """A connection, or :class:`StorageUnavailable` with one line saying why there is none.

    Why only here: failing to *open* a connection always means the database cannot be used
    (down, unreachable, refused the login, no such database); an error after that may be a
    bug and must show as one.
    """
    try:
        if engine.dialect.name == "sqlite":
            _check_sqlite_file(engine)
        return await engine.connect()
    except (DBAPIError, sqlite3.Error, OSError, TimeoutError) as exc:
        raise StorageUnavailable(
            f"cannot connect to {describe(engine)}: {reason(exc)}"
        ) from None


def _check_sqlite_file(engine: AsyncEngine) -> None:
    """Open the SQLite file once directly (creating it, as connecting would).

    Why: when aiosqlite fails to open a file, its worker thread reports the failure after the
    caller has moved on; in a command that then exits (``mentorbot db …``) that report lands on
    a closed event loop and prints a stack trace after our one line.
    """
    path = engine.url.database
    if path and path != ":memory:" and not path.startswith("file:"):
        sqlite3.connect(path).close()


def reason(exc: BaseException) -> str:
    """The first line of what the driver said (without SQLAlchemy's decoration)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


async def migrate(engine: AsyncEngine) -> Migration:
    """Bring the schema up to the newest revision (from empty, or from any earlier one).

    On PostgreSQL the whole upgrade is one transaction holding :data:`MIGRATION_LOCK`: an
    instance starting at the same moment waits for it, then finds the schema up to date.
    Raises :class:`SchemaTooNew` for a database a newer mentorbot migrated, and
    :class:`StorageUnavailable` when the database cannot be reached. When it raises, the
    engine's pool is disposed first: the caller gives up on the engine (``open_store`` raises
    on, the process exits), and a connection left in the pool would otherwise be closed by the
    garbage collector, if at all (asyncpg warns; aiosqlite's thread outlives the event loop).
    The engine stays usable: a new pool opens on its next use.
    """
    try:
        result = await _migrate(engine)
    except BaseException:
        try:
            await engine.dispose()
        except Exception:  # the original error is what the caller must see
            log.debug("disposing the engine after a failed migration failed too", exc_info=True)
        raise
    if result.changed:
        log.info("database schema upgraded from %s to %s", result.before, result.after)
    else:
        log.info("database schema is up to date (%s)", result.after)
    return result


async def _migrate(engine: AsyncEngine) -> Migration:
    conn = await connect(engine)
    sqlite = conn.dialect.name == "sqlite"
    busy_ms: int | None = None
    try:
        if sqlite:
            busy_ms = await conn.run_sync(_sqlite_busy_timeout, SQLITE_MIGRATION_WAIT_MS)
        async with conn.begin():
            if not sqlite:
                # A data migration over a large table may take longer than a command may.
                await conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
                await conn.exec_driver_sql("SET LOCAL lock_timeout = 0")
                await _take_migration_lock(conn, engine)
            result = await conn.run_sync(_upgrade)
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise StorageUnavailable(
                f"lost the connection to {describe(engine)} while migrating: {reason(exc)}"
            ) from None
        raise
    finally:
        if busy_ms is not None:  # back to the pool: commands wait as configured again
            await conn.run_sync(_sqlite_busy_timeout, busy_ms)
        await conn.close()
    return result


async def _take_migration_lock(conn: AsyncConnection, engine: AsyncEngine) -> None:
    """Hold the migration lock until this transaction ends (waiting for another instance)."""
    got = (await conn.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
    )).scalar()
    if not got:
        log.info("another instance is migrating %s; waiting for it", describe(engine))
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})


def _upgrade(connection: Connection) -> Migration:
    before = _current(connection)
    if before != NO_SCHEMA and not is_known(before):
        raise SchemaTooNew(too_new_message(before))
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    return Migration(before, _current(connection))


def too_new_message(version: str) -> str:
    return (
        f"the database schema is at version {version}, newer than this mentorbot knows "
        f"(up to {latest_version()}): run the newer mentorbot that upgraded it"
    )


def _current(connection: Connection) -> str:
    version = MigrationContext.configure(connection).get_current_revision()
    return version or NO_SCHEMA
