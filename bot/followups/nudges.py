"""What the follow-ups after a session say: the thank-you prompt, relays of thanks and
replies, the public shout-out, the +7-day check-in, the +30-day outcome, the no-show report.

Each renderer checks the current state first and raises ``Stale`` when the nudge no longer
applies (the session was not held after all, the note is gone, the person already thanked and
rated). When they may arrive (quiet hours, snoozes, "follow-ups off") is each kind's declared
timing, applied by the engine.
"""

from __future__ import annotations

import logging

from bot.domain import Member, Nudge, SessionState
from bot.messages import ChoiceStyle, MessageBuilder
from bot.nudges.kinds import Outgoing, RenderContext, Rendered, Stale, Timing, nudge_kind
from bot.ports import ChannelPost
from bot.sessions import ladder
from bot.sessions.nudges import Loaded, load_session
from bot.text import shorten

log = logging.getLogger(__name__)


# -- after "Met" -------------------------------------------------------------------------------


async def _held(ctx: RenderContext, nudge: Nudge) -> Loaded:
    found = await load_session(ctx, nudge)
    if found.session.state is not SessionState.HELD:
        raise Stale(f"session {found.session.state.value}, not held")
    if found.recipient is None:
        raise Stale("no recipient")
    return found


@nudge_kind(ladder.THANKS_PROMPT, timing=Timing.FOLLOWUP, label="thank-you prompt")
async def thanks_prompt(ctx: RenderContext, nudge: Nudge) -> Rendered:
    found = await _held(ctx, nudge)
    s, mentee = found.session, found.mentee
    mine = await ctx.tx.followups.feedback(s.id, author_id=mentee.id)
    thanked = any(f.kind == "thanks" for f in mine)
    rated = any(f.kind == "rating" for f in mine)
    if thanked and rated:
        raise Stale("already thanked and rated")
    msg = MessageBuilder().say("Glad your session with ").mention(ctx.address(found.mentor))
    msg.say(" happened!")
    if not thanked:
        msg.line("Want to send them a thank-you note? I'll pass it on privately "
                 "(and share it in the community channel only if you tick that).")
        msg.line("Type ").hint(f"thanks {s.id} <your note>").say(" (add ").hint("public: yes")
        msg.say(" to share it).")
        msg.choice("Send a thank-you", f"thanks {s.id}", ChoiceStyle.PRIMARY)
    if not rated:
        msg.line("How useful was it, 1 to 5? Only the organizers see ratings: ").hint(
            f"rate {s.id} <1-5> [note]").say(".")
        msg.choice("Rate the session", f"rate {s.id}")
    return ctx.dm(mentee, msg.build())


async def _feedback_and_people(
    ctx: RenderContext, nudge: Nudge
) -> tuple[Loaded, str, Member]:
    found = await load_session(ctx, nudge)
    feedback = await ctx.tx.followups.feedback_by_id(
        ctx.community.id, int(nudge.payload.get("feedback", 0))
    )
    if feedback is None or feedback.session_id != found.session.id or not feedback.text:
        raise Stale("note no longer exists")
    author = found.mentor if feedback.author_id == found.mentor.id else found.mentee
    return found, feedback.text, author


@nudge_kind(ladder.THANKS_RELAY, timing=Timing.PROMPT, label="thank-you passed on")
async def thanks_relay(ctx: RenderContext, nudge: Nudge) -> Rendered:
    got = await _feedback_and_people(ctx, nudge)
    found, note, author = got
    mentor = found.mentor
    msg = MessageBuilder().mention(ctx.address(author)).say(
        f" sent you a thank-you for your session #{found.session.id}:").quote(note)
    msg.say("Thank you for mentoring!")
    return ctx.dm(mentor, msg.build())


@nudge_kind(ladder.SHOUT_OUT, label="public thank-you")
async def shout_out(ctx: RenderContext, nudge: Nudge) -> Rendered:
    got = await _feedback_and_people(ctx, nudge)
    found, note, author = got
    channel = nudge.channel or ctx.settings.intros_channel
    if not channel:
        raise Stale("no public channel configured")
    msg = (
        MessageBuilder()
        .say("🎉 A thank-you from ")
        .mention(ctx.address(author))
        .say(" to their mentor ")
        .mention(ctx.address(found.mentor), ping=True)
        .say(": “")
        .user_text(note)
        .say("”")
    )
    return Outgoing(ChannelPost(channel), msg.build())


