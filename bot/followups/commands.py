"""After a session: "Did it happen?", thanks, ratings, follow-ups, and the member's wishes.

Answers are recorded per person and per time of the session (a session moved and held later is
asked about again). The first "Met" marks the session HELD and plans the follow-ups
(``followup_days`` and ``outcome_days`` after the end, moved out of the mentee's quiet hours);
"Met" from the mentee also invites a thank-you note and a rating. "Didn't happen" marks it
MISSED (unless someone said "Met") and is recorded privately for organizers. "We moved it"
changes nothing but points to ``reschedule``.

Thank-you notes and follow-up replies are relayed privately; a thank-you is posted publicly only
when the mentee asks (``public: yes``), with the note as user text (never markup, never a ping).
Ratings are private: only organizers see them (``feedback``, ``report``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import quiet_hours as qh
from bot.command import Need, ParamError, Role, Source, command, param
from bot.context import CommandContext
from bot.domain import Member, NewNudge, Session, SessionState
from bot.errors import NotAllowed, UserError
from bot.mentorships.lifecycle import after_session_held
from bot.messages import ChoiceStyle, Message, MessageBuilder, MomentStyle, Reply, text
from bot.sessions import ladder
from bot.text import shorten

log = logging.getLogger(__name__)

GROUP = "After sessions"
MAX_NOTE = 1500
MAX_RATING_NOTE = 500
MAX_SNOOZE = timedelta(days=366)
REPORT_DAYS = 30


# -- helpers ------------------------------------------------------------------------------------


async def _my_session(ctx: CommandContext, session_id: int) -> Session:
    session = await ctx.tx.sessions.get(ctx.community.id, session_id)
    if session is None or ctx.me.id not in (session.mentor_id, session.member_id):
        raise NotAllowed(
            f"Session #{session_id} isn't one of yours.",
            "Type `sessions` to see yours and their numbers.",
        )
    return session


def _not_cancelled(session: Session) -> None:
    if session.state is SessionState.CANCELLED:
        raise UserError(
            f"Session #{session.id} was cancelled, so there's nothing to follow up.",
            "Nothing was changed.",
        )


def _require_held(session: Session, what: str) -> None:
    _not_cancelled(session)
    if session.state is not SessionState.HELD:
        raise UserError(
            f"Session #{session.id} hasn't been marked as held yet, so {what} has to wait.",
            f"If you met, say so first: `met {session.id}`.",
        )


async def _other(ctx: CommandContext, session: Session) -> Member:
    other_id = session.member_id if ctx.me.id == session.mentor_id else session.mentor_id
    other = await ctx.tx.members.get(ctx.community.id, other_id)
    if other is None:
        raise UserError("The other person of that session is no longer here.",
                        "Nothing was changed.")
    return other


def _quiet(ctx: CommandContext, member: Member) -> qh.QuietHours | None:
    return qh.of_member(member, ctx.settings.quiet_hours, ctx.settings.default_timezone)


def _queue(
    ctx: CommandContext,
    kind: str,
    session: Session,
    due_at: datetime,
    *,
    recipient: Member | None = None,
    channel: str | None = None,
    payload: Mapping[str, object] | None = None,
) -> None:
    ctx.outbox.append(
        NewNudge(
            community_id=ctx.community.id,
            kind=kind,
            due_at=due_at,
            recipient_id=recipient.id if recipient else None,
            channel=channel,
            session_id=session.id,
            payload={"sequence": session.sequence, **(payload or {})},
        )
    )


def _queue_quietly(
    ctx: CommandContext, kind: str, session: Session, due_at: datetime, recipient: Member,
    payload: Mapping[str, object] | None = None,
) -> datetime:
    """Queue for ``recipient`` at ``due_at`` moved out of their quiet hours; return when."""
    at = qh.next_allowed(due_at, _quiet(ctx, recipient))
    _queue(ctx, kind, session, at, recipient=recipient, payload=payload)
    return at


# -- "Did it happen?" ---------------------------------------------------------------------------


class AttendanceAnswer:
    """The three answers to "Did it happen?", as stored."""

    MET = "met"
    MISSED = "missed"
    MOVED = "moved"


ANSWER_LABELS = {AttendanceAnswer.MET: "Met", AttendanceAnswer.MISSED: "Didn't happen",
                 AttendanceAnswer.MOVED: "We moved it"}


@dataclass(frozen=True)
class Met:
    session_id: int = param.number("Session #", what="session", source=Source.MY_SESSIONS)


@command(Met, "met", group=GROUP, summary="Answer “Did it happen?” with “Met”.",
         examples=("met 12",))
async def met(cmd: Met, ctx: CommandContext) -> Reply:
    return await answer_attendance(ctx, cmd.session_id, AttendanceAnswer.MET)


@dataclass(frozen=True)
class Missed:
    session_id: int = param.number("Session #", what="session", source=Source.MY_SESSIONS)


@command(Missed, "missed", group=GROUP,
         summary="Answer “Did it happen?” with “Didn't happen”.", examples=("missed 12",))
async def missed(cmd: Missed, ctx: CommandContext) -> Reply:
    return await answer_attendance(ctx, cmd.session_id, AttendanceAnswer.MISSED)


@dataclass(frozen=True)
class Moved:
    session_id: int = param.number("Session #", what="session", source=Source.MY_SESSIONS)


@command(Moved, "moved", group=GROUP,
         summary="Answer “Did it happen?” with “We moved it”.", examples=("moved 12",))
async def moved(cmd: Moved, ctx: CommandContext) -> Reply:
    return await answer_attendance(ctx, cmd.session_id, AttendanceAnswer.MOVED)


async def answer_attendance(ctx: CommandContext, session_id: int, answer: str) -> Reply:
    session = await _my_session(ctx, session_id)
    _not_cancelled(session)
    if session.start_at is None or session.state is SessionState.PROPOSED:
        raise UserError(f"Session #{session.id} was never confirmed, so it couldn't happen yet.",
                        "Nothing was changed.")
    if session.start_at > ctx.now:
        raise UserError(
            f"Session #{session.id} hasn't started yet.",
            f"To move it, use `reschedule {session.id} when: …`; to call it off, "
            f"`cancel {session.id}`.",
        )
    answers = await ctx.tx.followups.attendance(session.id, session.sequence)
    mine = next((a for a in answers if a.member_id == ctx.me.id), None)
    if mine is not None:
        raise UserError(
            f"You already answered for session #{session.id}: "
            f"“{ANSWER_LABELS.get(mine.answer, mine.answer)}”.",
            "Nothing was changed. If that's wrong, tell the organizers.",
        )
    await ctx.tx.followups.record_attendance(
        ctx.community.id, session.id, ctx.me.id, session.sequence, answer, ctx.now
    )
    other = await _other(ctx, session)
    if answer == AttendanceAnswer.MET:
        return await _met(ctx, session, other)
    if answer == AttendanceAnswer.MISSED:
        return await _missed(ctx, session, other)
    return Reply.of(
        MessageBuilder()
        .say(f"Got it, session #{session.id} was moved. Please set the new time so I can "
             "remind you both: ").hint(f"reschedule {session.id} when: <new time>").say(".")
        .choice("Reschedule", f"reschedule {session.id}", ChoiceStyle.PRIMARY)
        .build()
    )


async def _met(ctx: CommandContext, session: Session, other: Member) -> Reply:
    if session.state is not SessionState.HELD:
        if not await ctx.tx.sessions.set_outcome(session.id, session.state, SessionState.HELD,
                                                ctx.now):
            raise UserError(f"Session #{session.id} just changed.", "Please try again.")
        await _plan_followups(ctx, session)
        await after_session_held(ctx, session)
    msg = MessageBuilder().say(f"Wonderful, session #{session.id} is recorded as held.")
    if ctx.me.id == session.member_id:
        at = _queue_quietly(ctx, ladder.THANKS_PROMPT, session, ctx.now, ctx.me)
        if at > ctx.now:
            msg.say(" I'll ask you about a thank-you note and a rating at ").moment(
                at, ctx.my_zone).say(" (after your quiet hours).")
        else:
            msg.say(" One more thing is on its way: a thank-you note and a rating, if you like.")
    else:
        msg.say(" Thank you for mentoring!")
    return Reply.of(msg.build())


async def _plan_followups(ctx: CommandContext, session: Session) -> None:
    """The session is held: check in after ``followup_days`` and ``outcome_days``."""
    mentee = await ctx.tx.members.get(ctx.community.id, session.member_id)
    if mentee is None:
        return
    end = session.end_at or ctx.now
    _queue_quietly(ctx, ladder.CHECK_IN, session,
                   end + timedelta(days=ctx.settings.followup_days), mentee)
    _queue_quietly(ctx, ladder.OUTCOME, session,
                   end + timedelta(days=ctx.settings.outcome_days), mentee)


async def _missed(ctx: CommandContext, session: Session, other: Member) -> Reply:
    if session.state is SessionState.CONFIRMED and not await ctx.tx.sessions.set_outcome(
        session.id, SessionState.CONFIRMED, SessionState.MISSED, ctx.now
    ):
        raise UserError(f"Session #{session.id} just changed.", "Please try again.")
    if ctx.settings.organizer_channel:
        _queue(ctx, ladder.NO_SHOW, session, ctx.now, channel=ctx.settings.organizer_channel,
               payload={"by": ctx.me.id})
    return Reply.of(
        MessageBuilder()
        .say(f"Sorry session #{session.id} didn't happen. I've noted it privately for the "
             "organizers (nobody else sees it). Want to try another time?")
        .choice("Book another time", f"book <member:{other.platform_user_id}>",
                ChoiceStyle.PRIMARY)
        .build()
    )


# -- thanks, ratings, follow-up replies ---------------------------------------------------------


@dataclass(frozen=True)
class ThankMentor:
    """The mentee's thank-you note, relayed privately; shared publicly only if ``public``."""

    session_id: int = param.number("Session #", what="session", source=Source.MY_SESSIONS)
    note: str | None = param.text("Your note (sent to your mentor privately)", need=Need.FORM,
                                  positional=True, aliases=("note",), long=True,
                                  max_length=MAX_NOTE, what="thank-you note", shown="note")
    public: bool = param.flag("Also share it in the community channel?")


