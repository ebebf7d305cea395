"""Communities (a Slack workspace, a Discord server), their settings and stashed commands."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row

from bot.domain import Community
from storage import schema as t
from storage.repository import SqlRepository

log = logging.getLogger(__name__)


class SqlCommunities(SqlRepository):
    async def get(self, platform: str, external_id: str) -> Community | None:
        row = (
            await self.conn.execute(
                select(t.communities).where(
                    t.communities.c.platform == platform,
                    t.communities.c.external_id == external_id,
                )
            )
        ).first()
        return _community(row) if row else None

    async def by_id(self, community_id: int) -> Community | None:
        row = (
            await self.conn.execute(
                select(t.communities).where(t.communities.c.id == community_id)
            )
        ).first()
        return _community(row) if row else None

    async def create(
        self, platform: str, external_id: str, name: str, now: datetime
    ) -> Community:
        result = await self.conn.execute(
            insert(t.communities)
            .values(
                platform=platform,
                external_id=external_id,
                name=name,
                settings_json="{}",
                created_at=now,
            )
            .returning(t.communities)
        )
        return _community(result.one())

    async def settings(self, community_id: int) -> dict[str, Any]:
        """The organizers' overrides of the community defaults."""
        raw = (
            await self.conn.execute(
                select(t.communities.c.settings_json).where(t.communities.c.id == community_id)
            )
        ).scalar_one()
        value: dict[str, Any] = json.loads(raw or "{}")
        return value

    async def save_settings(self, community_id: int, values: Mapping[str, Any]) -> None:
        await self.conn.execute(
            update(t.communities)
            .where(t.communities.c.id == community_id)
            .values(settings_json=json.dumps(dict(values), sort_keys=True))
        )

    async def stash_command(self, community_id: int, command: str, now: datetime) -> int:
        """Keep a button's command that is too long for a platform id; return its number."""
        result = await self.conn.execute(
            insert(t.command_stash)
            .values(community_id=community_id, command=command, created_at=now)
            .returning(t.command_stash.c.id)
        )
        stash_id: int = result.scalar_one()
        return stash_id

    async def stashed_command(self, community_id: int, stash_id: int) -> str | None:
        """The stashed command, only if it belongs to this community (an id from another
        community's button finds nothing)."""
        command: str | None = (
            await self.conn.execute(
                select(t.command_stash.c.command).where(
                    t.command_stash.c.id == stash_id,
                    t.command_stash.c.community_id == community_id,
                )
            )
        ).scalar()
        return command


def _community(r: Row[Any]) -> Community:
    return Community(r.id, r.platform, r.external_id, r.name)
