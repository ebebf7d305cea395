"""What the ladder's reminders and follow-ups say, decided when each is due.

Every renderer first checks the current state and returns ``Stale(reason)`` if the nudge no
longer applies: the session was cancelled or moved (its ``sequence`` changed), the agenda was
shared, the person already answered, or (for reminders before a session) the session has
already started, as after a long downtime. Follow-ups also honour the recipient's wishes at
send time: turned off → stale; snoozed or inside quiet hours → a fresh copy is queued for the
first allowed moment and this one is recorded as ``Done("postponed until …")``, so nothing
is dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot import ladder
from bot import quiet_hours as qh
from bot.domain import Member, Session, SessionState
from bot.messages import ChoiceStyle, MessageBuilder, MomentStyle
from bot.notifications import Done, Outgoing, RenderContext, Rendered, Stale, renders
from bot.ports import ChannelPost
from bot.text import shorten
from storage.store import NewNudge, NudgeRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    session: Session
    mentor: Member
    mentee: Member
    recipient: Member | None

    def other(self, member: Member) -> Member:
        return self.mentee if member.id == self.mentor.id else self.mentor


async def _load(ctx: RenderContext, nudge: NudgeRow, *, timed: bool = False) -> Loaded | Stale:
    session = await ctx.tx.session(ctx.community.id, nudge.session_id or 0)
    if session is None:
        return Stale("session no longer exists")
    if session.state is SessionState.CANCELLED:
        reason = f": {session.cancel_reason}" if session.cancel_reason else ""
        return Stale("session cancelled" + reason)
    if timed and int(nudge.payload.get("sequence", session.sequence)) != session.sequence:
        return Stale("session moved since this was planned")
    mentor = await ctx.member(session.mentor_id)
    mentee = await ctx.member(session.member_id)
    if mentor is None or mentee is None:
        return Stale("member no longer exists")
    recipient = None
    if nudge.recipient_id is not None:
        recipient = mentor if nudge.recipient_id == mentor.id else (
            mentee if nudge.recipient_id == mentee.id else await ctx.member(nudge.recipient_id)
        )
        if recipient is None:
            return Stale("member no longer exists")
    return Loaded(session, mentor, mentee, recipient)


def _too_late(ctx: RenderContext, s: Session) -> Stale | None:
    """A reminder *before* a session is useless once it has started (e.g. after downtime)."""
    if s.start_at is not None and s.start_at <= ctx.now:
        return Stale("session already started")
    return None


def _postpone(ctx: RenderContext, nudge: NudgeRow, until: datetime, why: str) -> Done:
    ctx.follow_ups.append(
        NewNudge(
            community_id=nudge.community_id,
            kind=nudge.kind,
            due_at=until,
            recipient_id=nudge.recipient_id,
            channel=nudge.channel,
            intro_id=nudge.intro_id,
            session_id=nudge.session_id,
            payload={**nudge.payload, "postponed_from": nudge.id},
        )
    )
    return Done(f"postponed until {until.isoformat()} ({why})")


def _quiet(ctx: RenderContext, member: Member) -> qh.QuietHours | None:
    return qh.of_member(member, ctx.settings.quiet_hours, ctx.settings.default_timezone)


def respect_quiet_hours(ctx: RenderContext, nudge: NudgeRow, member: Member) -> Done | None:
    """Re-check at send time: inside the member's quiet hours, postpone to their end."""
    quiet = _quiet(ctx, member)
    if quiet is not None and quiet.contains(ctx.now):
        return _postpone(ctx, nudge, quiet.next_allowed(ctx.now), "quiet hours")
    return None


def respect_followup_wishes(
    ctx: RenderContext, nudge: NudgeRow, member: Member
) -> Stale | Done | None:
    """Follow-ups turned off → stale; snoozed → postponed to the snooze's end; quiet → later."""
    if member.followups_off:
        return Stale("follow-ups turned off")
    paused = member.followups_paused_until
    if paused is not None and paused > ctx.now:
        until = qh.next_allowed(paused, _quiet(ctx, member))
        return _postpone(ctx, nudge, until, "follow-ups snoozed")
    return respect_quiet_hours(ctx, nudge, member)