@command(ThankMentor, "thanks", group=GROUP, form_title="Thank your mentor",
         summary="Thank your mentor (privately; publicly too if you say so).",
         examples=("thanks 12 That was so helpful, thank you! public: yes",))
async def thank(cmd: ThankMentor, ctx: CommandContext) -> Reply:
    session = await _my_session(ctx, cmd.session_id)
    if ctx.me.id != session.member_id:
        raise NotAllowed(
            "Thank-you notes are from the mentee to the mentor.",
            "It's kind of you, though! Tell them directly.",
        )
    _require_held(session, "a thank-you note")
    if await ctx.tx.followups.feedback(session.id, author_id=ctx.me.id, kind="thanks"):
        raise UserError(f"You already thanked your mentor for session #{session.id}.",
                        "Nothing was changed.")
    if cmd.note is None:
        return Reply.of(MessageBuilder().say("Write your thank-you note:")
                        .build(form=ctx.form(cmd)))
    note = cmd.note
    mentor = await _other(ctx, session)
    public = cmd.public and bool(ctx.settings.intros_channel)
    feedback = await ctx.tx.followups.add_feedback(
        ctx.community.id, session.id, ctx.me.id, "thanks", ctx.now, text=note, public=public
    )
    _queue_quietly(ctx, ladder.THANKS_RELAY, session, ctx.now, mentor,
                   payload={"feedback": feedback.id})
    msg = MessageBuilder().say("Your thank-you is on its way to ").mention(ctx.address(mentor))
    if public:
        _queue(ctx, ladder.SHOUT_OUT, session, ctx.now, channel=ctx.settings.intros_channel,
               payload={"feedback": feedback.id})
        msg.say(", and it will be shared in the community channel.")
    elif cmd.public:
        msg.say(" privately. (This community has no public channel set up, so it stays "
                "private.)")
    else:
        msg.say(" privately.")
    return Reply.of(msg.build())


