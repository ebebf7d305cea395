"""How busy each mentor is: active mentees, sessions this month, recent intros.

Why its own module: ranking, the "full" check and the capacity line on a profile all need the
same numbers, and sessions (booked later) add to them.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain import IntroState
from bot.matching import Load
from storage.store import Tx

log = logging.getLogger(__name__)

RECENT_INTROS = timedelta(days=30)


def month_start(now: datetime, zone: str) -> datetime:
    local = now.astimezone(ZoneInfo(zone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def mentor_loads(tx: Tx, community_id: int, zone: str, now: datetime) -> dict[int, Load]:
    active = await tx.intro_counts_by_mentor(community_id, [IntroState.ACCEPTED])
    recent = await tx.intro_counts_by_mentor(
        community_id, list(IntroState), since=now - RECENT_INTROS
    )
    sessions = await tx.session_counts_by_mentor(community_id, month_start(now, zone))
    ids = set(active) | set(recent) | set(sessions)
    return {
        i: Load(
            active_mentees=active.get(i, 0),
            sessions_this_month=sessions.get(i, 0),
            recent_intros=recent.get(i, 0),
        )
        for i in ids
    }
