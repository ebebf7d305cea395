"""What the session nudges say: proposed, counter-proposal, confirmed, rescheduled, cancelled,
series set up and series ended.

Rendered at send time from the current state: each nudge carries the session's ``sequence``
when it was queued, so a proposal or invite that was overtaken by a newer change is skipped as
stale instead of sent. Confirmations carry the .ics invite.

Also the ladder's messages before a session (asking for an agenda, reminders) and "Did it
happen?" after it; what follows "Met" lives in ``bot.followups.nudges``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.domain import Member, Nudge, Session, SessionState
from bot.messages import Attachment, ChoiceStyle, MessageBuilder, MomentStyle
from bot.nudges.kinds import RenderContext, Rendered, Stale, Timing, nudge_kind
from bot.recurrence import LABELS
from bot.sessions import ladder
from bot.sessions.invites import invite_for
from bot.text import shorten

log = logging.getLogger(__name__)

SESSION_PROPOSED = "session.proposed"
SESSION_COUNTER = "session.counter_proposal"
SESSION_CONFIRMED = "session.confirmed"
SESSION_RESCHEDULED = "session.rescheduled"
SESSION_CANCELLED = "session.cancelled"
SESSION_SERIES = "session.series"
SESSION_SERIES_ENDED = "session.series_ended"


async def _load(ctx: RenderContext, nudge: Nudge) -> tuple[Session, Member, Member, Member]:
    """The session, its mentor and member, and the nudge's recipient (Stale if any is gone)."""
    session = await ctx.tx.sessions.get(ctx.community.id, nudge.session_id or 0)
    if session is None:
        raise Stale("session no longer exists")
    mentor = await ctx.member(session.mentor_id)
    member = await ctx.member(session.member_id)
    recipient = await ctx.member(nudge.recipient_id)
    return session, mentor, member, recipient


def _changed(session: Session, nudge: Nudge) -> bool:
    return int(nudge.payload.get("sequence", session.sequence)) != session.sequence


async def invite(
    ctx: RenderContext, s: Session, mentor: Member, member: Member, *, whole_series: bool = True
) -> Attachment:
    return await invite_for(ctx.tx, ctx.community.id, s, mentor, member, ctx.now,
                            whole_series=whole_series)


def _describe(msg: MessageBuilder, s: Session, zone: str) -> MessageBuilder:
    if s.start_at is not None:
        msg.moment(s.start_at, zone, MomentStyle.DATE_TIME)
    msg.say(f" ({s.duration_minutes} min) about “").user_text(shorten(s.topic, 80)).say("”")
    return msg


def _agenda(msg: MessageBuilder, s: Session) -> MessageBuilder:
    if s.agenda:
        msg.line("Agenda:").quote(s.agenda)
    return msg


@nudge_kind(SESSION_PROPOSED, label="session proposed")
async def proposed(ctx: RenderContext, nudge: Nudge) -> Rendered:
    s, _mentor, _member, recipient = await _load(ctx, nudge)
    if s.state is not SessionState.PROPOSED or _changed(s, nudge):
        raise Stale(f"session #{s.id} changed ({s.state.value})")
    proposer = await ctx.member(s.proposed_by)
    zone = ctx.zone(recipient)
    msg = MessageBuilder().mention(ctx.address(proposer))
    if s.start_at is None:
        slots = await ctx.tx.sessions.slots(s.id)
        msg.say(f" would like a session (#{s.id}, {s.duration_minutes} min) about “")
        msg.user_text(shorten(s.topic, 80)).say("”. Pick the time that suits you:")
        for i, at in enumerate(slots, start=1):
            msg.line(f"  {i}. ").moment(at, zone)
            label = MessageBuilder().moment(at, zone).build().plain_text()
            msg.choice(f"Pick {label}"[:75], f"pick {s.id} {i}",
                       ChoiceStyle.PRIMARY if i == 1 else ChoiceStyle.DEFAULT)
    else:
        msg.say(f" proposes session #{s.id} on ")
        _describe(msg, s, zone).say(".")
        msg.choice("Confirm", f"confirm {s.id}", ChoiceStyle.PRIMARY)
    _agenda(msg, s)
    msg.choice("Propose another time", f"counter {s.id}")
    msg.choice("Decline", f"cancel {s.id}", ChoiceStyle.DANGER)
    return ctx.dm(recipient, msg.build())