@dataclass(frozen=True)
class RateSession:
    """A private 1-5 rating with an optional note; only organizers see it."""

    session_id: int = param.number("Session #", what="session", source=Source.MY_SESSIONS)
    rating: int | None = param.integer("How useful was it? (1-5)", low=1, high=5,
                                       need=Need.FORM, positional=True, what="rating", shown="1-5",
                                       choices=("1", "2", "3", "4", "5"))
    note: str | None = param.text("A note for the organizers (optional)", positional=True,
                                  aliases=("note",), long=True, max_length=MAX_RATING_NOTE,
                                  what="note")


@command(RateSession, "rate", group=GROUP, form_title="Rate the session", submit_label="Rate",
         summary="Rate a session privately (only organizers see it).",
         examples=("rate 12 5 clear and practical",))
async def rate(cmd: RateSession, ctx: CommandContext) -> Reply:
    session = await _my_session(ctx, cmd.session_id)
    _require_held(session, "rating it")
    if await ctx.tx.followups.feedback(session.id, author_id=ctx.me.id, kind="rating"):
        raise UserError(f"You already rated session #{session.id}.", "Nothing was changed.")
    if cmd.rating is None:
        return Reply.of(MessageBuilder().say("How useful was the session?")
                        .build(form=ctx.form(cmd)))
    note = cmd.note
    await ctx.tx.followups.add_feedback(
        ctx.community.id, session.id, ctx.me.id, "rating", ctx.now, rating=cmd.rating, text=note
    )
    return Reply.of(text(f"Thanks! Rated {cmd.rating}/5. Only the organizers see ratings."))


