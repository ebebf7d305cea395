""""Tell me when a mentor frees up": who is waiting for which topic, and telling them.

Why its own module: a mentor frees up in many places (a profile saved with more room or a new
topic, a pause over, a session cancelled under a monthly cap, a new month, a mentorship ended),
and each of them calls :func:`freed_up` here, so the rule lives once: tell only if the mentor
really can take someone now, first come first told, as many as the mentor has room for, each
member once, naming the mentor and offering the intro with their earlier context.

When a member starts waiting, :func:`rechecks` plans a look at the moment each fitting mentor
who is away or full could be free again (their pause's end, the start of their next month), so
nobody waits on a moment no command will ever touch.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.config import CommunityDefaults
from bot.domain import Community, Member, MentorProfile, NewNudge
from bot.intros import nudges as k
from bot.matching import Load, is_full, topic_fit
from bot.profiles.capacity import mentor_loads
from bot.repositories import Tx
from bot.timezones import month_start

log = logging.getLogger(__name__)

TOPIC_FIT = 0.45


async def freed_up(
    tx: Tx, community: Community, settings: CommunityDefaults, now: datetime,
    mentor: Member, profile: MentorProfile | None,
) -> list[NewNudge]:
    """The messages to send if ``mentor`` can take someone now and members wait for them.

    First come, first told, as many as the mentor has room for (mentees and sessions left this
    month); each told entry is closed, so nobody is told twice.
    """
    if profile is None or profile.is_paused(now):
        return []
    loads = await mentor_loads(tx, community.id, settings.default_timezone, now)
    load = loads.get(mentor.id, Load())
    if is_full(profile, load):
        return []  # still no room: telling them now would send them to someone who can't
    room = min(profile.max_mentees - load.active_mentees,
               profile.max_sessions_per_month - load.sessions_this_month)
    out: list[NewNudge] = []
    for entry in await tx.waitlist.open(community.id):
        if len(out) >= room:
            break
        if entry.member_id == mentor.id or not fits(entry.topic, profile, settings):
            continue
        if await tx.waitlist.close(entry.id, now, "told"):
            out.append(NewNudge(community.id, k.WAITLIST_FREED, now, recipient_id=entry.member_id,
                                intro_id=entry.intro_id,
                                payload={"topic": entry.topic, "mentor": mentor.id,
                                         "entry": entry.id}))
    return out


def fits(topic: str, profile: MentorProfile, settings: CommunityDefaults) -> bool:
    return any(topic_fit(topic, t, settings.synonyms) >= TOPIC_FIT for t in profile.topics)


async def rechecks(
    tx: Tx, community: Community, settings: CommunityDefaults, now: datetime, topic: str,
) -> list[NewNudge]:
    """Looks planned at the moments fitting mentors who can't take anyone now free up: the end
    of a pause, the start of their next month (in their own zone) when their sessions are used
    up. A mentor full of mentees frees up when a mentorship ends, which says so itself."""
    loads = await mentor_loads(tx, community.id, settings.default_timezone, now)
    fitting = [p for p in await tx.profiles.all(community.id) if fits(topic, p, settings)]
    mentors = await tx.members.by_ids(community.id, [p.member_id for p in fitting])
    out: list[NewNudge] = []
    for profile in fitting:
        mentor = mentors.get(profile.member_id)
        zone = mentor.zone(settings.default_timezone) if mentor else settings.default_timezone
        at = free_again_at(profile, loads.get(profile.member_id, Load()), zone, now)
        if at is not None:
            out.append(recheck(community, profile.member_id, at))
    return out


def free_again_at(profile: MentorProfile, load: Load, zone: str, now: datetime
                  ) -> datetime | None:
    """When a mentor away or out of sessions could take someone again, if a moment says so."""
    if profile.is_paused(now):
        return profile.paused_until
    if load.sessions_this_month >= profile.max_sessions_per_month:
        return next_month(now, zone)
    return None


async def look_again(
    tx: Tx, community: Community, settings: CommunityDefaults, now: datetime, mentor: Member,
    profile: MentorProfile | None,
) -> list[NewNudge]:
    """After a look found no room: another look at the mentor's next free moment, if members
    still wait for them (their pause was extended, or a new month's sessions went at once)."""
    if profile is None:
        return []
    waiting = [e for e in await tx.waitlist.open(community.id)
               if e.member_id != mentor.id and fits(e.topic, profile, settings)]
    if not waiting:
        return []
    loads = await mentor_loads(tx, community.id, settings.default_timezone, now)
    at = free_again_at(profile, loads.get(mentor.id, Load()),
                       mentor.zone(settings.default_timezone), now)
    return [recheck(community, mentor.id, at)] if at is not None and at > now else []


def recheck(community: Community, mentor_id: int, at: datetime) -> NewNudge:
    return NewNudge(community.id, k.WAITLIST_RECHECK, at, payload={"mentor": mentor_id})


def next_month(now: datetime, zone: str) -> datetime:
    """Midnight on the first of next month in ``zone`` (the months the monthly cap counts)."""
    first = month_start(now, zone)
    return (first + timedelta(days=32)).replace(day=1)