@nudge_kind(SESSION_COUNTER, label="another time proposed")
async def counter(ctx: RenderContext, nudge: Nudge) -> Rendered:
    s, _mentor, _member, recipient = await _load(ctx, nudge)
    if s.state is not SessionState.PROPOSED or _changed(s, nudge) or s.start_at is None:
        raise Stale(f"session #{s.id} changed ({s.state.value})")
    proposer = await ctx.member(s.proposed_by)
    msg = MessageBuilder().mention(ctx.address(proposer)).say(
        f" can't make that time and proposes another for session #{s.id}: "
    )
    _describe(msg, s, ctx.zone(recipient)).say(".")
    msg.choice("Confirm", f"confirm {s.id}", ChoiceStyle.PRIMARY)
    msg.choice("Propose another time", f"counter {s.id}")
    msg.choice("Cancel", f"cancel {s.id}", ChoiceStyle.DANGER)
    return ctx.dm(recipient, msg.build())


@nudge_kind(SESSION_CONFIRMED, label="session confirmed")
async def confirmed(ctx: RenderContext, nudge: Nudge) -> Rendered:
    s, mentor, member, recipient = await _load(ctx, nudge)
    if s.state is not SessionState.CONFIRMED or _changed(s, nudge) or s.start_at is None:
        raise Stale(f"session #{s.id} changed ({s.state.value})")
    other = member if recipient.id == mentor.id else mentor
    msg = MessageBuilder().say(f"Session #{s.id} with ").mention(ctx.address(other))
    msg.say(" is confirmed: ")
    _describe(msg, s, ctx.zone(recipient)).say(". The calendar invite is attached.")
    _agenda(msg, s)
    if recipient.id == member.id and not s.agenda:
        msg.line("Share what you'd like to cover: ").hint(f"agenda {s.id} <text>").say(".")
    msg.choice("Reschedule", f"reschedule {s.id}")
    msg.choice("Cancel", f"cancel {s.id}", ChoiceStyle.DANGER)
    attached = await invite(ctx, s, mentor, member, whole_series=False)
    return ctx.dm(recipient, msg.build(attachments=(attached,)))


@nudge_kind(SESSION_RESCHEDULED, label="session moved")
async def rescheduled(ctx: RenderContext, nudge: Nudge) -> Rendered:
    s, mentor, member, recipient = await _load(ctx, nudge)
    if s.state is not SessionState.CONFIRMED or _changed(s, nudge) or s.start_at is None:
        raise Stale(f"session #{s.id} changed ({s.state.value})")
    mover = member if recipient.id == mentor.id else mentor
    msg = MessageBuilder().mention(ctx.address(mover)).say(f" moved session #{s.id} to ")
    _describe(msg, s, ctx.zone(recipient)).say(".")
    reason = nudge.payload.get("reason")
    if reason:
        msg.line("Their note:").quote(str(reason))
    msg.line("The updated invite is attached. If the new time doesn't work, reschedule or cancel.")
    msg.choice("Reschedule", f"reschedule {s.id}")
    msg.choice("Cancel", f"cancel {s.id}", ChoiceStyle.DANGER)
    attached = await invite(ctx, s, mentor, member)
    return ctx.dm(recipient, msg.build(attachments=(attached,)))


@nudge_kind(SESSION_CANCELLED, label="session cancelled")
async def cancelled(ctx: RenderContext, nudge: Nudge) -> Rendered:
    s, mentor, member, recipient = await _load(ctx, nudge)
    if s.state is not SessionState.CANCELLED:
        raise Stale(f"session #{s.id} is {s.state.value} again")
    canceller = member if recipient.id == mentor.id else mentor
    skipped = bool(nudge.payload.get("skipped"))
    because = nudge.payload.get("because")
    if because:  # cancelled by something else than a person's `cancel` (a mentorship ended)
        msg = MessageBuilder().say(f"Session #{s.id}")
        if s.start_at is not None:
            msg.say(" on ").moment(s.start_at, ctx.zone(recipient))
        msg.say(f" is cancelled: {because}.")
    else:
        msg = MessageBuilder().mention(ctx.address(canceller))
        msg.say(" skipped " if skipped else " cancelled ").say(f"session #{s.id}")
        if s.start_at is not None:
            msg.say(" on ").moment(s.start_at, ctx.zone(recipient))
        msg.say(".")
    if s.cancel_reason and not skipped and not because:
        msg.line("Their note:").quote(s.cancel_reason)
    attachments: tuple[Attachment, ...] = ()
    if nudge.payload.get("was_confirmed"):
        attachments = (await invite(ctx, s, mentor, member),)
        msg.line("The calendar update is attached.")
    if not skipped and not because and s.series_id is None:
        other = canceller
        msg.choice("Book another time", f"book <member:{other.platform_user_id}>"[:90])
    return ctx.dm(recipient, msg.build(attachments=attachments))