def _about(msg: MessageBuilder, ctx: RenderContext, s: Session, reader: Member) -> MessageBuilder:
    msg.say(" about “").user_text(shorten(s.topic, 80)).say("”")
    if s.start_at is not None:
        msg.say(" on ").moment(s.start_at, ctx.zone(reader))
    return msg


# -- before the session ------------------------------------------------------------------------


@renders(ladder.AGENDA_ASK)
async def _agenda_ask(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _load(ctx, nudge)
    if isinstance(found, Stale):
        return found
    s, mentee = found.session, found.mentee
    if s.agenda:
        return Stale("agenda already shared")
    if (late := _too_late(ctx, s)) is not None:
        return late
    msg = MessageBuilder().say(f"About your session #{s.id} with ").mention(
        ctx.address(found.mentor))
    msg.say(" (“").user_text(shorten(s.topic, 80)).say("”): to make the most of it, share some "
                                                        "context in advance.")
    msg.line("What do you want to get out of it? What have you tried so far? "
             "Links or materials are welcome too; your mentor sees them before you meet.")
    msg.line(f"Type `agenda {s.id} <your notes>`, or use the button.")
    msg.choice("Add an agenda", f"agenda {s.id}", ChoiceStyle.PRIMARY)
    return ctx.dm(mentee, msg.build())


@renders(ladder.AGENDA_REMINDER)
async def _agenda_reminder(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _load(ctx, nudge, timed=True)
    if isinstance(found, Stale):
        return found
    s, mentee = found.session, found.mentee
    if s.state is not SessionState.CONFIRMED:
        return Stale(f"session {s.state.value}")
    if s.agenda:
        return Stale("agenda already shared")
    if (late := _too_late(ctx, s)) is not None:
        return late
    msg = MessageBuilder().say(f"Your session #{s.id} with ").mention(ctx.address(found.mentor))
    _about(msg, ctx, s, mentee).say(" has no agenda yet.")
    msg.line("A few lines help a lot: what you'd like to cover, what you tried, any links. "
             f"Type `agenda {s.id} <your notes>`.")
    msg.choice("Add an agenda", f"agenda {s.id}", ChoiceStyle.PRIMARY)
    return ctx.dm(mentee, msg.build())


@renders(ladder.MENTOR_REMINDER)
async def _mentor_reminder(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _load(ctx, nudge, timed=True)
    if isinstance(found, Stale):
        return found
    s, mentor = found.session, found.mentor
    if s.state is not SessionState.CONFIRMED or s.start_at is None:
        return Stale(f"session {s.state.value}")
    if (late := _too_late(ctx, s)) is not None:
        return late
    msg = MessageBuilder().say(f"Reminder: session #{s.id} with ").mention(
        ctx.address(found.mentee))
    _about(msg, ctx, s, mentor).say(f" ({s.duration_minutes} min).")
    if s.agenda:
        msg.line("Their agenda:").quote(s.agenda)
    else:
        msg.line("No agenda shared yet.")
    msg.choice("Reschedule", f"reschedule {s.id}")
    msg.choice("Cancel", f"cancel {s.id}", ChoiceStyle.DANGER)
    return ctx.dm(mentor, msg.build())


@renders(ladder.BOTH_REMINDER)
async def _both_reminder(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _load(ctx, nudge, timed=True)
    if isinstance(found, Stale):
        return found
    s, reader = found.session, found.recipient
    if reader is None:
        return Stale("no recipient")
    if s.state is not SessionState.CONFIRMED or s.start_at is None:
        return Stale(f"session {s.state.value}")
    if (late := _too_late(ctx, s)) is not None:
        return late
    msg = MessageBuilder().say(f"Soon: session #{s.id} with ").mention(
        ctx.address(found.other(reader)))
    msg.say(" starts at ").moment(s.start_at, ctx.zone(reader), MomentStyle.TIME)
    msg.say(f" ({s.duration_minutes} min). Have a great conversation!")
    return ctx.dm(reader, msg.build())


# -- "Did it happen?" ---------------------------------------------------------------------------


@renders(ladder.DID_IT_HAPPEN)
async def _did_it_happen(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _load(ctx, nudge, timed=True)
    if isinstance(found, Stale):
        return found
    s, reader = found.session, found.recipient
    if reader is None or s.start_at is None:
        return Stale("no recipient or time")
    if s.state is SessionState.PROPOSED:
        return Stale("session was never confirmed")
    answers = await ctx.tx.attendance(s.id, s.sequence)
    if any(a.member_id == reader.id for a in answers):
        return Stale("already answered")
    later = respect_quiet_hours(ctx, nudge, reader)
    if later is not None:
        return later
    msg = MessageBuilder().say(f"Did your session #{s.id} with ").mention(
        ctx.address(found.other(reader)))
    msg.say(" on ").moment(s.start_at, ctx.zone(reader)).say(" happen?")
    msg.line(f"(Or type `met {s.id}`, `missed {s.id}` or `moved {s.id}`.)")
    msg.choice("Met", f"met {s.id}", ChoiceStyle.PRIMARY)
    msg.choice("Didn't happen", f"missed {s.id}")
    msg.choice("We moved it", f"moved {s.id}")
    return ctx.dm(reader, msg.build())


# -- after "Met" -------------------------------------------------------------------------------


async def _held(ctx: RenderContext, nudge: NudgeRow) -> Loaded | Stale:
    found = await _load(ctx, nudge)
    if isinstance(found, Stale):
        return found
    if found.session.state is not SessionState.HELD:
        return Stale(f"session {found.session.state.value}, not held")
    if found.recipient is None:
        return Stale("no recipient")
    return found


@renders(ladder.THANKS_PROMPT)
async def _thanks_prompt(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _held(ctx, nudge)
    if isinstance(found, Stale):
        return found
    s, mentee = found.session, found.mentee
    mine = await ctx.tx.feedback(s.id, author_id=mentee.id)
    thanked = any(f.kind == "thanks" for f in mine)
    rated = any(f.kind == "rating" for f in mine)
    if thanked and rated:
        return Stale("already thanked and rated")
    wait = respect_followup_wishes(ctx, nudge, mentee)
    if wait is not None:
        return wait
    msg = MessageBuilder().say("Glad your session with ").mention(ctx.address(found.mentor))
    msg.say(" happened!")
    if not thanked:
        msg.line("Want to send them a thank-you note? I'll pass it on privately "
                 "(and share it in the community channel only if you tick that).")
        msg.line(f"Type `thanks {s.id} <your note>` (add `public: yes` to share it).")
        msg.choice("Send a thank-you", f"thanks {s.id}", ChoiceStyle.PRIMARY)
    if not rated:
        msg.line(f"How useful was it, 1 to 5? Only the organizers see ratings: "
                 f"`rate {s.id} <1-5> [note]`.")
        msg.choice("Rate the session", f"rate {s.id}")
    return ctx.dm(mentee, msg.build())


async def _feedback_and_people(
    ctx: RenderContext, nudge: NudgeRow
) -> tuple[Loaded, str, Member] | Stale:
    found = await _load(ctx, nudge)
    if isinstance(found, Stale):
        return found
    feedback = await ctx.tx.feedback_by_id(ctx.community.id, int(nudge.payload.get("feedback", 0)))
    if feedback is None or feedback.session_id != found.session.id or not feedback.text:
        return Stale("note no longer exists")
    author = found.mentor if feedback.author_id == found.mentor.id else found.mentee
    return found, feedback.text, author


@renders(ladder.THANKS_RELAY)
async def _thanks_relay(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    got = await _feedback_and_people(ctx, nudge)
    if isinstance(got, Stale):
        return got
    found, note, author = got
    mentor = found.mentor
    later = respect_quiet_hours(ctx, nudge, mentor)
    if later is not None:
        return later
    msg = MessageBuilder().mention(ctx.address(author)).say(
        f" sent you a thank-you for your session #{found.session.id}:").quote(note)
    msg.say("Thank you for mentoring!")
    return ctx.dm(mentor, msg.build())


@renders(ladder.SHOUT_OUT)
async def _shout_out(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    got = await _feedback_and_people(ctx, nudge)
    if isinstance(got, Stale):
        return got
    found, note, author = got
    channel = nudge.channel or ctx.settings.intros_channel
    if not channel:
        return Stale("no public channel configured")
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


@renders(ladder.CHECK_IN)
async def _check_in(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _held(ctx, nudge)
    if isinstance(found, Stale):
        return found
    s, mentee, mentor = found.session, found.mentee, found.mentor
    wait = respect_followup_wishes(ctx, nudge, mentee)
    if wait is not None:
        return wait
    msg = MessageBuilder().say(f"It's been {ctx.settings.followup_days} days since your "
                               f"session #{s.id} with ").mention(ctx.address(mentor))
    msg.say(" about “").user_text(shorten(s.topic, 80)).say("”.")
    msg.line("Did you get to try what you discussed? Anything to tell your mentor?")
    msg.line(f"Type `followup {s.id} <your message>` and I'll pass it on. "
             "(`followups off` stops these questions.)")
    msg.choice(shorten(f"Reply to {mentor.display_name}", 40), f"followup {s.id}",
               ChoiceStyle.PRIMARY)
    msg.choice("Remind me in 2 weeks", "followups snooze 2 weeks")
    return ctx.dm(mentee, msg.build())


@renders(ladder.OUTCOME)
async def _outcome(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _held(ctx, nudge)
    if isinstance(found, Stale):
        return found
    s, mentee, mentor = found.session, found.mentee, found.mentor
    wait = respect_followup_wishes(ctx, nudge, mentee)
    if wait is not None:
        return wait
    msg = MessageBuilder().say("About a month ago you met ").mention(ctx.address(mentor))
    msg.say(f" (session #{s.id}, “").user_text(shorten(s.topic, 80)).say("”).")
    msg.line("How did it turn out? If you'd like to keep going, book the next session.")
    # No typed form of the mentor here: `<member:…>` is a button's internal reference, not
    # something a person should read. The button books; the text offers the reply.
    msg.line(f"Use the button to book it; `followup {s.id} <message>` tells your mentor how it "
             "went.")
    msg.choice("Book the next session", f"book <member:{mentor.platform_user_id}>",
               ChoiceStyle.PRIMARY)
    msg.choice(shorten(f"Tell {mentor.display_name}", 40), f"followup {s.id}")
    return ctx.dm(mentee, msg.build())


@renders(ladder.REPLY_RELAY)
async def _reply_relay(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    got = await _feedback_and_people(ctx, nudge)
    if isinstance(got, Stale):
        return got
    found, note, author = got
    reader = found.other(author)
    later = respect_quiet_hours(ctx, nudge, reader)
    if later is not None:
        return later
    msg = MessageBuilder().mention(ctx.address(author)).say(
        f" followed up on your session #{found.session.id}:").quote(note)
    msg.say(f"Reply with `followup {found.session.id} <message>`.")
    msg.choice("Reply", f"followup {found.session.id}")
    return ctx.dm(reader, msg.build())


@renders(ladder.NO_SHOW)
async def _no_show(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _load(ctx, nudge)
    if isinstance(found, Stale):
        return found
    channel = nudge.channel or ctx.settings.organizer_channel
    if not channel:
        return Stale("no organizer channel configured")
    s = found.session
    reporter = found.mentor if nudge.payload.get("by") == found.mentor.id else found.mentee
    msg = MessageBuilder().say(f"No-show report (private): session #{s.id} of ")
    msg.mention(ctx.address(found.mentor)).say(" (mentor) with ").mention(
        ctx.address(found.mentee))
    if s.start_at is not None:
        msg.say(" on ").moment(s.start_at, ctx.settings.default_timezone)
    msg.say(": ").mention(ctx.address(reporter)).say(" says it didn't happen. "
                                                     "Type `feedback` for the recent ones.")
    return Outgoing(ChannelPost(channel), msg.build())
