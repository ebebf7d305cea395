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
import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from bot import ladder
from bot import ladder_messages as _messages  # noqa: F401  (registers the renderers)
from bot import quiet_hours as qh
from bot.commands import Command
from bot.context import FlowContext
from bot.domain import Member, Session, SessionState
from bot.errors import NotAllowed, UserError
from bot.flows.registry import MINE_SECTIONS, REPORT_SECTIONS, handles
from bot.followup_commands import (
    AnswerAttendance,
    AttendanceAnswer,
    ChangeFollowups,
    FollowupReply,
    FollowupSwitch,
    RateSession,
    ShowFeedback,
    ThankMentor,
)
from bot.messages import (
    ChoiceStyle,
    FieldKind,
    Form,
    FormField,
    Message,
    MessageBuilder,
    MomentStyle,
    Reply,
    text,
)
from bot.text import bounded, shorten
from bot.textcommands import Args, Verb, after_number, register, session_number
from bot.timezones import parse_until
from storage.store import NewNudge

log = logging.getLogger(__name__)

GROUP = "After sessions"
MAX_NOTE = 1500
MAX_RATING_NOTE = 500
MAX_SNOOZE = timedelta(days=366)
REPORT_DAYS = 30


# -- helpers ------------------------------------------------------------------------------------


async def _my_session(ctx: FlowContext, session_id: int) -> Session:
    session = await ctx.tx.session(ctx.community.id, session_id)
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


async def _other(ctx: FlowContext, session: Session) -> Member:
    other_id = session.member_id if ctx.me.id == session.mentor_id else session.mentor_id
    other = await ctx.tx.member(ctx.community.id, other_id)
    if other is None:
        raise UserError("The other person of that session is no longer here.",
                        "Nothing was changed.")
    return other


def _quiet(ctx: FlowContext, member: Member) -> qh.QuietHours | None:
    return qh.of_member(member, ctx.settings.quiet_hours, ctx.settings.default_timezone)


def _queue(
    ctx: FlowContext,
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
    ctx: FlowContext, kind: str, session: Session, due_at: datetime, recipient: Member,
    payload: Mapping[str, object] | None = None,
) -> datetime:
    """Queue for ``recipient`` at ``due_at`` moved out of their quiet hours; return when."""
    at = qh.next_allowed(due_at, _quiet(ctx, recipient))
    _queue(ctx, kind, session, at, recipient=recipient, payload=payload)
    return at


# -- "Did it happen?" ---------------------------------------------------------------------------


@handles(AnswerAttendance)
async def answer_attendance(cmd: AnswerAttendance, ctx: FlowContext) -> Reply:
    session = await _my_session(ctx, cmd.session_id)
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
    answers = await ctx.tx.attendance(session.id, session.sequence)
    mine = next((a for a in answers if a.member_id == ctx.me.id), None)
    if mine is not None:
        raise UserError(
            f"You already answered for session #{session.id}: "
            f"“{AttendanceAnswer(mine.answer).label}”.",
            "Nothing was changed. If that's wrong, tell the organizers.",
        )
    await ctx.tx.record_attendance(
        ctx.community.id, session.id, ctx.me.id, session.sequence, cmd.answer.value, ctx.now
    )
    other = await _other(ctx, session)
    if cmd.answer is AttendanceAnswer.MET:
        return await _met(ctx, session, other)
    if cmd.answer is AttendanceAnswer.MISSED:
        return await _missed(ctx, session, other)
    return Reply.of(
        MessageBuilder()
        .say(f"Got it, session #{session.id} was moved. Please set the new time so I can "
             f"remind you both: `reschedule {session.id} when: <new time>`.")
        .choice("Reschedule", f"reschedule {session.id}", ChoiceStyle.PRIMARY)
        .build()
    )


async def _met(ctx: FlowContext, session: Session, other: Member) -> Reply:
    if session.state is not SessionState.HELD:
        if not await ctx.tx.set_session_outcome(session.id, session.state, SessionState.HELD,
                                                ctx.now):
            raise UserError(f"Session #{session.id} just changed.", "Please try again.")
        await _plan_followups(ctx, session)
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