@nudge_kind(SESSION_SERIES, label="series set up")
async def series(ctx: RenderContext, nudge: Nudge) -> Rendered:
    s, mentor, member, recipient = await _load(ctx, nudge)
    series = await ctx.tx.sessions.series(ctx.community.id, s.series_id or 0)
    if series is None or series.ended_at is not None:
        raise Stale("series ended or gone")
    if int(nudge.payload.get("series_sequence", series.sequence)) != series.sequence:
        raise Stale("series changed since")
    occurrences = await ctx.tx.sessions.series_sessions(series.id)
    kept = [o for o in occurrences if o.state is SessionState.CONFIRMED and o.start_at]
    setter = await ctx.member(int(nudge.payload.get("by", s.proposed_by)))
    msg = MessageBuilder()
    if setter.id != recipient.id:
        msg.mention(ctx.address(setter)).say(" set up ")
    else:
        msg.say("You set up ")
    msg.say(f"{len(occurrences)} sessions {LABELS.get(series.frequency, series.frequency)}, "
            f"starting with #{occurrences[0].id} on ")
    msg.moment(occurrences[0].start_at or s.start_at or ctx.now, ctx.zone(recipient))
    if kept:
        msg.say(" until ").moment(kept[-1].start_at or ctx.now, ctx.zone(recipient),
                                  MomentStyle.DATE)
    msg.say(". The calendar invite for the series is attached.")
    msg.line("Skip one with ").hint("skip <session #>").say(", stop them with ").hint(
        f"end-series {s.id}").say(".")
    msg.choice("End the series", f"end-series {s.id}", ChoiceStyle.DANGER)
    attached = await invite(ctx, s, mentor, member)
    return ctx.dm(recipient, msg.build(attachments=(attached,)))


@nudge_kind(SESSION_SERIES_ENDED, label="series ended")
async def series_ended(ctx: RenderContext, nudge: Nudge) -> Rendered:
    s, mentor, member, recipient = await _load(ctx, nudge)
    ender = member if recipient.id == mentor.id else mentor
    msg = MessageBuilder().mention(ctx.address(ender)).say(
        f" ended the series of sessions (from #{s.id}); "
        f"{int(nudge.payload.get('cancelled', 0))} upcoming session(s) are cancelled."
    )
    msg.line("The calendar update is attached.")
    attached = await invite(ctx, s, mentor, member)
    return ctx.dm(recipient, msg.build(attachments=(attached,)))


# -- the ladder before a session, and "Did it happen?" after it ---------------------------


@dataclass(frozen=True)
class Loaded:
    """A session nudge's subject: the session, both people, and who it is for."""

    session: Session
    mentor: Member
    mentee: Member
    recipient: Member | None

    def other(self, member: Member) -> Member:
        return self.mentee if member.id == self.mentor.id else self.mentor


async def load_session(ctx: RenderContext, nudge: Nudge, *, timed: bool = False) -> Loaded:
    """The session and its people; Stale if it is gone, cancelled, or (``timed``) moved since
    the nudge was planned."""
    session = await ctx.tx.sessions.get(ctx.community.id, nudge.session_id or 0)
    if session is None:
        raise Stale("session no longer exists")
    if session.state is SessionState.CANCELLED:
        reason = f": {session.cancel_reason}" if session.cancel_reason else ""
        raise Stale("session cancelled" + reason)
    if timed and int(nudge.payload.get("sequence", session.sequence)) != session.sequence:
        raise Stale("session moved since this was planned")
    mentor = await ctx.member(session.mentor_id)
    mentee = await ctx.member(session.member_id)
    recipient = None
    if nudge.recipient_id is not None:
        recipient = mentor if nudge.recipient_id == mentor.id else (
            mentee if nudge.recipient_id == mentee.id else await ctx.member(nudge.recipient_id)
        )
    return Loaded(session, mentor, mentee, recipient)


def _not_started(ctx: RenderContext, s: Session) -> None:
    """A reminder *before* a session is useless once it has started (e.g. after downtime)."""
    if s.start_at is not None and s.start_at <= ctx.now:
        raise Stale("session already started")


def _confirmed(s: Session) -> None:
    if s.state is not SessionState.CONFIRMED or s.start_at is None:
        raise Stale(f"session {s.state.value}")


def about(msg: MessageBuilder, ctx: RenderContext, s: Session, reader: Member) -> MessageBuilder:
    msg.say(" about “").user_text(shorten(s.topic, 80)).say("”")
    if s.start_at is not None:
        msg.say(" on ").moment(s.start_at, ctx.zone(reader))
    return msg


