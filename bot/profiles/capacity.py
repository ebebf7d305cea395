"""How busy each mentor is: active mentees, sessions this month, recent intros.

Why its own module: ranking, the "full" check, the capacity line on a profile and "tell me when
one frees up" all need the same numbers, read the same way.

"This month" is the mentor's own calendar month, in their zone: a mentor in Tokyo who offers 8
sessions a month gets a fresh 8 at midnight on the first in Tokyo, not in the community's zone.
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

#: The zones furthest ahead of and behind UTC: every month starts between their two starts.
FIRST_ZONE, LAST_ZONE = "Etc/GMT-14", "Etc/GMT+12"


#: Mentorships that hold one of a mentor's mentee places (ending one frees it).
HOLDING_PLACES = (MentorshipState.ACTIVE, MentorshipState.PAUSED)


async def mentor_loads(
    tx: Tx, community_id: int, default_zone: str, now: datetime
) -> dict[int, Load]:
    active = await tx.mentorships.counts_by_mentor(community_id, HOLDING_PLACES)
    recent = await tx.intros.counts_by_mentor(
        community_id, list(IntroState), since=now - RECENT_INTROS
    )
    sessions = await sessions_this_month(tx, community_id, default_zone, now)
    ids = set(active) | set(recent) | set(sessions)
    return {
        i: Load(
            active_mentees=active.get(i, 0),
            sessions_this_month=sessions.get(i, 0),
            recent_intros=recent.get(i, 0),
        )
        for i in ids
    }


def month_of(now: datetime, zone: str) -> tuple[datetime, datetime]:
    """[start, end) of the calendar month ``now`` falls in, in ``zone``."""
    start = month_start(now, zone)
    return start, (start + timedelta(days=32)).replace(day=1)


async def sessions_this_month(
    tx: Tx, community_id: int, default_zone: str, now: datetime
) -> dict[int, int]:
    """Each mentor's sessions in their own calendar month.

    Months begin at different instants around the world, at most 26 hours apart. One count
    covers the hours that are "this month" everywhere; only the sessions in the hours at either
    end are read one by one and placed by their mentor's zone. (In the day around the turn of a
    month some zones are still in the old one, and the edges widen to whole months then.)
    """
    first, last = month_of(now, FIRST_ZONE), month_of(now, LAST_ZONE)
    same_month = (first[0].year, first[0].month) == (last[0].year, last[0].month)
    if same_month:
        counts = dict(await tx.sessions.counts_by_mentor(community_id, last[0], first[1]))
        edges = [*await tx.sessions.starts_by_mentor(community_id, first[0], last[0]),
                 *await tx.sessions.starts_by_mentor(community_id, first[1], last[1])]
    else:  # the turn of a month: some zones are still in the old one
        counts = {}
        edges = await tx.sessions.starts_by_mentor(community_id, last[0], first[1])
    if not edges:
        return counts
    mentors = await tx.members.by_ids(community_id, {mentor_id for mentor_id, _ in edges})
    for mentor_id, start in edges:
        mentor = mentors.get(mentor_id)
        begins, ends = month_of(now, mentor.zone(default_zone) if mentor else default_zone)
        if begins <= start < ends:
            counts[mentor_id] = counts.get(mentor_id, 0) + 1
    return counts
