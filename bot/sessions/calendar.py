"""Fetching what the booking guards need: both people's sessions and the mentor's month.

The guards themselves are pure (``bot.booking``); this is their one read, done once per
booking (a series checks dozens of times against it).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.booking import Calendar, Rules
from bot.repositories import Tx
from bot.timezones import month_start

log = logging.getLogger(__name__)


async def load_calendar(
    tx: Tx, rules: Rules, member_id: int, start: datetime, end: datetime
) -> Calendar:
    """Everything the guards need for times in [start, end).

    Locks both people first, so concurrent bookings for them are checked one at a time.
    """
    community_id = rules.profile.community_id
    await tx.members.lock(community_id, (rules.mentor.id, member_id))
    busy = await tx.sessions.busy(
        community_id, (rules.mentor.id, member_id), start, end + timedelta(hours=4)
    )
    first_month = month_start(start, rules.month_zone)
    counted = await tx.sessions.of_mentor_between(
        community_id, rules.mentor.id, first_month, end + timedelta(days=32)
    )
    return Calendar(tuple(busy), tuple(counted))