@nudge_kind(ladder.AGENDA_ASK, timing=Timing.BEFORE_SESSION, label="agenda asked for")
async def agenda_ask(ctx: RenderContext, nudge: Nudge) -> Rendered:
    found = await load_session(ctx, nudge)
    s, mentee = found.session, found.mentee
    if s.agenda:
        raise Stale("agenda already shared")
    _not_started(ctx, s)
    msg = MessageBuilder().say(f"About your session #{s.id} with ").mention(
        ctx.address(found.mentor))
    msg.say(" (“").user_text(shorten(s.topic, 80)).say("”): to make the most of it, share some "
                                                        "context in advance.")
    msg.line("What do you want to get out of it? What have you tried so far? "
             "Links or materials are welcome too; your mentor sees them before you meet.")
    msg.line("Type ").hint(f"agenda {s.id} <your notes>").say(", or use the button.")
    msg.choice("Add an agenda", f"agenda {s.id}", ChoiceStyle.PRIMARY)
    return ctx.dm(mentee, msg.build())


@nudge_kind(ladder.AGENDA_REMINDER, timing=Timing.BEFORE_SESSION, label="agenda reminder")
async def agenda_reminder(ctx: RenderContext, nudge: Nudge) -> Rendered:
    found = await load_session(ctx, nudge, timed=True)
    s, mentee = found.session, found.mentee
    _confirmed(s)
    if s.agenda:
        raise Stale("agenda already shared")
    _not_started(ctx, s)
    msg = MessageBuilder().say(f"Your session #{s.id} with ").mention(ctx.address(found.mentor))
    about(msg, ctx, s, mentee).say(" has no agenda yet.")
    msg.line("A few lines help a lot: what you'd like to cover, what you tried, any links. "
             "Type ").hint(f"agenda {s.id} <your notes>").say(".")
    msg.choice("Add an agenda", f"agenda {s.id}", ChoiceStyle.PRIMARY)
    return ctx.dm(mentee, msg.build())


@nudge_kind(ladder.MENTOR_REMINDER, timing=Timing.BEFORE_SESSION, label="mentor reminder")
async def mentor_reminder(ctx: RenderContext, nudge: Nudge) -> Rendered:
    found = await load_session(ctx, nudge, timed=True)
    s, mentor = found.session, found.mentor
    _confirmed(s)
    _not_started(ctx, s)
    msg = MessageBuilder().say(f"Reminder: session #{s.id} with ").mention(
        ctx.address(found.mentee))
    about(msg, ctx, s, mentor).say(f" ({s.duration_minutes} min).")
    if s.agenda:
        msg.line("Their agenda:").quote(s.agenda)
    else:
        msg.line("No agenda shared yet.")
    msg.choice("Reschedule", f"reschedule {s.id}")
    msg.choice("Cancel", f"cancel {s.id}", ChoiceStyle.DANGER)
    return ctx.dm(mentor, msg.build())


@nudge_kind(ladder.BOTH_REMINDER, timing=Timing.BEFORE_SESSION, label="reminder to both")
async def both_reminder(ctx: RenderContext, nudge: Nudge) -> Rendered:
    found = await load_session(ctx, nudge, timed=True)
    s, reader = found.session, found.recipient
    if reader is None:
        raise Stale("no recipient")
    _confirmed(s)
    _not_started(ctx, s)
    assert s.start_at is not None
    msg = MessageBuilder().say(f"Soon: session #{s.id} with ").mention(
        ctx.address(found.other(reader)))
    msg.say(" starts at ").moment(s.start_at, ctx.zone(reader), MomentStyle.TIME)
    msg.say(f" ({s.duration_minutes} min). Have a great conversation!")
    return ctx.dm(reader, msg.build())


@nudge_kind(ladder.DID_IT_HAPPEN, timing=Timing.PROMPT, label="did it happen")
async def did_it_happen(ctx: RenderContext, nudge: Nudge) -> Rendered:
    found = await load_session(ctx, nudge, timed=True)
    s, reader = found.session, found.recipient
    if reader is None or s.start_at is None:
        raise Stale("no recipient or time")
    if s.state is SessionState.PROPOSED:
        raise Stale("session was never confirmed")
    answers = await ctx.tx.followups.attendance(s.id, s.sequence)
    if any(a.member_id == reader.id for a in answers):
        raise Stale("already answered")
    msg = MessageBuilder().say(f"Did your session #{s.id} with ").mention(
        ctx.address(found.other(reader)))
    msg.say(" on ").moment(s.start_at, ctx.zone(reader)).say(" happen?")
    msg.line("(Or type ").hint(f"met {s.id}").say(", ").hint(f"missed {s.id}").say(" or ")
    msg.hint(f"moved {s.id}").say(".)")
    msg.choice("Met", f"met {s.id}", ChoiceStyle.PRIMARY)
    msg.choice("Didn't happen", f"missed {s.id}")
    msg.choice("We moved it", f"moved {s.id}")
    return ctx.dm(reader, msg.build())


KINDS = (
    proposed, counter, confirmed, rescheduled, cancelled, series, series_ended,
    agenda_ask, agenda_reminder, mentor_reminder, both_reminder, did_it_happen,
)
