"""The calendar invite for a session as it stands now: its own, or its series'.

One place that knows which invite a session gets and reads this installation's identity for
the UIDs (``bot.calendar_invite``), for the replies and the nudges alike.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.calendar_invite import series_invite, session_invite
from bot.domain import Member, Session
from bot.messages import Attachment
from bot.repositories import Tx

log = logging.getLogger(__name__)


def names_of(mentor: Member, member: Member) -> str:
    return f"{mentor.display_name} (mentor) and {member.display_name}"


async def invite_for(
    tx: Tx, community_id: int, session: Session, mentor: Member, member: Member,
    now: datetime, *, whole_series: bool = True,
) -> Attachment:
    """The series' invite for an occurrence of a series (moves and skips included), else the
    session's own."""
    install = await tx.installation.identity()
    names = names_of(mentor, member)
    if whole_series and session.series_id is not None:
        series = await tx.sessions.series(community_id, session.series_id)
        occurrences = await tx.sessions.series_sessions(session.series_id)
        if series is not None and occurrences:
            return series_invite(series, occurrences, now, names, install)
    return session_invite(session, now, names, install)
