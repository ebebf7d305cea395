"""Booking mentoring sessions: propose, confirm, pick a slot, counter, reschedule, cancel, repeat.

Who confirms: whoever did *not* propose the current time. A member books (or offers up to three
slots) and the mentor confirms (or picks a slot, or proposes another time, which the member then
confirms). A mentor may book with their mentee too; the mentee confirms. Rescheduling a
confirmed session keeps it confirmed at the new time (the other side is told, with the updated
invite, and may move or cancel it again); every change of time or cancellation bumps the
session's ``sequence`` (the invite's SEQUENCE).

Guards (``bot.booking``) apply whenever a time is chosen. When a time is agreed to (confirm,
pick), only what may have changed since is checked again: the past, the cap and overlaps,
not the minimum notice, so a proposal doesn't expire while it waits for an answer.

Every message to the other side is a nudge written in the same transaction as the change; the
nudge ladder (``bot.sessions.ladder``) is told about every booking, confirmation, move and
cancellation in the same transaction too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.booking import Calendar, Rules, describe_times, next_free, refusal
from bot.command import MemberRef, Need, ParamError, Source, command, param
from bot.context import CommandContext, reading
from bot.domain import IntroRequest, IntroState, Member, MentorProfile, Session, SessionState
from bot.errors import NotAllowed, UserError
from bot.intros.waitlist import freed_up
from bot.mentorships.lifecycle import first_session_confirmed
from bot.messages import (
    Attachment,
    ChoiceStyle,
    Message,
    MessageBuilder,
    MomentStyle,
    Reply,
)
from bot.recurrence import LABELS, local_times, occurrences, parse_frequency
from bot.sessions import ladder
from bot.sessions import nudges as sm
from bot.sessions.calendar import load_calendar
from bot.sessions.invites import invite_for
from bot.text import shorten
from bot.timezones import month_start

log = logging.getLogger(__name__)

MAX_TOPIC = 80
MAX_AGENDA = 1500
MAX_REASON = 500
MAX_SLOTS = 3
GROUP = "Sessions"
LENGTH_HELP = "Length in minutes"
OPEN_STATES = (SessionState.PROPOSED, SessionState.CONFIRMED)


# -- shared steps -----------------------------------------------------------------------------


async def _intro_with(ctx: CommandContext, other: Member) -> tuple[IntroRequest, Member, Member]:
    """The accepted intro between the caller and ``other``: (intro, mentor, member)."""
    if other.id == ctx.me.id:
        raise UserError("You can't book a session with yourself.", "Name your mentor or mentee.")
    for member_id, mentor_id in ((ctx.me.id, other.id), (other.id, ctx.me.id)):
        found = await ctx.tx.intros.of(
            ctx.community.id, member_id=member_id, mentor_id=mentor_id,
            states=[IntroState.ACCEPTED], limit=1,
        )
        if found:
            mentor, member = (other, ctx.me) if mentor_id == other.id else (ctx.me, other)
            return found[0], mentor, member
    raise UserError(
        f"You and {other.display_name} haven't been introduced yet.",
        f"Sessions follow an accepted intro: `request {shorten(other.display_name, 30)}` first.",
    )


async def _profile(ctx: CommandContext, mentor: Member) -> MentorProfile:
    profile = await ctx.tx.profiles.get(ctx.community.id, mentor.id)
    if profile is None:
        raise UserError(f"{mentor.display_name} isn't a mentor any more.", "Nothing was booked.")
    return profile


def _length(value: str | None, profile: MentorProfile, mentor: Member) -> int:
    offered = profile.session_lengths
    if not value:
        return min(offered)
    raw = value.strip().lower().removesuffix("minutes").removesuffix("min").strip()
    if not raw.isdigit() or int(raw) not in offered:
        choices = ", ".join(str(n) for n in offered)
        raise ParamError(
            "length", f"{mentor.display_name} offers sessions of {choices} minutes, "
            f"not “{shorten(value, 20)}”.",
            f"Pick one of those, e.g. `length: {offered[0]}`.",
        )
    return int(raw)


def _rules(
    ctx: CommandContext,
    profile: MentorProfile,
    mentor: Member,
    *,
    chosen_by: Member,
    notice: bool = True,
    exclude: frozenset[int] = frozenset(),
) -> Rules:
    return Rules(
        now=ctx.now,
        min_notice=timedelta(hours=ctx.settings.min_notice_hours) if notice else timedelta(0),
        profile=profile,
        mentor=mentor,
        booker_id=ctx.me.id,
        month_zone=mentor.zone(ctx.settings.default_timezone),
        enforce_windows=chosen_by.id != mentor.id,
        exclude=exclude,
        zone=ctx.my_zone,
    )


async def _guard(
    ctx: CommandContext, rules: Rules, member: Member, start: datetime, duration: int,
    *, what: str = "",
) -> None:
    """Refuse ``start`` with the reason and the next free times (in the caller's zone)."""
    horizon = ctx.now + timedelta(weeks=9)
    # From now: a time in the past is refused as such, whatever else is on the calendar.
    calendar = await load_calendar(ctx.tx, rules, member.id, ctx.now, max(start, horizon))
    why = refusal(start, duration, rules, calendar)
    if why is None:
        return
    raise UserError(what + why, _suggest(ctx, rules, calendar, duration))


def _suggest(ctx: CommandContext, rules: Rules, calendar: Calendar, duration: int) -> str:
    free = next_free(duration, rules, calendar)
    if not free:
        return "I found no free time in the next 8 weeks; nothing was booked."
    return f"Next free times: {describe_times(free, ctx.my_zone)}. Nothing was booked."


async def _mine(ctx: CommandContext, session_id: int) -> Session:
    session = await ctx.tx.sessions.get(ctx.community.id, session_id)
    if session is None or ctx.me.id not in (session.mentor_id, session.member_id):
        raise NotAllowed(
            f"Session #{session_id} isn't one of yours.", "Type `sessions` to see yours."
        )
    return session


def _require_open(session: Session) -> None:
    if session.state not in OPEN_STATES:
        raise UserError(f"Session #{session.id} is already {session.state.value}.",
                        "Nothing was changed.")


async def _people(ctx: CommandContext, session: Session) -> tuple[Member, Member, Member]:
    """(mentor, member, the other one than the caller)."""
    mentor = await ctx.tx.members.get(ctx.community.id, session.mentor_id)
    member = await ctx.tx.members.get(ctx.community.id, session.member_id)
    assert mentor is not None and member is not None
    return mentor, member, (member if ctx.me.id == mentor.id else mentor)


def _changed(session_id: int) -> UserError:
    return UserError(f"Session #{session_id} just changed.", "Type `sessions` to see it now.")


# -- book, propose slots ------------------------------------------------------------------------


@dataclass(frozen=True)
class BookSession:
    """Book a time with someone you were introduced to; without ``when`` a form opens."""

    other: MemberRef = param.member("With whom", what="mentor or mentee", source=Source.MEMBERS)
    when: datetime | None = param.time(allow_past=True)
    length: str | None = param.text(LENGTH_HELP, max_length=12, what="length")
    topic: str | None = param.topic("Topic")
    agenda: str | None = param.text("Agenda: what you'd like to cover", long=True,
                                    max_length=MAX_AGENDA, what="agenda")


@command(BookSession, "book", group=GROUP, form_title="Book a session",
         submit_label="Propose",
         summary="Propose a session time to your mentor (or mentee); they confirm.",
         explain="The time is read in your timezone unless you name another; it must be inside "
                 "the mentor's weekly availability, with enough notice, and not clash with "
                 "either person's other sessions.",
         examples=("book Grace when: Thursday 18:00 length: 30 topic: asyncio basics",))
async def book(cmd: BookSession, ctx: CommandContext) -> Reply:
    other = await ctx.resolve_member(cmd.other, "other")
    intro, mentor, member = await _intro_with(ctx, other)
    profile = await _profile(ctx, mentor)
    if cmd.when is None:
        lengths = profile.session_lengths
        return Reply.of(
            MessageBuilder().say(f"When would you like to meet {other.display_name}?")
            .build(form=ctx.form(
                BookSession(MemberRef(f"<member:{other.platform_user_id}>")),
                title=f"Book with {other.display_name}",
                initial={"length": str(min(lengths)), "topic": intro.topic},
                placeholders={"length": ", ".join(str(n) for n in lengths)},
            ))
        )
    duration = _length(cmd.length, profile, mentor)
    rules = _rules(ctx, profile, mentor, chosen_by=ctx.me)
    start = cmd.when
    topic = cmd.topic or intro.topic
    agenda = cmd.agenda
    await _guard(ctx, rules, member, start, duration)
    session = await ctx.tx.sessions.add(
        community_id=ctx.community.id, intro_id=intro.id, mentor_id=mentor.id,
        member_id=member.id, topic=topic, agenda=agenda, start_at=start,
        duration_minutes=duration, state=SessionState.PROPOSED, proposed_by=ctx.me.id,
        now=ctx.now,
    )
    ctx.notify(sm.SESSION_PROPOSED, recipient=other, session_id=session.id,
               sequence=session.sequence)
    ladder.plan_after_booking(ctx, session)
    msg = (
        MessageBuilder().say(f"Session #{session.id} proposed to ").mention(ctx.address(other))
        .say(" for ").moment(start, ctx.my_zone).say(f" ({duration} min). ")
        .say("I'll tell you when they confirm.")
    )
    if ctx.me.id == member.id and not agenda:
        msg.line("Add what you'd like to cover with ").hint(f"agenda {session.id} <text>") \
            .say(".")
        msg.choice("Add an agenda", f"agenda {session.id}")
    msg.choice("Cancel", f"cancel {session.id}", ChoiceStyle.DANGER)
    return Reply.of(msg.build())


@dataclass(frozen=True)
class ProposeSlots:
    """Offer the mentor up to three times; they pick one."""

    mentor: MemberRef = param.member("Mentor", what="mentor", source=Source.MENTORS)
    slots: tuple[datetime, ...] | None = param.times(
        "Up to three times, separated by “;”", max_items=MAX_SLOTS, allow_past=True,
        what="times", placeholder="Tue 18:00; Wed 19:00; Thu 18:30")
    length: str | None = param.text(LENGTH_HELP, max_length=12, what="length")
    topic: str | None = param.topic("Topic")
    agenda: str | None = param.text("Agenda: what you'd like to cover", long=True,
                                    max_length=MAX_AGENDA, what="agenda")


@command(ProposeSlots, "propose", group=GROUP, form_title="Offer times",
         summary="Offer your mentor up to three times; they pick one.",
         examples=("propose Grace slots: Tue 18:00; Wed 19:00; Thu 18:30 length: 30",))
async def propose(cmd: ProposeSlots, ctx: CommandContext) -> Reply:
    other = await ctx.resolve_member(cmd.mentor, "mentor")
    intro, mentor, member = await _intro_with(ctx, other)
    if ctx.me.id != member.id:
        raise UserError("Proposing times to pick from is for mentees.",
                        f"As the mentor, book a time directly: "
                        f"`book {shorten(other.display_name, 30)} when: …`.")
    profile = await _profile(ctx, mentor)
    duration = _length(cmd.length, profile, mentor)
    rules = _rules(ctx, profile, mentor, chosen_by=ctx.me)
    if not cmd.slots:
        return Reply.of(
            MessageBuilder().say(f"Which times could you offer {other.display_name}?")
            .build(form=ctx.form(
                ProposeSlots(MemberRef(f"<member:{other.platform_user_id}>")),
                initial={"topic": intro.topic},
            ))
        )
    starts: list[datetime] = []
    for i, at in enumerate(cmd.slots, start=1):
        label = f"Time {i} ({describe_times([at], ctx.my_zone)}): "
        await _guard(ctx, rules, member, at, duration, what=label)
        starts.append(at)
    topic = cmd.topic or intro.topic
    agenda = cmd.agenda
    session = await ctx.tx.sessions.add(
        community_id=ctx.community.id, intro_id=intro.id, mentor_id=mentor.id,
        member_id=member.id, topic=topic, agenda=agenda, start_at=None,
        duration_minutes=duration, state=SessionState.PROPOSED, proposed_by=ctx.me.id,
        now=ctx.now,
    )
    await ctx.tx.sessions.add_slots(session.id, sorted(starts))
    ctx.notify(sm.SESSION_PROPOSED, recipient=mentor, session_id=session.id,
               sequence=session.sequence)
    ladder.plan_after_booking(ctx, session)
    msg = MessageBuilder().say(f"Sent {len(starts)} time(s) to ").mention(ctx.address(mentor))
    msg.say(f" for session #{session.id} ({duration} min):")
    for i, at in enumerate(sorted(starts), start=1):
        msg.line(f"  {i}. ").moment(at, ctx.my_zone)
    msg.line("I'll tell you which one they pick.")
    msg.choice("Cancel", f"cancel {session.id}", ChoiceStyle.DANGER)
    return Reply.of(msg.build())


# -- confirm, pick, counter -------------------------------------------------------------------


async def _agree(ctx: CommandContext, session: Session, start: datetime) -> Session:
    """Confirm ``session`` at ``start`` after checking what may have changed since."""
    mentor, member, _other = await _people(ctx, session)
    profile = await _profile(ctx, mentor)
    rules = _rules(ctx, profile, mentor, chosen_by=mentor, notice=False,
                   exclude=frozenset({session.id}))
    await _guard(ctx, rules, member, start, session.duration_minutes,
                 what="That time doesn't work any more: ")
    updated = await ctx.tx.sessions.update(
        session, ctx.now, state=SessionState.CONFIRMED, start_at=start
    )
    if updated is None:
        raise _changed(session.id)
    for person in (mentor, member):
        ctx.notify(sm.SESSION_CONFIRMED, recipient=person, session_id=updated.id,
                   sequence=updated.sequence)
    ladder.plan_for_confirmed(ctx, updated)
    await first_session_confirmed(ctx, updated)
    return updated


def _confirmed_reply(ctx: CommandContext, session: Session, other: Member) -> Reply:
    assert session.start_at is not None
    return Reply.of(
        MessageBuilder().say(f"Confirmed: session #{session.id} with ")
        .mention(ctx.address(other)).say(" on ").moment(session.start_at, ctx.my_zone)
        .say(f" ({session.duration_minutes} min). The calendar invite is on its way to you both.")
        .choice("Reschedule", f"reschedule {session.id}")
        .choice("Cancel", f"cancel {session.id}", ChoiceStyle.DANGER)
        .build()
    )


@dataclass(frozen=True)
class ConfirmSession:
    session_id: int = param.number("Session #", what="session", source=Source.MY_SESSIONS)


@command(ConfirmSession, "confirm", group=GROUP, summary="Confirm the time proposed to you.",
         examples=("confirm 12",))
async def confirm(cmd: ConfirmSession, ctx: CommandContext) -> Reply:
    session = await _mine(ctx, cmd.session_id)
    if session.state is SessionState.CONFIRMED:
        raise UserError(f"Session #{session.id} is already confirmed.", "Nothing was changed.")
    _require_open(session)
    if session.start_at is None:
        raise UserError(f"Session #{session.id} has times to pick from.",
                        f"Pick one with `pick {session.id} <slot #>`.")
    if session.proposed_by == ctx.me.id:
        raise UserError(f"You proposed this time for session #{session.id}.",
                        "The other side confirms it; I'll tell you when they do.")
    updated = await _agree(ctx, session, session.start_at)
    _mentor, _member, other = await _people(ctx, updated)
    return _confirmed_reply(ctx, updated, other)


@dataclass(frozen=True)
class PickSlot:
    session_id: int = param.number("Session #", what="session", source=Source.MY_SESSIONS)
    slot: int = param.integer("Time #", low=1, high=MAX_SLOTS, need=Need.ALWAYS,
                              positional=True, what="time number")


@command(PickSlot, "pick", group=GROUP, summary="Pick one of the times a mentee offered.",
         examples=("pick 12 2",))
async def pick(cmd: PickSlot, ctx: CommandContext) -> Reply:
    session = await _mine(ctx, cmd.session_id)
    if session.state is SessionState.CONFIRMED:
        raise UserError(f"Session #{session.id} is already confirmed.", "Nothing was changed.")
    _require_open(session)
    slots = await ctx.tx.sessions.slots(session.id) if session.start_at is None else []
    if not slots:
        raise UserError(f"Session #{session.id} has no times to pick from.",
                        f"Confirm it with `confirm {session.id}`.")
    if session.proposed_by == ctx.me.id:
        raise UserError("You proposed these times.", "The other side picks one.")
    if not 1 <= cmd.slot <= len(slots):
        raise UserError(f"Session #{session.id} has times 1 to {len(slots)}.",
                        f"For example: `pick {session.id} 1`.")
    updated = await _agree(ctx, session, slots[cmd.slot - 1])
    _mentor, _member, other = await _people(ctx, updated)
    return _confirmed_reply(ctx, updated, other)


async def _new_time(ctx: CommandContext, session: Session, start: datetime) -> datetime:
    mentor, member, _other = await _people(ctx, session)
    profile = await _profile(ctx, mentor)
    rules = _rules(ctx, profile, mentor, chosen_by=ctx.me, exclude=frozenset({session.id}))
    if start == session.start_at:
        raise UserError(f"Session #{session.id} is already at that time.", "Nothing was changed.")
    await _guard(ctx, rules, member, start, session.duration_minutes)
    return start


@dataclass(frozen=True)
class CounterSession:
    """Answer a proposed time with another one; the other side confirms."""

    session_id: int = param.number("Session #", what="session", source=Source.MY_SESSIONS)
    when: datetime | None = param.time(allow_past=True, positional=True, aliases=("when",))


@command(CounterSession, "counter", group=GROUP, form_title="Propose another time",
         summary="Answer a proposal with another time.",
         examples=("counter 12 when: Wed 19:00",))
async def counter(cmd: CounterSession, ctx: CommandContext) -> Reply:
    session = await _mine(ctx, cmd.session_id)
    _require_open(session)
    if session.state is not SessionState.PROPOSED:
        raise UserError(f"Session #{session.id} is already confirmed.",
                        f"Move it with `reschedule {session.id} when: …`.")
    if cmd.when is None:
        return Reply.of(
            MessageBuilder().say(f"Which time would suit you for session #{session.id}?")
            .build(form=ctx.form(cmd))
        )
    start = await _new_time(ctx, session, cmd.when)
    updated = await ctx.tx.sessions.update(
        session, ctx.now, bump_sequence=True, start_at=start, proposed_by=ctx.me.id
    )
    if updated is None:
        raise _changed(session.id)
    _mentor, _member, other = await _people(ctx, updated)
    await ladder.replan(ctx, updated, "another time was proposed")
    ctx.notify(sm.SESSION_COUNTER, recipient=other, session_id=updated.id,
               sequence=updated.sequence)
    return Reply.of(
        MessageBuilder().say("Proposed ").moment(start, ctx.my_zone)
        .say(f" for session #{updated.id}; ").mention(ctx.address(other))
        .say(" will confirm or suggest another time.")
        .build()
    )


# -- reschedule, cancel, agenda ---------------------------------------------------------------


@dataclass(frozen=True)
class RescheduleSession:
    session_id: int = param.number("Session #", what="session", source=Source.MY_SESSIONS)
    when: datetime | None = param.time(allow_past=True, positional=True, aliases=("when",))
    reason: str | None = param.text("Note for the other side", long=True,
                                    max_length=MAX_REASON, what="reason")


@command(RescheduleSession, "reschedule", group=GROUP, form_title="Reschedule",
         summary="Move a session; the other side is told.",
         examples=("reschedule 12 when: Thu 18:00 reason: exam that day",))
async def reschedule(cmd: RescheduleSession, ctx: CommandContext) -> Reply:
    session = await _mine(ctx, cmd.session_id)
    _require_open(session)
    if session.state is SessionState.PROPOSED:
        return await counter(CounterSession(session.id, cmd.when), ctx)
    if cmd.when is None:
        return Reply.of(MessageBuilder().say(f"When should session #{session.id} be instead?")
                        .build(form=ctx.form(cmd)))
    reason = cmd.reason
    start = await _new_time(ctx, session, cmd.when)
    updated = await ctx.tx.sessions.update(session, ctx.now, bump_sequence=True, start_at=start)
    if updated is None:
        raise _changed(session.id)
    mentor, member, other = await _people(ctx, updated)
    await ladder.replan(ctx, updated, "rescheduled" + (f": {reason}" if reason else ""))
    ctx.notify(sm.SESSION_RESCHEDULED, recipient=other, session_id=updated.id,
               sequence=updated.sequence, reason=reason)
    invite = await _invite(ctx, updated, mentor, member)
    return Reply.of(
        MessageBuilder().say(f"Session #{updated.id} is moved to ").moment(start, ctx.my_zone)
        .say(". ").mention(ctx.address(other)).say(" is told, with the updated invite (attached).")
        .choice("Cancel", f"cancel {updated.id}", ChoiceStyle.DANGER)
        .build(attachments=(invite,))
    )


async def _invite(
    ctx: CommandContext, session: Session, mentor: Member, member: Member
) -> Attachment:
    return await invite_for(ctx.tx, ctx.community.id, session, mentor, member, ctx.now)


@dataclass(frozen=True)
class CancelSession:
    session_id: int = param.number("Session #", what="session", source=Source.MY_SESSIONS)
    reason: str | None = param.text("Reason", positional=True, aliases=("reason",), long=True,
                                    max_length=MAX_REASON, what="reason")


@command(CancelSession, "cancel", group=GROUP,
         summary="Cancel a session; the other side is told.",
         examples=("cancel 12 sorry, I'm ill",))
async def cancel(cmd: CancelSession, ctx: CommandContext) -> Reply:
    session = await _mine(ctx, cmd.session_id)
    _require_open(session)
    if session.series_id is not None:
        return await skip(SkipOccurrence(session.id, cmd.reason), ctx)
    reason = cmd.reason
    was_confirmed = session.state is SessionState.CONFIRMED
    updated = await ctx.tx.sessions.update(
        session, ctx.now, bump_sequence=True, state=SessionState.CANCELLED, cancel_reason=reason
    )
    if updated is None:
        raise _changed(session.id)
    mentor, member, other = await _people(ctx, updated)
    await ladder.cancel_nudges(ctx, updated, "session cancelled")
    ctx.notify(sm.SESSION_CANCELLED, recipient=other, session_id=updated.id,
               sequence=updated.sequence, was_confirmed=was_confirmed)
    # A session less this month may give the mentor room again (a monthly cap).
    profile = await ctx.tx.profiles.get(ctx.community.id, mentor.id)
    ctx.outbox.extend(await freed_up(ctx.tx, ctx.community, ctx.settings, ctx.now, mentor,
                                     profile))
    msg = MessageBuilder().say(f"Session #{updated.id} is cancelled; ").mention(
        ctx.address(other)).say(" is told.")
    attachments: tuple[Attachment, ...] = ()
    if was_confirmed and updated.start_at is not None:
        attachments = (await _invite(ctx, updated, mentor, member),)
        msg.say(" The attached update removes it from your calendar.")
    return Reply.of(msg.build(attachments=attachments))


@dataclass(frozen=True)
class SetAgenda:
    session_id: int = param.number("Session #", what="session", source=Source.MY_SESSIONS)
    text: str | None = param.text("Agenda", need=Need.FORM, positional=True, aliases=("text",),
                                  long=True, max_length=MAX_AGENDA, what="agenda")


@command(SetAgenda, "agenda", group=GROUP, form_title="Agenda", submit_label="Save",
         summary="Share or change a session's agenda.",
         examples=("agenda 12 review my CV; questions about the first 90 days",))
async def set_agenda(cmd: SetAgenda, ctx: CommandContext) -> Reply:
    session = await _mine(ctx, cmd.session_id)
    _require_open(session)
    if cmd.text is None:
        return Reply.of(
            MessageBuilder().say(f"What would you like to cover in session #{session.id}?")
            .build(form=ctx.form(cmd, initial={"text": session.agenda or ""}))
        )
    agenda = cmd.text
    updated = await ctx.tx.sessions.update(session, ctx.now, agenda=agenda)
    if updated is None:
        raise _changed(session.id)
    return Reply.of(MessageBuilder().say(f"Saved the agenda of session #{session.id}; it's in ")
                    .hint("sessions").say(" for you both.").build())


# -- series -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepeatSession:
    session_id: int = param.number("Session #", what="session", source=Source.MY_SESSIONS)
    frequency: str = param.text("How often (weekly, biweekly, monthly)", need=Need.ALWAYS,
                                positional=True, max_length=30, what="frequency")
    until: datetime | None = param.date("Until (date)", through_day=True, what="end date")
    times: int | None = param.integer("How many sessions in all", low=2, high=52,
                                      what="number of sessions")
    zone: str | None = param.timezone("Timezone the series follows", need=Need.OPTIONAL,
                                      positional=False, what="timezone")


@command(RepeatSession, "repeat", group=GROUP,
         summary="Make a confirmed session repeat.",
         explain="Give an end date (`until:`) or a number of sessions (`times:`). Every "
                 "session keeps its wall-clock time in the timezone the series follows: yours, "
                 "unless you name another with `zone:`. If the other person's local time "
                 "shifts with daylight saving, you are both told when.",
         examples=("repeat 12 weekly times: 6", "repeat 12 monthly until: 2027-06-30"))
async def repeat(cmd: RepeatSession, ctx: CommandContext) -> Reply:
    with reading("frequency"):
        frequency = parse_frequency(cmd.frequency)
    session = await _mine(ctx, cmd.session_id)
    if session.state is not SessionState.CONFIRMED or session.start_at is None:
        raise UserError(f"Session #{session.id} isn't confirmed ({session.state.value}).",
                        "Repeat a confirmed session.")
    if session.series_id is not None:
        raise UserError(f"Session #{session.id} already repeats.",
                        f"End that series first with `end-series {session.id}`.")
    if cmd.until is None and cmd.times is None:
        raise ParamError("until", "Until when, or how many times?",
                         f"Add `until: 2027-03-01` or `times: 6`, e.g. `repeat {session.id} "
                         "weekly times: 6`.")
    count = cmd.times
    until = cmd.until
    mentor, member, other = await _people(ctx, session)
    profile = await _profile(ctx, mentor)
    zone = cmd.zone or ctx.my_zone
    with reading("times" if count is not None and until is None else "until"):
        planned = occurrences(session.start_at, zone, frequency, count=count, until=until,
                              horizon=ctx.horizon)
    starts = [o.at for o in planned]
    rules = _rules(ctx, profile, mentor, chosen_by=ctx.me, notice=False,
                   exclude=frozenset({session.id}))
    calendar = await load_calendar(ctx.tx, rules, member.id, starts[0], starts[-1])
    accepted: list[datetime] = [starts[0]]
    for at in starts[1:]:
        check = Calendar(calendar.busy, calendar.counted, tuple(accepted))
        why = refusal(at, session.duration_minutes, rules, check)
        if why is not None:
            local = describe_times([at], ctx.my_zone)
            raise UserError(f"The session on {local} can't be booked: {why}",
                            "Nothing was set up. Try fewer times or an earlier end date.")
        accepted.append(at)
    series = await ctx.tx.sessions.add_series(
        community_id=ctx.community.id, intro_id=session.intro_id, frequency=frequency,
        timezone=zone, until_at=until, count=count, sequence=session.sequence + 1, now=ctx.now,
    )
    first = await ctx.tx.sessions.update(
        session, ctx.now, series_id=series.id, original_start_at=session.start_at
    )
    if first is None:
        raise _changed(session.id)
    for at in starts[1:]:
        occurrence = await ctx.tx.sessions.add(
            community_id=ctx.community.id, intro_id=session.intro_id, mentor_id=mentor.id,
            member_id=member.id, topic=session.topic, agenda=None, start_at=at,
            duration_minutes=session.duration_minutes, state=SessionState.CONFIRMED,
            proposed_by=ctx.me.id, now=ctx.now, series_id=series.id, original_start_at=at,
        )
        ladder.plan_for_confirmed(ctx, occurrence)
    ctx.notify(sm.SESSION_SERIES, recipient=other, session_id=first.id,
               series_sequence=series.sequence, by=ctx.me.id)
    invite = await _invite(ctx, first, mentor, member)
    wall = session.start_at.astimezone(ZoneInfo(zone))
    msg = (
        MessageBuilder().say(f"Session #{first.id} now repeats {LABELS[frequency]} at "
                             f"{wall:%H:%M} {zone}: {len(starts)} sessions, the last on ")
        .moment(starts[-1], ctx.my_zone, MomentStyle.DATE).say(".")
    )
    for note in (o.note for o in planned if o.note):
        msg.line("  • " + note)
    shifts = local_times(starts, ctx.zone_of(other))
    if len(shifts) > 1 or ctx.zone_of(other) != zone:
        msg.line(f"For {other.display_name} ({ctx.zone_of(other)}): {shifts[0][1]}")
        for at, shown in shifts[1:]:
            msg.say(", from ").moment(at, ctx.zone_of(other), MomentStyle.DATE).say(
                f" {shown}")
        msg.say(".")
    return Reply.of(
        msg.line("").mention(ctx.address(other)).say(" is told. The series invite is attached.")
        .choice("End the series", f"end-series {first.id}", ChoiceStyle.DANGER)
        .build(attachments=(invite,))
    )


@dataclass(frozen=True)
class SkipOccurrence:
    session_id: int = param.number("Session #", what="session", source=Source.MY_SESSIONS)
    reason: str | None = param.text("Reason", positional=True, aliases=("reason",), long=True,
                                    max_length=MAX_REASON, what="reason")


@command(SkipOccurrence, "skip", group=GROUP, summary="Skip one session of a series.",
         examples=("skip 14 holiday",))
async def skip(cmd: SkipOccurrence, ctx: CommandContext) -> Reply:
    session = await _mine(ctx, cmd.session_id)
    _require_open(session)
    if session.series_id is None:
        raise UserError(f"Session #{session.id} isn't part of a series.",
                        f"Cancel it instead: `cancel {session.id}`.")
    series = await ctx.tx.sessions.series(ctx.community.id, session.series_id)
    assert series is not None
    reason = cmd.reason
    updated = await ctx.tx.sessions.update(
        session, ctx.now, bump_sequence=True, state=SessionState.CANCELLED,
        cancel_reason=reason or "skipped",
    )
    if updated is None or await ctx.tx.sessions.update_series(series) is None:
        raise _changed(session.id)
    mentor, member, other = await _people(ctx, updated)
    await ladder.cancel_nudges(ctx, updated, "occurrence skipped")
    ctx.notify(sm.SESSION_CANCELLED, recipient=other, session_id=updated.id,
               sequence=updated.sequence, was_confirmed=True, skipped=True)
    invite = await _invite(ctx, updated, mentor, member)
    assert updated.start_at is not None
    return Reply.of(
        MessageBuilder().say(f"Skipped session #{updated.id} on ")
        .moment(updated.start_at, ctx.my_zone).say("; the rest of the series stays. ")
        .mention(ctx.address(other)).say(" is told. The updated series invite is attached.")
        .build(attachments=(invite,))
    )


@dataclass(frozen=True)
class EndSeries:
    session_id: int = param.number("Session #", what="session", source=Source.MY_SESSIONS)


@command(EndSeries, "end-series", group=GROUP,
         summary="Stop a repeating series; upcoming ones are cancelled.",
         examples=("end-series 12",))
async def end_series(cmd: EndSeries, ctx: CommandContext) -> Reply:
    session = await _mine(ctx, cmd.session_id)
    if session.series_id is None:
        raise UserError(f"Session #{session.id} isn't part of a series.", "Nothing was changed.")
    series = await ctx.tx.sessions.series(ctx.community.id, session.series_id)
    assert series is not None
    if series.ended_at is not None:
        raise UserError("That series has already ended.", "Nothing was changed.")
    cancelled = 0
    for occurrence in await ctx.tx.sessions.series_sessions(series.id):
        if (
            occurrence.state in OPEN_STATES
            and occurrence.start_at is not None
            and occurrence.start_at > ctx.now
        ):
            done = await ctx.tx.sessions.update(
                occurrence, ctx.now, bump_sequence=True, state=SessionState.CANCELLED,
                cancel_reason="series ended",
            )
            if done is None:
                raise _changed(occurrence.id)
            await ladder.cancel_nudges(ctx, done, "series ended")
            cancelled += 1
    if await ctx.tx.sessions.update_series(series, ended_at=ctx.now) is None:
        raise _changed(session.id)
    mentor, member, other = await _people(ctx, session)
    ctx.notify(sm.SESSION_SERIES_ENDED, recipient=other, session_id=session.id,
               cancelled=cancelled)
    invite = await _invite(ctx, session, mentor, member)
    return Reply.of(
        MessageBuilder().say(f"The series is ended: {cancelled} upcoming session(s) cancelled. ")
        .mention(ctx.address(other)).say(" is told. The calendar update is attached.")
        .build(attachments=(invite,))
    )


# -- lists: `sessions`, `my`, `report` --------------------------------------------------------


async def _session_lines(
    ctx: CommandContext, sessions: list[Session], msg: MessageBuilder, *, buttons: bool
) -> None:
    people = await ctx.tx.members.by_ids(
        ctx.community.id, [s.mentor_id for s in sessions] + [s.member_id for s in sessions]
    )
    for s in sessions:
        mentoring = s.mentor_id == ctx.me.id
        other = people[s.member_id if mentoring else s.mentor_id]
        msg.line(f"  #{s.id} ")
        if s.start_at is not None:
            msg.moment(s.start_at, ctx.my_zone)
        else:
            msg.say("(times to pick from)")
        msg.say(" with ").mention(ctx.address(other))
        msg.say(" (your mentee)" if mentoring else " (your mentor)")
        msg.say(f" · {s.duration_minutes} min · “").user_text(shorten(s.topic, 60)).say("”")
        msg.say(f" · {_state_label(ctx, s)}")
        if s.series_id is not None:
            msg.say(" · repeats")
        if mentoring and s.agenda:
            msg.line("    Agenda: ").user_text(shorten(s.agenda, 300))
        if (buttons and s.state is SessionState.PROPOSED and s.proposed_by != ctx.me.id
                and s.start_at is not None):
            msg.choice(f"Confirm #{s.id}", f"confirm {s.id}", ChoiceStyle.PRIMARY)


def _state_label(ctx: CommandContext, s: Session) -> str:
    if s.state is SessionState.PROPOSED:
        return "you need to answer" if s.proposed_by != ctx.me.id else "waiting for them"
    return str(s.state.value)


def _upcoming(ctx: CommandContext, sessions: list[Session]) -> list[Session]:
    return [s for s in sessions if s.state in OPEN_STATES
            and (s.start_at is None or (s.end_at is not None and s.end_at > ctx.now))]


@dataclass(frozen=True)
class ListSessions:
    pass


@command(ListSessions, "sessions", group=GROUP, read_only=True,
         summary="Your upcoming and past sessions (mentors see agendas).")
async def list_sessions(cmd: ListSessions, ctx: CommandContext) -> Reply:
    every = await ctx.tx.sessions.of(ctx.community.id, ctx.me.id, limit=500)
    upcoming = _upcoming(ctx, every)
    past = [s for s in every if s not in upcoming]
    past.sort(key=lambda s: s.start_at or s.created_at, reverse=True)
    msg = MessageBuilder().strong("Upcoming sessions")
    if not upcoming:
        msg.line("  none: book one with ").hint("book <name> when: …")
    await _session_lines(ctx, upcoming[:20], msg, buttons=True)
    if past:
        msg.line("").strong("Past and cancelled")
        await _session_lines(ctx, past[:10], msg, buttons=False)
    msg.line("Change one with ").hint("reschedule <#> when: …").say(" or ") \
        .hint("cancel <#> [reason]").say(".")
    return Reply.of(msg.build())


async def upcoming_section(ctx: CommandContext) -> list[Message]:
    upcoming = _upcoming(ctx, await ctx.tx.sessions.of(
        ctx.community.id, ctx.me.id, states=list(OPEN_STATES), limit=200))
    if not upcoming:
        return []
    msg = MessageBuilder().strong("Your upcoming sessions")
    await _session_lines(ctx, upcoming[:5], msg, buttons=False)
    if len(upcoming) > 5:
        msg.line(f"  …and {len(upcoming) - 5} more: type ").hint("sessions").say(".")
    return [msg.build()]


async def sessions_report(ctx: CommandContext) -> list[str]:
    """Sessions whose start falls in this calendar month (community zone), by state.

    By start time rather than by when they were booked, so a series set up today does not
    count its occurrences of next spring as this month's.
    """
    start = month_start(ctx.now, ctx.settings.default_timezone)
    end = (start + timedelta(days=32)).replace(day=1)
    stats = await ctx.tx.sessions.month_stats(ctx.community.id, start, end)
    return [
        f"Sessions this month: booked {stats['booked']}, held {stats['held']}, "
        f"missed {stats['missed']}, cancelled {stats['cancelled']} (by their start time)"
    ]


COMMANDS = (
    book, propose, confirm, pick, counter, reschedule, cancel, set_agenda, repeat, skip,
    end_series, list_sessions,
)