async def _plan_followups(ctx: FlowContext, session: Session) -> None:
    """The session is held: check in after ``followup_days`` and ``outcome_days``."""
    mentee = await ctx.tx.member(ctx.community.id, session.member_id)
    if mentee is None:
        return
    end = session.end_at or ctx.now
    _queue_quietly(ctx, ladder.CHECK_IN, session,
                   end + timedelta(days=ctx.settings.followup_days), mentee)
    _queue_quietly(ctx, ladder.OUTCOME, session,
                   end + timedelta(days=ctx.settings.outcome_days), mentee)


async def _missed(ctx: FlowContext, session: Session, other: Member) -> Reply:
    if session.state is SessionState.CONFIRMED and not await ctx.tx.set_session_outcome(
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


def thanks_form(session_id: int) -> Form:
    return Form(
        title="Thank your mentor",
        command=f"thanks {session_id}",
        fields=(
            FormField("note", "Your note (sent to your mentor privately)", FieldKind.LONG_TEXT,
                      max_length=MAX_NOTE),
            FormField("public", "Also share it in the community channel?", FieldKind.CHOICE,
                      options=("no", "yes"), initial="no"),
        ),
        submit_label="Send",
    )


@handles(ThankMentor)
async def thank(cmd: ThankMentor, ctx: FlowContext) -> Reply:
    session = await _my_session(ctx, cmd.session_id)
    if ctx.me.id != session.member_id:
        raise NotAllowed(
            "Thank-you notes are from the mentee to the mentor.",
            "It's kind of you, though! Tell them directly.",
        )
    _require_held(session, "a thank-you note")
    if await ctx.tx.feedback(session.id, author_id=ctx.me.id, kind="thanks"):
        raise UserError(f"You already thanked your mentor for session #{session.id}.",
                        "Nothing was changed.")
    if cmd.note is None:
        return Reply.of(MessageBuilder().say("Write your thank-you note:")
                        .build(form=thanks_form(session.id)))
    note = bounded(cmd.note, what="thank-you note", max_length=MAX_NOTE, multiline=True)
    mentor = await _other(ctx, session)
    public = cmd.public and bool(ctx.settings.intros_channel)
    feedback = await ctx.tx.add_feedback(
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


def rating_form(session_id: int) -> Form:
    return Form(
        title="Rate the session",
        command=f"rate {session_id}",
        fields=(
            FormField("rating", "How useful was it? (1-5)", FieldKind.CHOICE,
                      options=("1", "2", "3", "4", "5")),
            FormField("note", "A note for the organizers (optional)", FieldKind.LONG_TEXT,
                      required=False, max_length=MAX_RATING_NOTE),
        ),
        submit_label="Rate",
    )


@handles(RateSession)
async def rate(cmd: RateSession, ctx: FlowContext) -> Reply:
    session = await _my_session(ctx, cmd.session_id)
    _require_held(session, "rating it")
    if await ctx.tx.feedback(session.id, author_id=ctx.me.id, kind="rating"):
        raise UserError(f"You already rated session #{session.id}.", "Nothing was changed.")
    if cmd.rating is None:
        return Reply.of(MessageBuilder().say("How useful was the session?")
                        .build(form=rating_form(session.id)))
    note = (
        bounded(cmd.note, what="note", max_length=MAX_RATING_NOTE, multiline=True)
        if cmd.note and cmd.note.strip() else None
    )
    await ctx.tx.add_feedback(
        ctx.community.id, session.id, ctx.me.id, "rating", ctx.now, rating=cmd.rating, text=note
    )
    return Reply.of(text(f"Thanks! Rated {cmd.rating}/5. Only the organizers see ratings."))


def followup_form(session_id: int) -> Form:
    return Form(
        title="Follow up",
        command=f"followup {session_id}",
        fields=(FormField("text", "Your message (passed on privately)", FieldKind.LONG_TEXT,
                          max_length=MAX_NOTE),),
        submit_label="Send",
    )


@handles(FollowupReply)
async def followup_reply(cmd: FollowupReply, ctx: FlowContext) -> Reply:
    session = await _my_session(ctx, cmd.session_id)
    _require_held(session, "following up")
    if cmd.text is None:
        return Reply.of(MessageBuilder().say("What would you like to pass on?")
                        .build(form=followup_form(session.id)))
    note = bounded(cmd.text, what="message", max_length=MAX_NOTE, multiline=True)
    other = await _other(ctx, session)
    feedback = await ctx.tx.add_feedback(
        ctx.community.id, session.id, ctx.me.id, "followup", ctx.now, text=note
    )
    _queue_quietly(ctx, ladder.REPLY_RELAY, session, ctx.now, other,
                   payload={"feedback": feedback.id})
    return Reply.of(MessageBuilder().say("Sent to ").mention(ctx.address(other))
                    .say(" privately.").build())


# -- the member's wishes ------------------------------------------------------------------------


@handles(ChangeFollowups)
async def change_followups(cmd: ChangeFollowups, ctx: FlowContext) -> Reply:
    if cmd.switch is FollowupSwitch.OFF:
        await ctx.tx.update_member(ctx.me.id, followups_off=True, followups_paused_until=None)
        return Reply.of(MessageBuilder().say(
            "Follow-ups are off: no more thank-you prompts or check-ins after sessions. "
            "Reminders before sessions still come. `followups on` turns them back on.")
            .choice("Turn back on", "followups on").build())
    if cmd.switch is FollowupSwitch.ON:
        await ctx.tx.update_member(ctx.me.id, followups_off=False, followups_paused_until=None)
        return Reply.of(text("Follow-ups are on again."))
    until = _snooze_until(cmd.duration or "", ctx)
    await ctx.tx.update_member(ctx.me.id, followups_off=False, followups_paused_until=until)
    return Reply.of(
        MessageBuilder().say("Follow-ups are snoozed until ").moment(until, ctx.my_zone,
                                                                      MomentStyle.DATE_TIME)
        .say(". Nothing is dropped: they come after that. `followups on` ends the snooze.")
        .build()
    )


def _snooze_until(duration: str, ctx: FlowContext) -> datetime:
    value = duration.strip()
    value = value[len("until "):].strip() if value.lower().startswith("until ") else value
    if not value:
        raise UserError("For how long?", "For example: `followups snooze 2 weeks`.")
    if re.match(r"^\d+\s*[a-zA-Z]", value):
        value = "in " + value  # "2 weeks" reads as a duration from now
    until = parse_until(value, ctx.my_zone, ctx.now)
    if until - ctx.now > MAX_SNOOZE:
        raise UserError("That's more than a year.",
                        "Snooze for up to a year, or use `followups off`.")
    return until


# -- organizers ---------------------------------------------------------------------------------


@handles(ShowFeedback)
async def show_feedback(cmd: ShowFeedback, ctx: FlowContext) -> Reply:
    ctx.require_organizer()
    since = ctx.now - timedelta(days=REPORT_DAYS)
    ratings = await ctx.tx.recent_feedback(ctx.community.id, "rating", since)
    missed = await ctx.tx.recent_attendance(ctx.community.id, "missed", since)
    people = await ctx.tx.members_by_ids(
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


async def _report_section(ctx: FlowContext) -> list[str]:
    since = ctx.now - timedelta(days=REPORT_DAYS)
    counts = await ctx.tx.feedback_counts(ctx.community.id, since)
    average = await ctx.tx.average_rating(ctx.community.id, since)
    missed = await ctx.tx.recent_attendance(ctx.community.id, "missed", since, limit=1000)
    rated = counts.get("rating", 0)
    rating_text = f"{rated} rating(s), average {average:.1f}/5" if average is not None and rated \
        else "no ratings"
    return [
        f"After sessions (last {REPORT_DAYS} days): {rating_text}, "
        f"{counts.get('thanks', 0)} thank-you note(s), {counts.get('followup', 0)} follow-up "
        f"repl(ies), {len({a.session_id for a in missed})} session(s) reported as not "
        "happened (type `feedback` for details)"
    ]


async def _mine_section(ctx: FlowContext) -> list[Message]:
    """Sessions that ended lately and still wait for my "Did it happen?" answer.

    Why in `my`: it is where a member catches up when a private message didn't reach them.
    """
    since = ctx.now - timedelta(days=REPORT_DAYS)
    ended = [
        s for s in await ctx.tx.sessions_of(
            ctx.community.id, ctx.me.id,
            states=[SessionState.CONFIRMED, SessionState.HELD, SessionState.MISSED], limit=500)
        if s.end_at is not None and since <= s.end_at <= ctx.now
    ]
    waiting = []
    for s in ended:
        answers = await ctx.tx.attendance(s.id, s.sequence)
        if all(a.member_id != ctx.me.id for a in answers):
            waiting.append(s)
    if not waiting:
        return []
    msg = MessageBuilder().strong("Did these sessions happen?")
    for s in waiting[-5:]:
        assert s.start_at is not None
        msg.line(f"  #{s.id} on ").moment(s.start_at, ctx.my_zone).say(
            f": `met {s.id}`, `missed {s.id}` or `moved {s.id}`")
        msg.choice(f"Met (#{s.id})", f"met {s.id}")
    return [msg.build()]


MINE_SECTIONS.append(_mine_section)
REPORT_SECTIONS.append(_report_section)


# -- typed commands -----------------------------------------------------------------------------


def _yes_no(value: str | None) -> bool:
    if value is None or not value.strip():
        return False
    answer = value.strip().lower()
    if answer in {"yes", "y", "true", "1", "public"}:
        return True
    if answer in {"no", "n", "false", "0", "private"}:
        return False
    raise UserError(f"“public:” should be yes or no, not “{shorten(value, 20)}”.",
                    "For example: `thanks 12 Thank you! public: yes`.")


def _thanks(a: Args) -> Command:
    session_id = session_number(a.rest, "thanks 12 Thank you so much! public: yes")
    note = a.get("note") or after_number(a.rest) or None
    return ThankMentor(session_id, note, _yes_no(a.get("public")))


def _rate(a: Args) -> Command:
    session_id = session_number(a.rest, "rate 12 5 very helpful")
    after = after_number(a.rest)
    raw = a.get("rating") or (after.split(maxsplit=1)[0] if after else "")
    if not raw:
        return RateSession(session_id)
    value = raw.removesuffix("/5")
    if not value.isdigit() or not 1 <= int(value) <= 5:
        raise UserError(f"A rating is a whole number from 1 to 5, not “{shorten(raw, 20)}”.",
                        f"For example: `rate {session_id} 4 clear and practical`.")
    note = a.get("note") or (after_number(after) if not a.get("rating") else "") or None
    return RateSession(session_id, int(value), note)


def _followups(a: Args) -> Command:
    parts = a.rest.strip().split(maxsplit=1)
    word = parts[0].lower() if parts else ""
    try:
        switch = FollowupSwitch(word)
    except ValueError:
        raise UserError(
            "Say `followups off`, `followups on` or `followups snooze 2 weeks`.",
            "Follow-ups are the thank-you prompts and check-ins after sessions.",
        ) from None
    return ChangeFollowups(switch, parts[1] if len(parts) > 1 else None)


def _attendance(answer: AttendanceAnswer) -> Verb:
    return Verb(
        answer.value, f"{answer.value} <session #>",
        f"Answer “Did it happen?” with “{answer.label}”.",
        lambda a: AnswerAttendance(session_number(a.rest, f"{answer.value} 12"), answer),
        group=GROUP,
    )


for _verb in (
    _attendance(AttendanceAnswer.MET),
    _attendance(AttendanceAnswer.MISSED),
    _attendance(AttendanceAnswer.MOVED),
    Verb("thanks", "thanks <session #> <note> [public: yes]",
         "Thank your mentor (privately; publicly too if you say so).", _thanks,
         group=GROUP, labels=("note", "public")),
    Verb("rate", "rate <session #> <1-5> [note]",
         "Rate a session privately (only organizers see it).", _rate,
         group=GROUP, labels=("rating", "note")),
    Verb("followup", "followup <session #> <message>",
         "Tell the other person how it went since; I pass it on.",
         lambda a: FollowupReply(session_number(a.rest, "followup 12 I tried it and it worked"),
                                 a.get("text") or after_number(a.rest) or None),
         group=GROUP, labels=("text",)),
    Verb("followups", "followups off|on|snooze <how long>",
         "Turn the after-session follow-ups off or on, or snooze them.", _followups,
         group=GROUP),
    Verb("feedback", "feedback", "Organizers: recent ratings and sessions that didn't happen.",
         lambda a: ShowFeedback(), group="Organizers"),
):
    register(_verb)
