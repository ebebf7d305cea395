"""What an operator asks of the database by hand: its schema version, its rows, and a copy of
everything into another database (``mentorbot db check|upgrade|copy``, run by the composition
root, ``bot.bootstrap``).

Why a copy and not a dump: moving a community off SQLite onto PostgreSQL must keep every
primary key (a nudge's idempotency key embeds its id, so a platform can still answer "already
delivered" after the move; buttons carry stashed command ids), and must work between the two
engines without any tool but mentorbot. The copy reads one snapshot of the source, writes the
target in one transaction, checks the counts before committing, and is refused while anything
could still change under it: a nudge in ``sending`` (a send whose outcome is not recorded yet)
or a bot process still beating on the source.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.errors import UserError
from storage import schema as t
from storage.db import (
    NO_SCHEMA,
    SchemaTooNew,
    connect,
    describe,
    is_known,
    latest_version,
    migrate,
    read_only_options,
    too_new_message,
)

log = logging.getLogger(__name__)

#: Rows read and written per statement while copying.
CHUNK = 1000

#: Tables the migrations themselves fill (the installation's identity): an empty target has
#: these rows, and the copy replaces them with the source's.
FILLED_BY_MIGRATIONS = frozenset({t.installation.name})


class CopyRefused(UserError):
    """The copy did not happen (or was undone): ``message`` says why, ``hint`` what to do."""


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int


@dataclass(frozen=True)
class CopyReport:
    version: str
    """The schema version of both databases."""
    tables: tuple[TableCount, ...]
    """Rows per table in dependency order, counted in the source's snapshot and in the target
    before the copy committed."""

    @property
    def rows(self) -> int:
        return sum(c.source for c in self.tables)


async def schema_version(engine: AsyncEngine) -> str:
    """The Alembic revision the database is at (:data:`NO_SCHEMA` for an empty database)."""
    conn = await connect(engine)
    try:
        return await _version(conn)
    finally:
        await conn.close()


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows per table of the schema that exist in the database, in dependency order."""
    conn = await connect(engine)
    try:
        present = await _tables(conn)
        return {
            table.name: await _count(conn, table)
            for table in t.metadata.sorted_tables
            if table.name in present
        }
    finally:
        await conn.close()


async def copy_database(
    source: AsyncEngine,
    target: AsyncEngine,
    *,
    now: datetime | None = None,
    worker_lease: timedelta = timedelta(seconds=20),
) -> CopyReport:
    """Copy every row of ``source`` into the empty database ``target``, keeping primary keys.

    The target is migrated to the source's schema version (which must be this code's newest:
    upgrade the source first), filled table by table in dependency order inside one
    transaction, its PostgreSQL sequences moved past the copied ids, and the row counts of
    every table compared with the source's before it commits. Raises :class:`CopyRefused` when
    the source is not ready or the target not empty, :class:`~bot.errors.StorageUnavailable`
    when either cannot be reached.
    """
    now = now or datetime.now(UTC)
    latest = latest_version()
    version = await schema_version(source)
    if version == NO_SCHEMA:
        raise CopyRefused(f"{describe(source)} has no mentorbot schema: nothing to copy.",
                          "Check the --from URL.")
    if version != latest:
        if not is_known(version):
            raise SchemaTooNew(too_new_message(version))
        raise CopyRefused(
            f"{describe(source)} is at schema version {version}, and this mentorbot copies "
            f"version {latest}.",
            "Upgrade the source first: mentorbot db upgrade, with storage.url set to it.",
        )
    await _check_target_empty(target)
    async with _reading(source) as src:
        await _check_source_quiet(src, source, now, worker_lease)
    await migrate(target)
    async with _reading(source) as src:
        conn = await connect(target)
        try:
            async with conn.begin():
                if conn.dialect.name == "postgresql":
                    await conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
                    await conn.exec_driver_sql("SET LOCAL lock_timeout = 0")
                await _check_source_quiet(src, source, now, worker_lease)
                await _check_empty(conn, target)
                counts = [await _copy_table(src, conn, table)
                          for table in t.metadata.sorted_tables]
                if conn.dialect.name == "postgresql":
                    await _reset_sequences(conn)
                _check_counts(counts)
        finally:
            await conn.close()
    log.info("copied %d rows from %s to %s", sum(c.source for c in counts),
             describe(source), describe(target))
    return CopyReport(version, tuple(counts))


# -- the copy ------------------------------------------------------------------------------------


