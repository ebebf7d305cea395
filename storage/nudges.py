"""Nudges: every message the bot sends on its own, as rows that engines claim and finish.

The table is the truth the engine works from. A command writes its nudges in its own
transaction; an engine claims due rows atomically under a fresh token (so two processes never
take the same row), renders and sends them, and records each outcome only if the row is still
claimed under that token (so a slow process never overwrites the result of one that took the
row over). Rows claimed by a process that is gone are taken over by :meth:`SqlNudges.reclaim`.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Update, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Row

from bot.domain import NewNudge, Nudge, NudgeOutcome, SentNudge
from storage import schema as t
from storage.repository import SqlRepository, counts

log = logging.getLogger(__name__)

#: The columns a :class:`Nudge` is made of, in the order of its fields (what a claim returns).
NUDGE_COLUMNS = tuple(t.nudges.c[f.name] for f in dataclasses.fields(Nudge))
PAYLOAD = [f.name for f in dataclasses.fields(Nudge)].index("payload")

#: One new nudge (an executemany runs it for a batch). Its platform is copied from its
#: community's row by the insert itself, a primary-key look-up per row inside the database:
#: a separate SELECT of the batch's communities cost a round trip, about 0.3 ms of the 0.7 ms a
#: command spends writing its nudges on SQLite.
ADD_NUDGE = insert(t.nudges).values(
    platform=select(t.communities.c.platform)
    .where(t.communities.c.id == bindparam("of_community"))
    .scalar_subquery()
)

#: The details of an outcome that are written when given (not None).
OUTCOME_DETAILS = ("outcome", "sent_at", "due_at", "attempts", "delivery_ref", "delivered_via")


class SqlNudges(SqlRepository):
    async def add(self, nudges: Sequence[NewNudge], now: datetime) -> None:
        """Write new nudges: pending, or stale with the reason when planned already skipped
        (the platform is taken from each one's community)."""
        if not nudges:
            return
        await self.conn.execute(
            ADD_NUDGE,
            [
                {
                    "community_id": n.community_id,
                    "of_community": n.community_id,
                    "kind": n.kind,
                    "recipient_id": n.recipient_id,
                    "channel": n.channel,
                    "intro_id": n.intro_id,
                    "session_id": n.session_id,
                    "payload": _payload_text(n.payload),
                    "due_at": n.due_at,
                    "state": "stale" if n.skipped else "pending",
                    "outcome": n.skipped,
                    "attempts": 0,
                    "created_at": now,
                }
                for n in nudges
            ],
        )

    async def skip_pending(
        self, reason: str, *, intro_id: int | None = None, session_id: int | None = None,
        kinds: Sequence[str] | None = None,
    ) -> int:
        """Mark pending nudges about an intro or a session stale, with the reason."""
        if intro_id is None and session_id is None:
            raise ValueError("name the intro or the session whose nudges to skip")
        query = update(t.nudges).where(t.nudges.c.state == "pending")
        if intro_id is not None:
            query = query.where(t.nudges.c.intro_id == intro_id)
        if session_id is not None:
            query = query.where(t.nudges.c.session_id == session_id)
        if kinds is not None:
            query = query.where(t.nudges.c.kind.in_(builtins.list(kinds)))
        result = await self.conn.execute(query.values(state="stale", outcome=reason))
        return int(result.rowcount)

    async def claim_due(
        self, now: datetime, limit: int, token: str, *, worker: str, platform: str | None
    ) -> builtins.list[Nudge]:
        """Atomically move up to ``limit`` due pending nudges (of ``platform``, if given) to
        ``sending`` under ``token``, owned by ``worker``. In due order."""
        due = select(t.nudges.c.id).where(t.nudges.c.state == "pending", t.nudges.c.due_at <= now)
        if platform is not None:
            due = due.where(t.nudges.c.platform == platform)
        due = due.order_by(t.nudges.c.due_at, t.nudges.c.id).limit(limit)
        if self.on_postgresql:
            claim = _locked_batch_update(
                due.with_for_update(skip_locked=True), t.nudges.c.state == "pending"
            )
        else:
            # The write lock is taken at BEGIN (storage.db), so the subquery's view is final.
            # Repeating ``state`` in the outer WHERE would make SQLite scan every pending row
            # through the state index instead of looking the ids up: a backlog went quadratic.
            claim = update(t.nudges).where(t.nudges.c.id.in_(due.scalar_subquery()))
        result = await self.conn.execute(
            claim.values(state="sending", claimed_at=now, claim_token=token, claimed_by=worker)
            .returning(*NUDGE_COLUMNS)
        )
        return sorted((_nudge(r) for r in result), key=lambda n: (n.due_at, n.id))

    async def reclaim(
        self, *, gone_workers: Sequence[str], claimed_before: datetime, after_id: int,
        limit: int, token: str, now: datetime, worker: str, platform: str | None,
    ) -> builtins.list[Nudge]:
        """Take over nudges left in ``sending`` by a worker that is gone, or claimed before the
        cut-off (owners unknown, or claims older than any live process would hold them).

        One atomic statement, like :meth:`claim_due`: a row another process is recovering at
        the same moment goes to one of them only. ``after_id`` pages through the rows in id
        order, so a recovery pass always ends.
        """
        abandoned = t.nudges.c.claimed_at < claimed_before
        if gone_workers:
            abandoned = or_(t.nudges.c.claimed_by.in_(builtins.list(gone_workers)), abandoned)
        stuck = select(t.nudges.c.id).where(
            t.nudges.c.state == "sending", abandoned, t.nudges.c.id > after_id
        )
        if platform is not None:
            stuck = stuck.where(t.nudges.c.platform == platform)
        stuck = stuck.order_by(t.nudges.c.id).limit(limit)
        if self.on_postgresql:  # see claim_due
            take = _locked_batch_update(
                stuck.with_for_update(skip_locked=True), t.nudges.c.state == "sending", abandoned
            )
        else:
            take = update(t.nudges).where(t.nudges.c.id.in_(stuck.scalar_subquery()))
        result = await self.conn.execute(
            take.values(claimed_at=now, claim_token=token, claimed_by=worker)
            .returning(*NUDGE_COLUMNS)
        )
        return sorted((_nudge(r) for r in result), key=lambda n: n.id)

    async def finish(self, outcomes: Sequence[NudgeOutcome]) -> None:
        """Record outcomes; only rows still claimed under the same token change.

        A nudge going back to ``pending`` (to be tried again at its ``due_at``) is released:
        no token, claim time or owner. Outcomes with the same set of details go in one
        executemany (a backlog finishes hundreds of rows per statement).
        """
        groups: dict[tuple[str, ...], builtins.list[dict[str, Any]]] = {}
        for o in outcomes:
            if o.state == "sent" and o.sent_at is None:
                raise ValueError(f"nudge {o.id} is recorded as sent without sent_at")
            values: dict[str, Any] = {"state": o.state}
            for key in OUTCOME_DETAILS:
                value = getattr(o, key)
                if value is not None:
                    values[key] = value
            if o.state == "pending":
                values.update(claim_token=None, claimed_at=None, claimed_by=None)
            columns = tuple(sorted(values))
            groups.setdefault(columns, []).append(
                {"nid": o.id, "tok": o.token, **{f"v_{k}": v for k, v in values.items()}}
            )
        for columns, params in groups.items():
            await self.conn.execute(
                _claimed_row_update().values({k: bindparam(f"v_{k}") for k in columns}), params
            )

    async def mark_sent(self, sent: Sequence[SentNudge], now: datetime) -> None:
        """Record deliveries (one executemany): only rows still claimed under the token."""
        if not sent:
            return
        await self.conn.execute(
            _claimed_row_update().values(
                state="sent",
                sent_at=now,
                delivery_ref=bindparam("ref"),
                outcome=bindparam("note"),
                delivered_via=bindparam("via"),
            ),
            [
                {"nid": s.id, "tok": s.token, "ref": s.delivery_ref, "note": s.note,
                 "via": s.delivered_via}
                for s in sent
            ],
        )

    async def next_due(self, platform: str | None = None) -> datetime | None:
        query = select(t.nudges.c.due_at).where(t.nudges.c.state == "pending")
        if platform is not None:
            query = query.where(t.nudges.c.platform == platform)
        due: datetime | None = (
            await self.conn.execute(query.order_by(t.nudges.c.due_at).limit(1))
        ).scalar()
        return due

    async def list(
        self, community_id: int, *, states: Sequence[str] | None = None,
        intro_id: int | None = None, session_id: int | None = None, limit: int = 200,
        offset: int = 0, newest_first: bool = False,
    ) -> builtins.list[Nudge]:
        """A community's nudges by due time (or newest first), a page at a time."""
        query = select(*NUDGE_COLUMNS).where(t.nudges.c.community_id == community_id)
        if states is not None:
            query = query.where(t.nudges.c.state.in_(builtins.list(states)))
        if intro_id is not None:
            query = query.where(t.nudges.c.intro_id == intro_id)
        if session_id is not None:
            query = query.where(t.nudges.c.session_id == session_id)
        if newest_first:
            query = query.order_by(t.nudges.c.due_at.desc(), t.nudges.c.id.desc())
        else:
            query = query.order_by(t.nudges.c.due_at, t.nudges.c.id)
        rows = await self.conn.execute(query.limit(limit).offset(offset))
        return [_nudge(r) for r in rows]

    async def count(self, community_id: int, *, states: Sequence[str] | None = None) -> int:
        query = select(func.count()).select_from(t.nudges).where(
            t.nudges.c.community_id == community_id
        )
        if states is not None:
            query = query.where(t.nudges.c.state.in_(builtins.list(states)))
        return int((await self.conn.execute(query)).scalar_one())

    async def state_counts(self, community_id: int) -> dict[str, int]:
        rows = await self.conn.execute(
            select(t.nudges.c.state, func.count())
            .where(t.nudges.c.community_id == community_id)
            .group_by(t.nudges.c.state)
        )
        return counts(rows)

    async def dms_sent(
        self, community_id: int, since: datetime, *, recipient_id: int | None = None
    ) -> int:
        """Direct messages delivered since ``since`` (to one member, or in the community).

        The ``ix_nudges_dm_*`` indexes lead straight to the window's rows, so this stays cheap
        however many nudges a community has had.
        """
        query = select(func.count()).select_from(t.nudges).where(
            t.nudges.c.community_id == community_id,
            t.nudges.c.delivered_via == "dm",
            t.nudges.c.state == "sent",
            t.nudges.c.sent_at >= since,
        )
        if recipient_id is not None:
            query = query.where(t.nudges.c.recipient_id == recipient_id)
        return int((await self.conn.execute(query)).scalar_one())


    async def recently_unreachable(
        self, community_id: int, recipient_id: int, since: datetime
    ) -> bool:
        """Whether a private message to this member was refused since ``since``: delivered as
        a mention elsewhere instead, or given up as unreachable."""
        found = await self.conn.execute(
            select(t.nudges.c.id).where(
                t.nudges.c.community_id == community_id,
                t.nudges.c.recipient_id == recipient_id,
                or_(
                    (t.nudges.c.state == "sent")
                    & t.nudges.c.delivered_via.in_(["channel", "space"])
                    & (t.nudges.c.sent_at >= since),
                    (t.nudges.c.state == "failed")
                    & t.nudges.c.outcome.like("RecipientUnreachable%")
                    & (t.nudges.c.created_at >= since),
                ),
            ).limit(1)
        )
        return found.first() is not None


def _locked_batch_update(batch: Select[Any], *recheck: ColumnElement[bool]) -> Update:
    """``UPDATE nudges … FROM (the batch, locked, computed once)`` for PostgreSQL.

    Why a materialized CTE and not ``id IN (subquery … LIMIT n FOR UPDATE SKIP LOCKED)``:
    PostgreSQL may evaluate such a subquery more than once while another process claims at
    the same moment, and each evaluation skips different locked rows, so one claim of 7 took
    all 300 due nudges (seen in test_two_engines_on_one_database_never_send_twice). Rows
    another process locked are skipped; ``recheck`` repeats the conditions on the newest row
    version (READ COMMITTED re-evaluates the UPDATE's WHERE after waiting on a lock).
    """
    locked = batch.cte("batch").prefix_with("MATERIALIZED")
    return update(t.nudges).where(t.nudges.c.id == locked.c.id, *recheck)


def _claimed_row_update() -> Update:
    """``UPDATE nudges … WHERE id = :nid AND claim_token = :tok``, for an executemany."""
    return update(t.nudges).where(
        t.nudges.c.id == bindparam("nid"), t.nudges.c.claim_token == bindparam("tok")
    )


def _payload_text(payload: Mapping[str, Any]) -> str:
    return json.dumps(dict(payload), sort_keys=True) if payload else "{}"


def _nudge(r: Row[*tuple[Any, ...]]) -> Nudge:
    """A row of :data:`NUDGE_COLUMNS` (field order), with its payload parsed."""
    values = builtins.list(r)
    values[PAYLOAD] = json.loads(values[PAYLOAD]) if values[PAYLOAD] != "{}" else {}
    return Nudge(*values)
