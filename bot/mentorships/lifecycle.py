"""A mentorship's life, as the other features see it: started on accept, fed by sessions, ended.

Why here and not in intros or sessions: accepting an intro, a session marked "Met" and a
first session confirmed each have consequences for the mentorship (kick-off questions,
check-ins, a meeting-rhythm prompt, a "still going?" check). The features that cause them call
one function each from this module, in their own transaction, and everything a mentorship
sends goes through the nudge table with its own kind and timing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.context import CommandContext
from bot.domain import (
    RHYTHMS,
    GoalState,
    IntroRequest,
    Member,
    Mentorship,
    MentorshipState,
    NewNudge,
    Session,
    SessionState,
)
from bot.mentorships import nudges as k
from bot.repositories import Tx

log = logging.getLogger(__name__)

REASSESS_EVERY_SESSIONS = 4
REASSESS_EVERY = timedelta(weeks=8)
OPEN_SESSION_STATES = (SessionState.PROPOSED, SessionState.CONFIRMED)


def queue(
    ctx: CommandContext, kind: str, m: Mentorship, recipient_id: int | None,
    due_at: datetime | None = None, **payload: object,
) -> None:
    """A mentorship nudge: scoped by the intro it grew from (so its nudges can be skipped
    together) and carrying the mentorship's number."""
    ctx.outbox.append(NewNudge(ctx.community.id, kind, due_at or ctx.now,
                               recipient_id=recipient_id, intro_id=m.intro_id,
                               payload={"mentorship": m.id, **payload}))


async def start_mentorship(ctx: CommandContext, intro: IntroRequest, mentee: Member) -> Mentorship:
    """An intro was accepted: the mentorship starts, and both are asked how to work together
    (the mentee for goals, the mentor for a rhythm). Skippable: asked again once before the
    first session."""
    m = await ctx.tx.mentorships.add(
        community_id=ctx.community.id, intro_id=intro.id, mentor_id=intro.mentor_id,
        mentee_id=mentee.id, topic=intro.topic, now=ctx.now,
    )
    queue(ctx, k.KICKOFF_GOALS, m, m.mentee_id)
    queue(ctx, k.KICKOFF_RHYTHM, m, m.mentor_id)
    plan_stall_check(ctx, m, ctx.now)
    return m


async def mentorship_of(ctx: CommandContext, session: Session) -> Mentorship | None:
    return await ctx.tx.mentorships.by_intro(ctx.community.id, session.intro_id)


async def first_session_confirmed(ctx: CommandContext, session: Session) -> None:
    """Before the first session, whoever skipped the kick-off is asked once more."""
    m = await mentorship_of(ctx, session)
    if m is None or session.start_at is None:
        return
    held_or_set = [s for s in await ctx.tx.sessions.of(
        ctx.community.id, m.mentee_id,
        states=[SessionState.CONFIRMED, SessionState.HELD, SessionState.MISSED])
        if s.intro_id == m.intro_id]
    if len(held_or_set) != 1:
        return  # not the first one
    due = max(ctx.now, session.start_at - timedelta(hours=24))
    if not await ctx.tx.mentorships.goals(m.id):
        queue(ctx, k.KICKOFF_GOALS, m, m.mentee_id, due, again=True)
    if m.rhythm is None:
        queue(ctx, k.KICKOFF_RHYTHM, m, m.mentor_id, due, again=True)


async def after_session_held(ctx: CommandContext, session: Session) -> None:
    """A session was marked "Met": progress check-ins (the mentee per goal, the mentor a note
    and a next step), a re-assessment every few sessions or weeks, the next rhythm prompt and
    a fresh "still going?" clock."""
    m = await mentorship_of(ctx, session)
    if m is None or m.state is MentorshipState.ENDED:
        return
    goals = [g for g in await ctx.tx.mentorships.goals(m.id) if g.state is GoalState.ACTIVE]
    if goals:
        queue(ctx, k.CHECKIN, m, m.mentee_id, session=session.id)
    queue(ctx, k.NOTE_ASK, m, m.mentor_id, session=session.id)
    held = [s for s in await ctx.tx.sessions.of(ctx.community.id, m.mentee_id,
                                                 states=[SessionState.HELD])
            if s.intro_id == m.intro_id]
    reassessed = await ctx.tx.mentorships.entries(m.id, kinds=["reassessment"])
    since = reassessed[-1].created_at if reassessed else m.started_at
    if goals and (len(held) % REASSESS_EVERY_SESSIONS == 0 or ctx.now - since >= REASSESS_EVERY):
        queue(ctx, k.REASSESS, m, m.mentee_id, session=session.id)
    await plan_rhythm_prompt(ctx, m, session.end_at or ctx.now)
    plan_stall_check(ctx, m, ctx.now)


async def plan_rhythm_prompt(ctx: CommandContext, m: Mentorship, since: datetime) -> None:
    """One gentle prompt to book, a rhythm period after ``since`` (the last session, or the
    agreement); any earlier prompt still waiting is dropped, so there is never more than one."""
    await ctx.tx.nudges.skip_pending("a newer rhythm prompt replaces it", intro_id=m.intro_id,
                                     kinds=[k.RHYTHM_PROMPT])
    if m.rhythm is None or m.rhythm_paused or m.state is not MentorshipState.ACTIVE:
        return
    queue(ctx, k.RHYTHM_PROMPT, m, m.mentee_id, since + timedelta(days=RHYTHMS[m.rhythm]),
          since=since.isoformat())


def plan_stall_check(ctx: CommandContext, m: Mentorship, since: datetime) -> None:
    """A "still going?" after the configured quiet spell; activity before then makes it stale
    (its renderer looks), so only the newest one ever asks."""
    queue(ctx, k.STALL_CHECK, m, None,
          since + timedelta(days=ctx.settings.mentorship_stall_days), since=since.isoformat())


async def future_sessions(tx: Tx, m: Mentorship, now: datetime) -> list[Session]:
    """Sessions of the pair still to come (proposed or confirmed, starting after ``now``)."""
    sessions = await tx.sessions.of(m.community_id, m.mentee_id,
                                    states=list(OPEN_SESSION_STATES))
    return [s for s in sessions if s.intro_id == m.intro_id
            and (s.start_at is None or s.start_at > now)]
