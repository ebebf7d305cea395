"""Intro requests (a member asks a mentor for an introduction) and the notes exchanged on them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Row

from bot.domain import IntroNote, IntroRequest, IntroState
from storage import schema as t
from storage.repository import SqlRepository, counts

log = logging.getLogger(__name__)


class SqlIntros(SqlRepository):
    async def add(
        self, community_id: int, member_id: int, mentor_id: int, topic: str, context: str,
        now: datetime,
    ) -> IntroRequest:
        result = await self.conn.execute(
            insert(t.intro_requests)
            .values(
                community_id=community_id,
                member_id=member_id,
                mentor_id=mentor_id,
                topic=topic,
                context=context,
                state=IntroState.PENDING.value,
                created_at=now,
                updated_at=now,
            )
            .returning(t.intro_requests)
        )
        return _intro(result.one())

    async def get(self, community_id: int, intro_id: int) -> IntroRequest | None:
        row = (
            await self.conn.execute(
                select(t.intro_requests).where(
                    t.intro_requests.c.community_id == community_id,
                    t.intro_requests.c.id == intro_id,
                )
            )
        ).first()
        return _intro(row) if row else None

    async def set_state(
        self, intro_id: int, expected: IntroState, new: IntroState, now: datetime, *,
        answer_note: str | None = None, answered: bool = False,
    ) -> bool:
        """Compare-and-set: change the state only if it is still ``expected``."""
        values: dict[str, Any] = {"state": new.value, "updated_at": now}
        if answer_note is not None:
            values["answer_note"] = answer_note
        if answered:
            values["answered_at"] = now
        result = await self.conn.execute(
            update(t.intro_requests)
            .where(
                t.intro_requests.c.id == intro_id,
                t.intro_requests.c.state == expected.value,
            )
            .values(**values)
        )
        return bool(result.rowcount)

    async def set_space(self, intro_id: int, space_ref: str) -> None:
        await self.conn.execute(
            update(t.intro_requests)
            .where(t.intro_requests.c.id == intro_id)
            .values(space_ref=space_ref)
        )

    async def of(
        self, community_id: int, *, member_id: int | None = None, mentor_id: int | None = None,
        states: Sequence[IntroState] | None = None, limit: int = 50,
    ) -> list[IntroRequest]:
        """Requests, newest first."""
        query = select(t.intro_requests).where(t.intro_requests.c.community_id == community_id)
        if member_id is not None:
            query = query.where(t.intro_requests.c.member_id == member_id)
        if mentor_id is not None:
            query = query.where(t.intro_requests.c.mentor_id == mentor_id)
        if states is not None:
            query = query.where(t.intro_requests.c.state.in_([s.value for s in states]))
        query = query.order_by(t.intro_requests.c.id.desc()).limit(limit)
        return [_intro(r) for r in await self.conn.execute(query)]

    async def counts_by_mentor(
        self, community_id: int, states: Sequence[IntroState], since: datetime | None = None
    ) -> dict[int, int]:
        """How many requests in ``states`` (made since ``since``) each mentor has."""
        query = (
            select(t.intro_requests.c.mentor_id, func.count())
            .where(
                t.intro_requests.c.community_id == community_id,
                t.intro_requests.c.state.in_([s.value for s in states]),
            )
            .group_by(t.intro_requests.c.mentor_id)
        )
        if since is not None:
            query = query.where(t.intro_requests.c.created_at >= since)
        return counts(await self.conn.execute(query))

    async def add_note(
        self, community_id: int, intro_id: int, author_id: int, text: str, now: datetime
    ) -> IntroNote:
        result = await self.conn.execute(
            insert(t.intro_notes)
            .values(
                community_id=community_id,
                intro_id=intro_id,
                author_id=author_id,
                text=text,
                created_at=now,
            )
            .returning(t.intro_notes)
        )
        return _note(result.one())

    async def notes(self, intro_id: int) -> list[IntroNote]:
        """The notes on a request, oldest first."""
        rows = await self.conn.execute(
            select(t.intro_notes)
            .where(t.intro_notes.c.intro_id == intro_id)
            .order_by(t.intro_notes.c.id)
        )
        return [_note(r) for r in rows]


def _intro(r: Row[Any]) -> IntroRequest:
    return IntroRequest(
        id=r.id,
        community_id=r.community_id,
        member_id=r.member_id,
        mentor_id=r.mentor_id,
        topic=r.topic,
        context=r.context,
        state=IntroState(r.state),
        created_at=r.created_at,
        updated_at=r.updated_at,
        answered_at=r.answered_at,
        answer_note=r.answer_note,
        space_ref=r.space_ref,
    )


def _note(r: Row[Any]) -> IntroNote:
    return IntroNote(r.id, r.intro_id, r.author_id, r.text, r.created_at)
