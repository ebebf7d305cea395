"""What the session nudges say: proposed, counter-proposal, confirmed, rescheduled, cancelled,
series set up and series ended.

Rendered at send time from the current state (see ``bot.notifications``): each nudge carries
the session's ``sequence`` when it was queued, so a proposal or invite that was overtaken by a
newer change is skipped as stale instead of sent. Confirmations carry the .ics invite.
"""

from __future__ import annotations

import logging

from bot.calendar_invite import series_invite, session_invite
from bot.domain import Member, Session, SessionState
from bot.messages import Attachment, ChoiceStyle, MessageBuilder, MomentStyle
from bot.notifications import RenderContext, Rendered, Stale, renders
from bot.text import shorten
from storage.store import NudgeRow

log = logging.getLogger(__name__)

SESSION_PROPOSED = "session.proposed"
SESSION_COUNTER = "session.counter_proposal"
SESSION_CONFIRMED = "session.confirmed"
SESSION_RESCHEDULED = "session.rescheduled"
SESSION_CANCELLED = "session.cancelled"
SESSION_SERIES = "session.series"
SESSION_SERIES_ENDED = "session.series_ended"


def names_of(mentor: Member, member: Member) -> str:
    return f"{mentor.display_name} (mentor) and {member.display_name}"


async def _load(
    ctx: RenderContext, nudge: NudgeRow
) -> tuple[Session, Member, Member, Member] | Stale:
    """The session, its mentor and member, and the nudge's recipient."""
    session = await ctx.tx.session(ctx.community.id, nudge.session_id or 0)
    if session is None:
        return Stale("session no longer exists")
    mentor = await ctx.member(session.mentor_id)
    member = await ctx.member(session.member_id)
    recipient = await ctx.member(nudge.recipient_id)
    if mentor is None or member is None or recipient is None:
        return Stale("member no longer exists")
    return session, mentor, member, recipient


def _changed(session: Session, nudge: NudgeRow) -> bool:
    return int(nudge.payload.get("sequence", session.sequence)) != session.sequence


async def series_attachment(
    ctx: RenderContext, session: Session, mentor: Member, member: Member
) -> Attachment | None:
    if session.series_id is None:
        return None
    series = await ctx.tx.series(ctx.community.id, session.series_id)
    occurrences = await ctx.tx.series_sessions(session.series_id)
    if series is None or not occurrences:
        return None
    return series_invite(series, occurrences, ctx.now, names_of(mentor, member))


def _describe(msg: MessageBuilder, s: Session, zone: str) -> MessageBuilder:
    if s.start_at is not None:
        msg.moment(s.start_at, zone, MomentStyle.DATE_TIME)
    msg.say(f" ({s.duration_minutes} min) about “").user_text(shorten(s.topic, 80)).say("”")
    return msg


def _agenda(msg: MessageBuilder, s: Session) -> MessageBuilder:
    if s.agenda:
        msg.line("Agenda:").quote(s.agenda)
    return msg


