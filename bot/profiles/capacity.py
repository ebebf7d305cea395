"""How busy each mentor is: active mentees, sessions this month, recent intros.

Why its own module: ranking, the "full" check, the capacity line on a profile and "tell me when
one frees up" all need the same numbers, read the same way.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.domain import IntroState, MentorshipState
from bot.matching import Load
from bot.repositories import Tx
from bot.timezones import month_start

log = logging.getLogger(__name__)

RECENT_INTROS = timedelta(days=30)


#: Mentorships that hold one of a mentor's mentee places (ending one frees it).
HOLDING_PLACES = (MentorshipState.ACTIVE, MentorshipState.PAUSED)


async def mentor_loads(tx: Tx, community_id: int, zone: str, now: datetime) -> dict[int, Load]:
    active = await tx.mentorships.counts_by_mentor(community_id, HOLDING_PLACES)
    recent = await tx.intros.counts_by_mentor(
        community_id, list(IntroState), since=now - RECENT_INTROS
    )
    sessions = await tx.sessions.counts_by_mentor(community_id, month_start(now, zone))
    ids = set(active) | set(recent) | set(sessions)
    return {
        i: Load(
            active_mentees=active.get(i, 0),
            sessions_this_month=sessions.get(i, 0),
            recent_intros=recent.get(i, 0),
        )
        for i in ids
    }
