"""The nudge ladder: which reminders and follow-ups a session gets, and when.

Why a separate planner: booking (``bot.sessions.commands``) only says *what happened* (booked,
confirmed, moved, cancelled); this module turns that into rows of the nudge table, written in
the same transaction. The texts are made at send time by the renderers in
``bot.sessions.nudges`` and ``bot.followups.nudges``, which check the current state and skip
anything that no longer applies (cancelled, moved, agenda already shared, already answered).

The ladder (every offset is a community setting):

1. On booking: ask the mentee for context and materials (immediately).
2. ``agenda_reminder_hours`` before: ask again, unless an agenda exists by then.
3. ``mentor_reminder_hours`` before: remind the mentor, with the agenda.
4. ``both_reminder_minutes`` before: remind both.
5. At the end time: "Did it happen?" to both (Met / Didn't happen / We moved it).
6. After "Met": the follow-ups (thank-you prompt, ``followup_days``, ``outcome_days``), planned
   by ``bot.followups.commands``.

Quiet hours are each kind's declared timing, applied by the engine at send time (the member may
have changed zone or quiet hours since): pre-session reminders (agenda asks, mentor and both
reminders) are never moved, since a reminder moved towards or past the start is useless; "Did
it happen?" and everything after it wait for the end of the recipient's quiet hours, and
follow-ups also honour snoozes and "follow-ups off". Follow-ups are shifted at planning time
too, so the due time people see is already the real one. Reminders whose time has already
passed when they are planned are recorded as skipped, with that reason, so organizers can see
why they never came.

``plan_after_booking`` and ``plan_for_confirmed`` are plain functions (they only queue);
``replan`` and ``cancel_nudges`` are coroutines because they mark stored nudges stale.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.context import CommandContext
from bot.domain import NewNudge, Session, SessionState

log = logging.getLogger(__name__)

AGENDA_ASK = "ladder.agenda_ask"
"""On booking: the mentee is asked for context and materials."""
AGENDA_REMINDER = "ladder.agenda_reminder"
"""Before the session, if still no agenda: ask once more."""
MENTOR_REMINDER = "ladder.mentor_reminder"
BOTH_REMINDER = "ladder.both_reminder"
DID_IT_HAPPEN = "ladder.did_it_happen"
THANKS_PROMPT = "followup.thanks_prompt"
THANKS_RELAY = "followup.thanks_relay"
SHOUT_OUT = "followup.shout_out"
CHECK_IN = "followup.check_in"
OUTCOME = "followup.outcome"
REPLY_RELAY = "followup.reply_relay"
NO_SHOW = "followup.no_show"

#: Nudges tied to the session's time: skipped and planned again when the time changes.
TIMED_KINDS = (AGENDA_REMINDER, MENTOR_REMINDER, BOTH_REMINDER, DID_IT_HAPPEN)
#: Follow-ups a member can turn off or snooze (``followups off|snooze``).
FOLLOWUP_KINDS = (THANKS_PROMPT, CHECK_IN, OUTCOME)
#: Everything about a session that a cancellation makes pointless.
CANCELLED_KINDS = (AGENDA_ASK, *TIMED_KINDS, THANKS_PROMPT, CHECK_IN, OUTCOME)


def _queue(
    ctx: CommandContext,
    kind: str,
    session: Session,
    due_at: datetime,
    recipient_id: int | None,
    *,
    skipped: str | None = None,
    **payload: object,
) -> None:
    ctx.outbox.append(
        NewNudge(
            community_id=ctx.community.id,
            kind=kind,
            due_at=due_at,
            recipient_id=recipient_id,
            session_id=session.id,
            payload={"sequence": session.sequence, **payload},
            skipped=skipped,
        )
    )


def _too_late(ctx: CommandContext, at: datetime, what: str) -> str | None:
    """The reason a reminder planned for ``at`` is skipped from the start, if it is."""
    if at > ctx.now:
        return None
    return f"{what} would have been due before the session was agreed; skipped"


def plan_after_booking(ctx: CommandContext, session: Session) -> None:
    """A session was proposed: ask the mentee for context and materials now.

    The ask is skipped at send time if the agenda was given with the booking.
    """
    if session.agenda:
        return
    _queue(ctx, AGENDA_ASK, session, ctx.now, session.member_id)


def plan_for_confirmed(ctx: CommandContext, session: Session) -> None:
    """The time is agreed: queue the reminders before it and "Did it happen?" after it."""
    if session.start_at is None or session.state is not SessionState.CONFIRMED:
        log.debug("session %s not confirmed with a time; nothing to plan", session.id)
        return
    start = session.start_at
    end = session.end_at or start
    settings = ctx.settings
    agenda_at = start - timedelta(hours=settings.agenda_reminder_hours)
    if not session.agenda:
        _queue(ctx, AGENDA_REMINDER, session, agenda_at, session.member_id,
               skipped=_too_late(ctx, agenda_at, "the agenda reminder"))
    mentor_at = start - timedelta(hours=settings.mentor_reminder_hours)
    _queue(ctx, MENTOR_REMINDER, session, mentor_at, session.mentor_id,
           skipped=_too_late(ctx, mentor_at, "the mentor reminder"))
    both_at = start - timedelta(minutes=settings.both_reminder_minutes)
    for person in (session.mentor_id, session.member_id):
        _queue(ctx, BOTH_REMINDER, session, both_at, person,
               skipped=_too_late(ctx, both_at, "the reminder to both"))
    asked_at = max(end, ctx.now)
    for person in (session.mentor_id, session.member_id):
        _queue(ctx, DID_IT_HAPPEN, session, asked_at, person)


async def replan(ctx: CommandContext, session: Session, reason: str) -> None:
    """The session's time changed: drop the reminders for the old time and plan the new one."""
    skipped = await ctx.tx.nudges.skip_pending(reason, session_id=session.id, kinds=TIMED_KINDS)
    ctx.drop_queued(session_id=session.id, kinds=TIMED_KINDS)  # queued for the old time
    log.debug("session %s: %d reminder(s) skipped (%s)", session.id, skipped, reason)
    plan_for_confirmed(ctx, session)


async def cancel_nudges(ctx: CommandContext, session: Session, reason: str) -> None:
    """The session is off: nothing more about it is sent (the cancellation notice aside)."""
    await ctx.tx.nudges.skip_pending(reason, session_id=session.id, kinds=CANCELLED_KINDS)
    ctx.drop_queued(session_id=session.id, kinds=CANCELLED_KINDS)