@renders(SESSION_PROPOSED)
async def _proposed(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _load(ctx, nudge)
    if isinstance(found, Stale):
        return found
    s, _mentor, _member, recipient = found
    if s.state is not SessionState.PROPOSED or _changed(s, nudge):
        return Stale(f"session #{s.id} changed ({s.state.value})")
    proposer = await ctx.member(s.proposed_by)
    if proposer is None:
        return Stale("member no longer exists")
    zone = ctx.zone(recipient)
    msg = MessageBuilder().mention(ctx.address(proposer))
    if s.start_at is None:
        slots = await ctx.tx.slots(s.id)
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


@renders(SESSION_COUNTER)
async def _counter(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _load(ctx, nudge)
    if isinstance(found, Stale):
        return found
    s, _mentor, _member, recipient = found
    if s.state is not SessionState.PROPOSED or _changed(s, nudge) or s.start_at is None:
        return Stale(f"session #{s.id} changed ({s.state.value})")
    proposer = await ctx.member(s.proposed_by)
    if proposer is None:
        return Stale("member no longer exists")
    msg = MessageBuilder().mention(ctx.address(proposer)).say(
        f" can't make that time and proposes another for session #{s.id}: "
    )
    _describe(msg, s, ctx.zone(recipient)).say(".")
    msg.choice("Confirm", f"confirm {s.id}", ChoiceStyle.PRIMARY)
    msg.choice("Propose another time", f"counter {s.id}")
    msg.choice("Cancel", f"cancel {s.id}", ChoiceStyle.DANGER)
    return ctx.dm(recipient, msg.build())


@renders(SESSION_CONFIRMED)
async def _confirmed(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _load(ctx, nudge)
    if isinstance(found, Stale):
        return found
    s, mentor, member, recipient = found
    if s.state is not SessionState.CONFIRMED or _changed(s, nudge) or s.start_at is None:
        return Stale(f"session #{s.id} changed ({s.state.value})")
    other = member if recipient.id == mentor.id else mentor
    msg = MessageBuilder().say(f"Session #{s.id} with ").mention(ctx.address(other))
    msg.say(" is confirmed: ")
    _describe(msg, s, ctx.zone(recipient)).say(". The calendar invite is attached.")
    _agenda(msg, s)
    if recipient.id == member.id and not s.agenda:
        msg.line(f"Share what you'd like to cover: `agenda {s.id} <text>`.")
    msg.choice("Reschedule", f"reschedule {s.id}")
    msg.choice("Cancel", f"cancel {s.id}", ChoiceStyle.DANGER)
    invite = session_invite(s, ctx.now, names_of(mentor, member))
    return ctx.dm(recipient, msg.build(attachments=(invite,)))


@renders(SESSION_RESCHEDULED)
async def _rescheduled(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _load(ctx, nudge)
    if isinstance(found, Stale):
        return found
    s, mentor, member, recipient = found
    if s.state is not SessionState.CONFIRMED or _changed(s, nudge) or s.start_at is None:
        return Stale(f"session #{s.id} changed ({s.state.value})")
    mover = member if recipient.id == mentor.id else mentor
    msg = MessageBuilder().mention(ctx.address(mover)).say(f" moved session #{s.id} to ")
    _describe(msg, s, ctx.zone(recipient)).say(".")
    reason = nudge.payload.get("reason")
    if reason:
        msg.line("Their note:").quote(str(reason))
    msg.line("The updated invite is attached. If the new time doesn't work, reschedule or cancel.")
    msg.choice("Reschedule", f"reschedule {s.id}")
    msg.choice("Cancel", f"cancel {s.id}", ChoiceStyle.DANGER)
    invite = (
        await series_attachment(ctx, s, mentor, member)
        if s.series_id is not None
        else session_invite(s, ctx.now, names_of(mentor, member))
    )
    return ctx.dm(recipient, msg.build(attachments=(invite,) if invite else ()))


@renders(SESSION_CANCELLED)
async def _cancelled(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _load(ctx, nudge)
    if isinstance(found, Stale):
        return found
    s, mentor, member, recipient = found
    if s.state is not SessionState.CANCELLED:
        return Stale(f"session #{s.id} is {s.state.value} again")
    canceller = member if recipient.id == mentor.id else mentor
    skipped = bool(nudge.payload.get("skipped"))
    msg = MessageBuilder().mention(ctx.address(canceller))
    msg.say(" skipped " if skipped else " cancelled ").say(f"session #{s.id}")
    if s.start_at is not None:
        msg.say(" on ").moment(s.start_at, ctx.zone(recipient))
    msg.say(".")
    if s.cancel_reason and not skipped:
        msg.line("Their note:").quote(s.cancel_reason)
    attachments: tuple[Attachment, ...] = ()
    if nudge.payload.get("was_confirmed"):
        invite = (
            await series_attachment(ctx, s, mentor, member)
            if s.series_id is not None
            else session_invite(s, ctx.now, names_of(mentor, member))
        )
        if invite is not None:
            attachments = (invite,)
            msg.line("The calendar update is attached.")
    if not skipped and s.series_id is None:
        other = canceller
        msg.choice("Book another time", f"book <member:{other.platform_user_id}>"[:90])
    return ctx.dm(recipient, msg.build(attachments=attachments))


@renders(SESSION_SERIES)
async def _series(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _load(ctx, nudge)
    if isinstance(found, Stale):
        return found
    s, mentor, member, recipient = found
    series = await ctx.tx.series(ctx.community.id, s.series_id or 0)
    if series is None or series.ended_at is not None:
        return Stale("series ended or gone")
    if int(nudge.payload.get("series_sequence", series.sequence)) != series.sequence:
        return Stale("series changed since")
    occurrences = await ctx.tx.series_sessions(series.id)
    kept = [o for o in occurrences if o.state is SessionState.CONFIRMED and o.start_at]
    from bot.recurrence import LABELS

    setter = await ctx.member(int(nudge.payload.get("by", s.proposed_by)))
    msg = MessageBuilder()
    if setter is not None and setter.id != recipient.id:
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
    msg.line(f"Skip one with `skip <session #>`, stop them with `end-series {s.id}`.")
    msg.choice("End the series", f"end-series {s.id}", ChoiceStyle.DANGER)
    invite = series_invite(series, occurrences, ctx.now, names_of(mentor, member))
    return ctx.dm(recipient, msg.build(attachments=(invite,)))


@renders(SESSION_SERIES_ENDED)
async def _series_ended(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _load(ctx, nudge)
    if isinstance(found, Stale):
        return found
    s, mentor, member, recipient = found
    ender = member if recipient.id == mentor.id else mentor
    msg = MessageBuilder().mention(ctx.address(ender)).say(
        f" ended the series of sessions (from #{s.id}); "
        f"{int(nudge.payload.get('cancelled', 0))} upcoming session(s) are cancelled."
    )
    invite = await series_attachment(ctx, s, mentor, member)
    if invite is not None:
        msg.line("The calendar update is attached.")
    return ctx.dm(recipient, msg.build(attachments=(invite,) if invite else ()))
