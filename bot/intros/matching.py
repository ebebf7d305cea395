"""The next mentor to offer a member whose request was released or declined."""

from __future__ import annotations

import logging

from bot.domain import IntroRequest, Member
from bot.matching import fitting_topics, rank_mentors
from bot.nudges.kinds import RenderContext
from bot.profiles.capacity import mentor_loads

log = logging.getLogger(__name__)


async def next_mentor(ctx: RenderContext, member: Member, intro: IntroRequest) -> Member | None:
    """The best-ranked mentor for the request's topic, other than the one already asked."""
    profiles = await ctx.tx.profiles.with_topics(ctx.community.id, fitting_topics(
        intro.topic, await ctx.tx.profiles.topics(ctx.community.id), ctx.settings.synonyms))
    members = await ctx.tx.members.by_ids(ctx.community.id, (p.member_id for p in profiles))
    pairs = [
        (members[p.member_id], p)
        for p in profiles
        if p.member_id in members and p.member_id != intro.mentor_id
    ]
    loads = await mentor_loads(ctx.tx, ctx.community.id, ctx.settings.default_timezone, ctx.now)
    candidates, _ = rank_mentors(
        intro.topic,
        seeker=member,
        seeker_zone=ctx.zone(member),
        quiet_hours=member.quiet_hours if member.quiet_hours is not None
        else ctx.settings.quiet_hours,
        mentors=pairs,
        loads=loads,
        synonyms=ctx.settings.synonyms,
        now=ctx.now,
        limit=1,
    )
    return candidates[0].mentor if candidates else None