@dataclass(frozen=True)
class FollowupReply:
    """A reply to a follow-up question, relayed to the other person of the session."""

    session_id: int = param.number("Session #", what="session", source=Source.MY_SESSIONS)
    text: str | None = param.text("Your message (passed on privately)", need=Need.FORM,
                                  positional=True, aliases=("text",), long=True,
                                  max_length=MAX_NOTE, what="message")


@command(FollowupReply, "followup", group=GROUP, form_title="Follow up",
         summary="Tell the other person how it went since; I pass it on.",
         examples=("followup 12 I tried it and it worked!",))
async def followup_reply(cmd: FollowupReply, ctx: CommandContext) -> Reply:
    session = await _my_session(ctx, cmd.session_id)
    _require_held(session, "following up")
    if cmd.text is None:
        return Reply.of(MessageBuilder().say("What would you like to pass on?")
                        .build(form=ctx.form(cmd)))
    note = cmd.text
    other = await _other(ctx, session)
    feedback = await ctx.tx.followups.add_feedback(
        ctx.community.id, session.id, ctx.me.id, "followup", ctx.now, text=note
    )
    _queue_quietly(ctx, ladder.REPLY_RELAY, session, ctx.now, other,
                   payload={"feedback": feedback.id})
    return Reply.of(MessageBuilder().say("Sent to ").mention(ctx.address(other))
                    .say(" privately.").build())


# -- the member's wishes ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeFollowups:
    """``followups off|on|snooze <duration>``: the member's own follow-up preference."""

    switch: str = param.choice("Off, on or snooze", ("off", "on", "snooze"), need=Need.ALWAYS,
                               positional=True, what="choice")
    until: datetime | None = param.date("For how long (or until when)", positional=True,
                                        what="how long")


@command(ChangeFollowups, "followups", group=GROUP,
         summary="Turn the after-session follow-ups off or on, or snooze them.",
         examples=("followups snooze 2 weeks", "followups off"))
async def change_followups(cmd: ChangeFollowups, ctx: CommandContext) -> Reply:
    if cmd.switch == "off":
        await ctx.tx.members.update(ctx.me.id, followups_off=True, followups_paused_until=None)
        return Reply.of(MessageBuilder().say(
            "Follow-ups are off: no more thank-you prompts or check-ins after sessions. "
            "Reminders before sessions still come. ").hint("followups on")
            .say(" turns them back on.")
            .choice("Turn back on", "followups on").build())
    if cmd.switch == "on":
        await ctx.tx.members.update(ctx.me.id, followups_off=False, followups_paused_until=None)
        return Reply.of(text("Follow-ups are on again."))
    if cmd.until is None:
        raise ParamError("until", "For how long?", "For example: `followups snooze 2 weeks`.")
    if cmd.until - ctx.now > MAX_SNOOZE:
        raise ParamError("until", "That's more than a year.",
                         "Snooze for up to a year, or use `followups off`.")
    until = cmd.until
    await ctx.tx.members.update(ctx.me.id, followups_off=False, followups_paused_until=until)
    return Reply.of(
        MessageBuilder().say("Follow-ups are snoozed until ").moment(until, ctx.my_zone,
                                                                      MomentStyle.DATE_TIME)
        .say(". Nothing is dropped: they come after that. ").hint("followups on")
        .say(" ends the snooze.")
        .build()
    )


