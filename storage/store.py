"""The core's storage port (``bot.repositories.Store``) over SQLAlchemy Core.

:class:`SqlStore` hands out transactions; a :class:`SqlTx` exposes one repository per aggregate,
all sharing the transaction's connection, so a change and the nudges it causes are written
together or not at all. Driver and SQLAlchemy errors are translated here, where they leave the
transaction, into the core's own exceptions (``bot.errors``): the core never sees SQLAlchemy.
Why there and not in every repository method: that is where the core can act on them (retry
the command, answer "busy"), and after such an error PostgreSQL has aborted the transaction
anyway, so nothing inside it could carry on.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.errors import StorageBusy, StorageConflict, StorageUnavailable
from storage.communities import SqlCommunities
from storage.db import read_only_options
from storage.events import SqlEvents, SqlInstallation
from storage.followups import SqlFollowups
from storage.intros import SqlIntros
from storage.members import SqlMembers
from storage.mentorships import SqlMentorships
from storage.nudges import SqlNudges
from storage.profiles import SqlProfiles
from storage.sessions import SqlSessions
from storage.waitlist import SqlWaitlist
from storage.workers import SqlWorkers

if TYPE_CHECKING:
    from bot.repositories import Store, Tx

log = logging.getLogger(__name__)

#: PostgreSQL SQLSTATEs that mean "waited too long": lock_timeout, statement_timeout, and no
#: connection slot left on the server.
PG_BUSY = frozenset({"55P03", "57014", "53300"})
#: Two transactions collided (deadlock, serialization failure): running the command again works.
PG_CONFLICT = frozenset({"40001", "40P01"})
#: The server is going away or not accepting connections (class 08: connection exceptions).
PG_UNAVAILABLE = frozenset({"57P01", "57P02", "57P03"})


class SqlTx:
    """One database transaction and the repositories that read and write inside it."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        """The transaction's connection. For tests that look at tables directly only: the
        core goes through the repositories."""
        self.communities = SqlCommunities(conn)
        self.members = SqlMembers(conn)
        self.profiles = SqlProfiles(conn)
        self.intros = SqlIntros(conn)
        self.waitlist = SqlWaitlist(conn)
        self.sessions = SqlSessions(conn)
        self.followups = SqlFollowups(conn)
        self.nudges = SqlNudges(conn)
        self.workers = SqlWorkers(conn)
        self.mentorships = SqlMentorships(conn)
        self.events = SqlEvents(conn)
        self.installation = SqlInstallation(conn)


class SqlStore:
    """The database, as the core sees it: a source of read-write and read-only transactions.

    How a transaction gets its flavour: an execution option on its own connection
    (:func:`storage.db.read_only_options`), read by SQLite's ``begin`` listener (a deferred
    ``BEGIN`` instead of ``BEGIN IMMEDIATE``) and by SQLAlchemy's PostgreSQL dialect
    (``BEGIN … READ ONLY``). Why not a second engine for reads: one pool, one set of
    connection settings, and the option is undone when the connection goes back to the pool.
    """

    def __init__(self, engine: AsyncEngine, *, busy_timeout_seconds: float = 2.0) -> None:
        self.engine = engine
        self._read_only = read_only_options(engine)
        self._busy_timeout = busy_timeout_seconds
        self.one_writer = engine.dialect.name == "sqlite"
        self._writer = asyncio.Lock() if self.one_writer else None
        """SQLite has one writer at a time. Without this, this process's writers would wait
        for each other inside SQLite's busy handler, which polls with growing sleeps (up to
        100 ms each): a command queued behind a nudge batch answered hundreds of milliseconds
        late for nothing. Queued here they go in turn, first come first served, the moment
        the writer before them commits. (Other processes still meet the busy timeout.)"""

    def transaction(self) -> AbstractAsyncContextManager[SqlTx]:
        """A read-write transaction (on SQLite it takes the write lock at once, waiting at most
        the busy timeout for it)."""
        return self._writing()

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[SqlTx]:
        if self._writer is None:
            async with self._transaction({}) as tx:
                yield tx
            return
        try:
            await asyncio.wait_for(self._writer.acquire(), self._busy_timeout)
        except TimeoutError as exc:
            raise _busy(exc) from exc
        try:
            async with self._transaction({}) as tx:
                yield tx
        finally:
            self._writer.release()

    def reading(self) -> AbstractAsyncContextManager[SqlTx]:
        """A read-only transaction: views that must change nothing, and never wait for the
        write lock (PostgreSQL refuses writes in it; on SQLite it is a convention)."""
        return self._transaction(self._read_only)

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def _transaction(self, options: Mapping[str, Any]) -> AsyncIterator[SqlTx]:
        conn = await self._connect()
        try:
            if options:
                await conn.execution_options(**options)
            async with conn.begin():
                yield SqlTx(conn)
        except sa.SQLAlchemyError as exc:
            translated = storage_error(exc)
            if translated is None:
                raise
            raise translated from exc
        finally:
            await conn.close()

    async def _connect(self) -> AsyncConnection:
        """A pooled connection; failing to get one is "unavailable" (or "busy", when the pool
        or the server has no connection to spare)."""
        try:
            return await self.engine.connect()
        except sa.SQLAlchemyError as exc:
            raise (storage_error(exc) or _unavailable(exc)) from exc
        except OSError as exc:  # refused, unreachable, DNS, time-out: raised by the driver
            raise _unavailable(exc) from exc


def storage_error(exc: sa.SQLAlchemyError) -> Exception | None:
    """The core's exception for a SQLAlchemy error, or None if it is a bug to show as such."""
    if isinstance(exc, sa.IntegrityError):
        return StorageConflict(f"a row changed at the same time: {exc.orig}")
    if isinstance(exc, sa.TimeoutError):  # the pool had no free connection in time
        return _busy(exc)
    if not isinstance(exc, sa.DBAPIError):
        return None
    if exc.connection_invalidated:
        return _unavailable(exc)
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate in PG_BUSY:
            return _busy(exc)
        if sqlstate in PG_CONFLICT:
            return StorageConflict(f"transactions collided: {exc.orig}")
        if sqlstate in PG_UNAVAILABLE or sqlstate.startswith("08"):
            return _unavailable(exc)
        return None
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        primary = code & 0xFF  # extended codes carry the primary one in their low byte
        if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return _busy(exc)
        if primary == sqlite3.SQLITE_CANTOPEN:
            return _unavailable(exc)
    return None


def _busy(exc: BaseException) -> StorageBusy:
    log.warning("the database is busy: %s", exc)
    return StorageBusy("the database is busy; try again in a moment")


def _unavailable(exc: BaseException) -> StorageUnavailable:
    log.error("the database cannot be reached: %s", exc)
    return StorageUnavailable("the database cannot be reached")


if TYPE_CHECKING:

    def _implements_the_port(store: SqlStore, tx: SqlTx) -> tuple[Store, Tx]:
        """mypy checks here that the classes implement the core's protocols exactly."""
        return store, tx