@nudge_kind(ladder.CHECK_IN, timing=Timing.FOLLOWUP, label="check-in after a week")
async def check_in(ctx: RenderContext, nudge: Nudge) -> Rendered:
    found = await _held(ctx, nudge)
    s, mentee, mentor = found.session, found.mentee, found.mentor
    msg = MessageBuilder().say(f"It's been {ctx.settings.followup_days} days since your "
                               f"session #{s.id} with ").mention(ctx.address(mentor))
    msg.say(" about “").user_text(shorten(s.topic, 80)).say("”.")
    msg.line("Did you get to try what you discussed? Anything to tell your mentor?")
    msg.line("Type ").hint(f"followup {s.id} <your message>").say(" and I'll pass it on. (")
    msg.hint("followups off").say(" stops these questions.)")
    msg.choice(shorten(f"Reply to {mentor.display_name}", 40), f"followup {s.id}",
               ChoiceStyle.PRIMARY)
    msg.choice("Remind me in 2 weeks", "followups snooze 2 weeks")
    return ctx.dm(mentee, msg.build())


@nudge_kind(ladder.OUTCOME, timing=Timing.FOLLOWUP, label="outcome after a month")
async def outcome(ctx: RenderContext, nudge: Nudge) -> Rendered:
    found = await _held(ctx, nudge)
    s, mentee, mentor = found.session, found.mentee, found.mentor
    msg = MessageBuilder().say("About a month ago you met ").mention(ctx.address(mentor))
    msg.say(f" (session #{s.id}, “").user_text(shorten(s.topic, 80)).say("”).")
    msg.line("How did it turn out? If you'd like to keep going, book the next session.")
    # No typed form of the mentor here: `<member:…>` is a button's internal reference, not
    # something a person should read. The button books; the text offers the reply.
    msg.line("Use the button to book it; ").hint(f"followup {s.id} <message>").say(
        " tells your mentor how it went.")
    msg.choice("Book the next session", f"book <member:{mentor.platform_user_id}>",
               ChoiceStyle.PRIMARY)
    msg.choice(shorten(f"Tell {mentor.display_name}", 40), f"followup {s.id}")
    return ctx.dm(mentee, msg.build())


@nudge_kind(ladder.REPLY_RELAY, timing=Timing.PROMPT, label="follow-up passed on")
async def reply_relay(ctx: RenderContext, nudge: Nudge) -> Rendered:
    got = await _feedback_and_people(ctx, nudge)
    found, note, author = got
    reader = found.other(author)
    msg = MessageBuilder().mention(ctx.address(author)).say(
        f" followed up on your session #{found.session.id}:").quote(note)
    msg.say("Reply with ").hint(f"followup {found.session.id} <message>").say(".")
    msg.choice("Reply", f"followup {found.session.id}")
    return ctx.dm(reader, msg.build())


@nudge_kind(ladder.NO_SHOW, label="no-show report")
async def no_show(ctx: RenderContext, nudge: Nudge) -> Rendered:
    found = await load_session(ctx, nudge)
    channel = nudge.channel or ctx.settings.organizer_channel
    if not channel:
        raise Stale("no organizer channel configured")
    s = found.session
    reporter = found.mentor if nudge.payload.get("by") == found.mentor.id else found.mentee
    msg = MessageBuilder().say(f"No-show report (private): session #{s.id} of ")
    msg.mention(ctx.address(found.mentor)).say(" (mentor) with ").mention(
        ctx.address(found.mentee))
    if s.start_at is not None:
        msg.say(" on ").moment(s.start_at, ctx.settings.default_timezone)
    msg.say(": ").mention(ctx.address(reporter)).say(" says it didn't happen. Type ")
    msg.hint("feedback").say(" for the recent ones.")
    return Outgoing(ChannelPost(channel), msg.build())


KINDS = (thanks_prompt, thanks_relay, shout_out, check_in, outcome, reply_relay, no_show)