# -- organizers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShowFeedback:
    """Organizers: recent ratings (with notes) and sessions reported as not happened."""


@command(ShowFeedback, "feedback", group="Organizers", who=Role.ORGANIZER, read_only=True,
         summary="Recent ratings and sessions that didn't happen.")
async def show_feedback(cmd: ShowFeedback, ctx: CommandContext) -> Reply:
    since = ctx.now - timedelta(days=REPORT_DAYS)
    ratings = await ctx.tx.followups.recent_feedback(ctx.community.id, "rating", since)
    missed = await ctx.tx.followups.recent_attendance(ctx.community.id, "missed", since)
    people = await ctx.tx.members.by_ids(
        ctx.community.id, [f.author_id for f in ratings] + [a.member_id for a in missed]
    )
    msg = MessageBuilder().strong(f"Feedback, last {REPORT_DAYS} days (private to organizers)")
    msg.line("Ratings:")
    if not ratings:
        msg.say(" none yet.")
    for f in ratings:
        msg.line(f"  session #{f.session_id}: {f.rating}/5 by ")
        author = people.get(f.author_id)
        if author is not None:
            msg.mention(ctx.address(author))
        if f.text:
            msg.say(" · “").user_text(shorten(f.text, 300)).say("”")
    msg.line("Reported as not happened:")
    if not missed:
        msg.say(" none.")
    for a in missed:
        msg.line(f"  session #{a.session_id}, reported by ")
        reporter = people.get(a.member_id)
        if reporter is not None:
            msg.mention(ctx.address(reporter))
        msg.say(" on ").moment(a.created_at, ctx.my_zone, MomentStyle.DATE)
    return Reply.of(msg.build())


async def followups_report(ctx: CommandContext) -> list[str]:
    since = ctx.now - timedelta(days=REPORT_DAYS)
    counts = await ctx.tx.followups.feedback_counts(ctx.community.id, since)
    average = await ctx.tx.followups.average_rating(ctx.community.id, since)
    missed = await ctx.tx.followups.recent_attendance(ctx.community.id, "missed", since, limit=1000)
    rated = counts.get("rating", 0)
    rating_text = f"{rated} rating(s), average {average:.1f}/5" if average is not None and rated \
        else "no ratings"
    return [
        f"After sessions (last {REPORT_DAYS} days): {rating_text}, "
        f"{counts.get('thanks', 0)} thank-you note(s), {counts.get('followup', 0)} follow-up "
        f"repl(ies), {len({a.session_id for a in missed})} session(s) reported as not "
        "happened (type `feedback` for details)"
    ]


async def unanswered_section(ctx: CommandContext) -> list[Message]:
    """Sessions that ended lately and still wait for my "Did it happen?" answer.

    Why in `my`: it is where a member catches up when a private message didn't reach them.
    """
    since = ctx.now - timedelta(days=REPORT_DAYS)
    ended = [
        s for s in await ctx.tx.sessions.of(
            ctx.community.id, ctx.me.id,
            states=[SessionState.CONFIRMED, SessionState.HELD, SessionState.MISSED], limit=500)
        if s.end_at is not None and since <= s.end_at <= ctx.now
    ]
    waiting = []
    for s in ended:
        answers = await ctx.tx.followups.attendance(s.id, s.sequence)
        if all(a.member_id != ctx.me.id for a in answers):
            waiting.append(s)
    if not waiting:
        return []
    msg = MessageBuilder().strong("Did these sessions happen?")
    for s in waiting[-5:]:
        assert s.start_at is not None
        msg.line(f"  #{s.id} on ").moment(s.start_at, ctx.my_zone).say(": ").hint(f"met {s.id}")
        msg.say(", ").hint(f"missed {s.id}").say(" or ").hint(f"moved {s.id}")
        msg.choice(f"Met (#{s.id})", f"met {s.id}")
    return [msg.build()]


COMMANDS = (met, missed, moved, thank, rate, followup_reply, change_followups, show_feedback)
