""""Tell me when a mentor frees up": who is waiting for which topic, and telling them.

Why its own module: a mentor frees up in many places (a profile saved, a pause over, a session
cancelled under a monthly cap, a mentorship ended), and each of them calls the one function
here, so the rule "tell them once, only if the mentor really can take someone" lives once.
"""

from __future__ import annotations

import logging

from bot.context import CommandContext
from bot.domain import Member, MentorProfile
from bot.intros import nudges as k
from bot.matching import Load, is_full, topic_fit
from bot.profiles.capacity import mentor_loads

log = logging.getLogger(__name__)

TOPIC_FIT = 0.45


async def tell_waiting_members(
    ctx: CommandContext, mentor: Member, profile: MentorProfile
) -> None:
    """Members waiting for a topic this mentor covers hear that someone is free."""
    if profile.is_paused(ctx.now):
        return
    loads = await mentor_loads(ctx.tx, ctx.community.id, ctx.settings.default_timezone, ctx.now)
    if is_full(profile, loads.get(mentor.id, Load())):
        return  # still no room: telling them now would send them to a mentor who can't take them
    for entry in await ctx.tx.waitlist.open(ctx.community.id):
        if entry.member_id == mentor.id:
            continue
        fits = any(
            topic_fit(entry.topic, t, ctx.settings.synonyms) >= TOPIC_FIT for t in profile.topics
        )
        if fits and await ctx.tx.waitlist.close(entry.id, ctx.now):
            recipient = await ctx.tx.members.get(ctx.community.id, entry.member_id)
            ctx.notify(k.WAITLIST_FREED, recipient=recipient, topic=entry.topic)