@asynccontextmanager
async def _reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read-only transaction on ``engine``: one snapshot for every read of the copy."""
    conn = await connect(engine)
    try:
        await conn.execution_options(**read_only_options(engine))
        async with conn.begin():
            yield conn
    finally:
        await conn.close()


async def _copy_table(src: AsyncConnection, dst: AsyncConnection, table: Table) -> TableCount:
    """Copy one table's rows in primary-key order; the counts on both sides."""
    if table.name in FILLED_BY_MIGRATIONS:
        await dst.execute(table.delete())
    # A column pointing into its own table (an entry answering an earlier one) is written
    # after every row exists, so the order of the rows never matters.
    later = [c for c in table.columns
             if c.nullable and any(fk.column.table is table for fk in c.foreign_keys)]
    keys = list(table.primary_key.columns)
    pending: list[dict[str, Any]] = []
    copied = 0
    result = await src.stream(select(table).order_by(*keys))
    async for rows in result.partitions(CHUNK):
        values = [dict(row._mapping) for row in rows]
        for v in values:
            refs = {c.name: v[c.name] for c in later if v[c.name] is not None}
            if refs:
                pending.append({**{f"k_{k.name}": v[k.name] for k in keys}, **refs})
                v.update(dict.fromkeys(refs))
        await dst.execute(insert(table), values)
        copied += len(values)
    for column in later:
        await _point_back(dst, table, keys, column, pending)
    source_count = await _count(src, table)
    target_count = await _count(dst, table)
    if copied != source_count:
        raise CopyRefused(
            f"read {copied} rows of {table.name} but the source counts {source_count}; "
            "nothing was written.", "Try again.")
    return TableCount(table.name, source_count, target_count)


async def _point_back(
    dst: AsyncConnection, table: Table, keys: Sequence[Column[Any]], column: Column[Any],
    pending: list[dict[str, Any]],
) -> None:
    rows = [{**{f"k_{k.name}": p[f"k_{k.name}"] for k in keys}, "v": p[column.name]}
            for p in pending if column.name in p]
    if not rows:
        return
    statement = update(table).where(*(k == bindparam(f"k_{k.name}") for k in keys))
    await dst.execute(statement.values({column.name: bindparam("v")}), rows)


async def _reset_sequences(conn: AsyncConnection) -> None:
    """Move every serial column's sequence past the copied ids (PostgreSQL hands out the
    next id from the sequence, which the copy's explicit ids did not advance)."""
    for table in t.metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or keys[0].type.python_type is not int:
            continue
        key = keys[0]
        sequence = func.pg_get_serial_sequence(table.name, key.name)
        next_id = func.coalesce(select(func.max(key)).scalar_subquery(), 0) + 1
        await conn.execute(select(func.setval(sequence, next_id, False)))


def _check_counts(counts: Sequence[TableCount]) -> None:
    wrong = [c for c in counts if c.source != c.target]
    if wrong:
        described = ", ".join(f"{c.table}: {c.source} in the source, {c.target} in the target"
                              for c in wrong)
        raise CopyRefused(f"the counts differ after copying ({described}); the copy was undone.",
                          "Report this as a bug.")


# -- checks ----------------------------------------------------------------------------------


async def _check_target_empty(target: AsyncEngine) -> None:
    conn = await connect(target)
    try:
        version = await _version(conn)
        if version != NO_SCHEMA and not is_known(version):
            raise SchemaTooNew(too_new_message(version))
        await _check_empty(conn, target)
    finally:
        await conn.close()


async def _check_empty(conn: AsyncConnection, target: AsyncEngine) -> None:
    present = await _tables(conn)
    filled = []
    for table in t.metadata.sorted_tables:
        if table.name in present and table.name not in FILLED_BY_MIGRATIONS:
            rows = await _count(conn, table)
            if rows:
                filled.append(f"{table.name}: {rows}")
    if filled:
        raise CopyRefused(
            f"{describe(target)} is not empty ({', '.join(filled[:4])}"
            f"{', …' if len(filled) > 4 else ''}).",
            "Copy into a new, empty database.",
        )


async def _check_source_quiet(
    src: AsyncConnection, source: AsyncEngine, now: datetime, lease: timedelta
) -> None:
    sending = int((await src.execute(
        select(func.count()).select_from(t.nudges).where(t.nudges.c.state == "sending")
    )).scalar_one())
    if sending:
        raise CopyRefused(
            f"{sending} nudge(s) on {describe(source)} are being sent right now.",
            "Stop every bot process on it; if one was stopped abruptly, start it once so it "
            "settles them, stop it, then copy.",
        )
    live = (await src.execute(
        select(t.workers.c.host, t.workers.c.pid, t.workers.c.heartbeat_at)
        .where(t.workers.c.heartbeat_at > now - lease)
        .order_by(t.workers.c.heartbeat_at.desc())
    )).first()
    if live is not None:
        ago = max((now - live.heartbeat_at).total_seconds(), 0.0)
        raise CopyRefused(
            f"a bot process is still running on {describe(source)} (host {live.host}, "
            f"pid {live.pid}, last heartbeat {ago:.0f} s ago).",
            "Stop every bot process on it first: nudges sent by both would arrive twice.",
        )


# -- small reads -----------------------------------------------------------------------------


async def _version(conn: AsyncConnection) -> str:
    if "alembic_version" not in await _tables(conn):
        return NO_SCHEMA
    version = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalar()
    return str(version or NO_SCHEMA)


async def _tables(conn: AsyncConnection) -> set[str]:
    names: list[str] = await conn.run_sync(
        lambda sync: sync.dialect.get_table_names(sync)
    )
    return set(names)


async def _count(conn: AsyncConnection, table: Table) -> int:
    return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
