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
nudge ladder (``bot.ladder``) is told about every booking, confirmation, move and cancellation
in the same transaction too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot import ladder
from bot import session_messages as sm
from bot.booking import Calendar, Rules, describe_times, load_calendar, next_free, refusal
from bot.calendar_invite import series_invite, session_invite
from bot.commands import Command
from bot.context import FlowContext
from bot.domain import IntroRequest, IntroState, Member, MentorProfile, Session, SessionState
from bot.errors import NotAllowed, UserError
from bot.flows.loads import month_start
from bot.flows.registry import MINE_SECTIONS, REPORT_SECTIONS, handles
from bot.messages import (
    Attachment,
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
from bot.recurrence import LABELS, occurrences, parse_frequency, parse_times
from bot.session_commands import (
    BookSession,
    CancelSession,
    ConfirmSession,
    CounterSession,
    EndSeries,
    ListSessions,
    PickSlot,
    ProposeSlots,
    RepeatSession,
    RescheduleSession,
    SetAgenda,
    SkipOccurrence,
)
from bot.text import bounded, shorten
from bot.textcommands import Args, Verb, after_number, register, session_number
from bot.timezones import parse_until
from bot.when import PastTime, parse_when

log = logging.getLogger(__name__)

MAX_TOPIC = 80
MAX_AGENDA = 1500
MAX_REASON = 500
MAX_SLOTS = 3
GROUP = "Sessions"
OPEN_STATES = (SessionState.PROPOSED, SessionState.CONFIRMED)


# -- shared steps -----------------------------------------------------------------------------


async def _intro_with(ctx: FlowContext, other: Member) -> tuple[IntroRequest, Member, Member]:
    """The accepted intro between the caller and ``other``: (intro, mentor, member)."""
    if other.id == ctx.me.id:
        raise UserError("You can't book a session with yourself.", "Name your mentor or mentee.")
    for member_id, mentor_id in ((ctx.me.id, other.id), (other.id, ctx.me.id)):
        found = await ctx.tx.intros_of(
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


async def _profile(ctx: FlowContext, mentor: Member) -> MentorProfile:
    profile = await ctx.tx.profile(ctx.community.id, mentor.id)
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
        raise UserError(
            f"{mentor.display_name} offers sessions of {choices} minutes, "
            f"not “{shorten(value, 20)}”.",
            f"Pick one of those, e.g. `length: {offered[0]}`.",
        )
    return int(raw)


def _rules(
    ctx: FlowContext,
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
        month_zone=ctx.settings.default_timezone,
        enforce_windows=chosen_by.id != mentor.id,
        exclude=exclude,
    )


async def _guard(
    ctx: FlowContext, rules: Rules, member: Member, start: datetime, duration: int,
    *, what: str = "",
) -> None:
    """Refuse ``start`` with the reason and the next free times (in the caller's zone)."""
    horizon = ctx.now + timedelta(weeks=9)
    calendar = await load_calendar(
        ctx.tx, rules, member.id, min(start, ctx.now), max(start, horizon)
    )
    why = refusal(start, duration, rules, calendar)
    if why is None:
        return
    raise UserError(what + why, _suggest(ctx, rules, calendar, duration))


async def _read_when(
    ctx: FlowContext, typed: str, rules: Rules, member: Member, duration: int,
    *, what: str = "",
) -> datetime:
    """The time typed, in the caller's zone; a time already over comes with the next free ones."""
    try:
        return parse_when(typed, ctx.my_zone, ctx.now)
    except PastTime as err:
        calendar = await load_calendar(
            ctx.tx, rules, member.id, ctx.now, ctx.now + timedelta(weeks=9)
        )
        raise UserError(what + err.message, _suggest(ctx, rules, calendar, duration)) from None
    except UserError as err:
        raise UserError(what + err.message, err.hint) from None


def _suggest(ctx: FlowContext, rules: Rules, calendar: Calendar, duration: int) -> str:
    free = next_free(duration, rules, calendar)
    if not free:
        return "I found no free time in the next 8 weeks; nothing was booked."
    return f"Next free times: {describe_times(free, ctx.my_zone)}. Nothing was booked."


async def _mine(ctx: FlowContext, session_id: int) -> Session:
    session = await ctx.tx.session(ctx.community.id, session_id)
    if session is None or ctx.me.id not in (session.mentor_id, session.member_id):
        raise NotAllowed(
            f"Session #{session_id} isn't one of yours.", "Type `sessions` to see yours."
        )
    return session


def _require_open(session: Session) -> None:
    if session.state not in OPEN_STATES:
        raise UserError(f"Session #{session.id} is already {session.state.value}.",
                        "Nothing was changed.")


async def _people(ctx: FlowContext, session: Session) -> tuple[Member, Member, Member]:
    """(mentor, member, the other one than the caller)."""
    mentor = await ctx.tx.member(ctx.community.id, session.mentor_id)
    member = await ctx.tx.member(ctx.community.id, session.member_id)
    assert mentor is not None and member is not None
    return mentor, member, (member if ctx.me.id == mentor.id else mentor)


def _changed(session_id: int) -> UserError:
    return UserError(f"Session #{session_id} just changed.", "Type `sessions` to see it now.")


def _reason(value: str | None) -> str | None:
    return bounded(value, what="reason", max_length=MAX_REASON, multiline=True) if value else None


def _when_form(title: str, command: str, *, reason: bool = False) -> Form:
    fields = [FormField("when", "When (your timezone)", max_length=80,
                        placeholder="tomorrow 18:00, next Tue 18:30, 2026-12-03 09:00")]
    if reason:
        fields.append(FormField("reason", "Note for the other side", FieldKind.LONG_TEXT,
                                required=False, max_length=MAX_REASON))
    return Form(title=title, command=command, fields=tuple(fields), submit_label="Send")


def _names(mentor: Member, member: Member) -> str:
    return sm.names_of(mentor, member)


# -- book, propose slots ------------------------------------------------------------------------


def book_form(other: Member, topic: str, lengths: tuple[int, ...]) -> Form:
    return Form(
        title=shorten(f"Book a session with {other.display_name}", 45),
        command=f"book <member:{other.platform_user_id}>",
        fields=(
            FormField("when", "When (your timezone)", max_length=80,
                      placeholder="tomorrow 18:00, next Tue 18:30, 2026-12-03 09:00"),
            FormField("length", "Length in minutes", required=False, max_length=5,
                      initial=str(min(lengths)),
                      placeholder=", ".join(str(n) for n in lengths)),
            FormField("topic", "Topic", required=False, max_length=MAX_TOPIC, initial=topic),
            FormField("agenda", "Agenda: what you'd like to cover", FieldKind.LONG_TEXT,
                      required=False, max_length=MAX_AGENDA),
        ),
        submit_label="Propose",
    )


@handles(BookSession)
async def book(cmd: BookSession, ctx: FlowContext) -> Reply:
    other = await ctx.resolve_member(cmd.other)
    intro, mentor, member = await _intro_with(ctx, other)
    profile = await _profile(ctx, mentor)
    if not cmd.when:
        return Reply.of(
            MessageBuilder().say(f"When would you like to meet {other.display_name}?")
            .build(form=book_form(other, intro.topic, profile.session_lengths))
        )
    duration = _length(cmd.length, profile, mentor)
    rules = _rules(ctx, profile, mentor, chosen_by=ctx.me)
    start = await _read_when(ctx, cmd.when, rules, member, duration)
    topic = bounded(cmd.topic, what="topic", max_length=MAX_TOPIC) if cmd.topic else intro.topic
    agenda = (
        bounded(cmd.agenda, what="agenda", max_length=MAX_AGENDA, multiline=True)
        if cmd.agenda else None
    )
    await _guard(ctx, rules, member, start, duration)
    session = await ctx.tx.add_session(
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
        msg.line(f"Add what you'd like to cover with `agenda {session.id} <text>`.")
        msg.choice("Add an agenda", f"agenda {session.id}")
    msg.choice("Cancel", f"cancel {session.id}", ChoiceStyle.DANGER)
    return Reply.of(msg.build())


def _split_slots(value: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"[;\n|]+", value) if p.strip()]
    if not parts:
        raise UserError(
            "Which times? Give up to three.", "For example: `slots: Tue 18:00; Wed 19:00`."
        )
    if len(parts) > MAX_SLOTS:
        raise UserError(f"That's {len(parts)} times; propose at most {MAX_SLOTS}.",
                        "Separate them with “;”.")
    return parts


@handles(ProposeSlots)
async def propose(cmd: ProposeSlots, ctx: FlowContext) -> Reply:
    other = await ctx.resolve_member(cmd.mentor)
    intro, mentor, member = await _intro_with(ctx, other)
    if ctx.me.id != member.id:
        raise UserError("Proposing times to pick from is for mentees.",
                        f"As the mentor, book a time directly: "
                        f"`book {shorten(other.display_name, 30)} when: …`.")
    profile = await _profile(ctx, mentor)
    duration = _length(cmd.length, profile, mentor)
    rules = _rules(ctx, profile, mentor, chosen_by=ctx.me)
    starts: list[datetime] = []
    for raw in _split_slots(cmd.slots):
        label = f"Slot “{shorten(raw, 40)}”: "
        at = await _read_when(ctx, raw, rules, member, duration, what=label)
        if at in starts:
            raise UserError(f"“{shorten(raw, 40)}” is given twice.", "Give different times.")
        await _guard(ctx, rules, member, at, duration, what=label)
        starts.append(at)
    topic = bounded(cmd.topic, what="topic", max_length=MAX_TOPIC) if cmd.topic else intro.topic
    agenda = (
        bounded(cmd.agenda, what="agenda", max_length=MAX_AGENDA, multiline=True)
        if cmd.agenda else None
    )
    session = await ctx.tx.add_session(
        community_id=ctx.community.id, intro_id=intro.id, mentor_id=mentor.id,
        member_id=member.id, topic=topic, agenda=agenda, start_at=None,
        duration_minutes=duration, state=SessionState.PROPOSED, proposed_by=ctx.me.id,
        now=ctx.now,
    )
    await ctx.tx.add_slots(session.id, sorted(starts))
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


async def _agree(ctx: FlowContext, session: Session, start: datetime) -> Session:
    """Confirm ``session`` at ``start`` after checking what may have changed since."""
    mentor, member, _other = await _people(ctx, session)
    profile = await _profile(ctx, mentor)
    rules = _rules(ctx, profile, mentor, chosen_by=mentor, notice=False,
                   exclude=frozenset({session.id}))
    await _guard(ctx, rules, member, start, session.duration_minutes,
                 what="That time doesn't work any more: ")
    updated = await ctx.tx.update_session(
        session, ctx.now, state=SessionState.CONFIRMED, start_at=start
    )
    if updated is None:
        raise _changed(session.id)
    for person in (mentor, member):
        ctx.notify(sm.SESSION_CONFIRMED, recipient=person, session_id=updated.id,
                   sequence=updated.sequence)
    ladder.plan_for_confirmed(ctx, updated)
    return updated


def _confirmed_reply(ctx: FlowContext, session: Session, other: Member) -> Reply:
    assert session.start_at is not None
    return Reply.of(
        MessageBuilder().say(f"Confirmed: session #{session.id} with ")
        .mention(ctx.address(other)).say(" on ").moment(session.start_at, ctx.my_zone)
        .say(f" ({session.duration_minutes} min). The calendar invite is on its way to you both.")
        .choice("Reschedule", f"reschedule {session.id}")
        .choice("Cancel", f"cancel {session.id}", ChoiceStyle.DANGER)
        .build()
    )


@handles(ConfirmSession)
async def confirm(cmd: ConfirmSession, ctx: FlowContext) -> Reply:
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


@handles(PickSlot)
async def pick(cmd: PickSlot, ctx: FlowContext) -> Reply:
    session = await _mine(ctx, cmd.session_id)
    if session.state is SessionState.CONFIRMED:
        raise UserError(f"Session #{session.id} is already confirmed.", "Nothing was changed.")
    _require_open(session)
    slots = await ctx.tx.slots(session.id) if session.start_at is None else []
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


async def _new_time(ctx: FlowContext, session: Session, when: str) -> datetime:
    mentor, member, _other = await _people(ctx, session)
    profile = await _profile(ctx, mentor)
    rules = _rules(ctx, profile, mentor, chosen_by=ctx.me, exclude=frozenset({session.id}))
    start = await _read_when(ctx, when, rules, member, session.duration_minutes)
    if start == session.start_at:
        raise UserError(f"Session #{session.id} is already at that time.", "Nothing was changed.")
    await _guard(ctx, rules, member, start, session.duration_minutes)
    return start


@handles(CounterSession)
async def counter(cmd: CounterSession, ctx: FlowContext) -> Reply:
    session = await _mine(ctx, cmd.session_id)
    _require_open(session)
    if session.state is not SessionState.PROPOSED:
        raise UserError(f"Session #{session.id} is already confirmed.",
                        f"Move it with `reschedule {session.id} when: …`.")
    if not cmd.when:
        return Reply.of(
            MessageBuilder().say(f"Which time would suit you for session #{session.id}?")
            .build(form=_when_form("Propose another time", f"counter {session.id}"))
        )
    start = await _new_time(ctx, session, cmd.when)
    updated = await ctx.tx.update_session(
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


@handles(RescheduleSession)
async def reschedule(cmd: RescheduleSession, ctx: FlowContext) -> Reply:
    session = await _mine(ctx, cmd.session_id)
    _require_open(session)
    if session.state is SessionState.PROPOSED:
        return await counter(CounterSession(session.id, cmd.when), ctx)
    if not cmd.when:
        return Reply.of(MessageBuilder().say(f"When should session #{session.id} be instead?")
                        .build(form=_when_form("Reschedule", f"reschedule {session.id}",
                                               reason=True)))
    reason = _reason(cmd.reason)
    start = await _new_time(ctx, session, cmd.when)
    updated = await ctx.tx.update_session(session, ctx.now, bump_sequence=True, start_at=start)
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
    ctx: FlowContext, session: Session, mentor: Member, member: Member
) -> Attachment:
    names = _names(mentor, member)
    if session.series_id is not None:
        series = await ctx.tx.series(ctx.community.id, session.series_id)
        occurrences_ = await ctx.tx.series_sessions(session.series_id)
        if series is not None and occurrences_:
            return series_invite(series, occurrences_, ctx.now, names)
    return session_invite(session, ctx.now, names)


@handles(CancelSession)
async def cancel(cmd: CancelSession, ctx: FlowContext) -> Reply:
    session = await _mine(ctx, cmd.session_id)
    _require_open(session)
    if session.series_id is not None:
        return await skip(SkipOccurrence(session.id, cmd.reason), ctx)
    reason = _reason(cmd.reason)
    was_confirmed = session.state is SessionState.CONFIRMED
    updated = await ctx.tx.update_session(
        session, ctx.now, bump_sequence=True, state=SessionState.CANCELLED, cancel_reason=reason
    )
    if updated is None:
        raise _changed(session.id)
    mentor, member, other = await _people(ctx, updated)
    await ladder.cancel_nudges(ctx, updated, "session cancelled")
    ctx.notify(sm.SESSION_CANCELLED, recipient=other, session_id=updated.id,
               sequence=updated.sequence, was_confirmed=was_confirmed)
    msg = MessageBuilder().say(f"Session #{updated.id} is cancelled; ").mention(
        ctx.address(other)).say(" is told.")
    attachments: tuple[Attachment, ...] = ()
    if was_confirmed and updated.start_at is not None:
        attachments = (session_invite(updated, ctx.now, _names(mentor, member)),)
        msg.say(" The attached update removes it from your calendar.")
    return Reply.of(msg.build(attachments=attachments))


@handles(SetAgenda)
async def set_agenda(cmd: SetAgenda, ctx: FlowContext) -> Reply:
    session = await _mine(ctx, cmd.session_id)
    _require_open(session)
    if not cmd.text:
        return Reply.of(
            MessageBuilder().say(f"What would you like to cover in session #{session.id}?")
            .build(form=Form(
                title="Agenda",
                command=f"agenda {session.id}",
                fields=(FormField("text", "Agenda", FieldKind.LONG_TEXT, max_length=MAX_AGENDA,
                                  initial=session.agenda or ""),),
                submit_label="Save",
            ))
        )
    agenda = bounded(cmd.text, what="agenda", max_length=MAX_AGENDA, multiline=True)
    updated = await ctx.tx.update_session(session, ctx.now, agenda=agenda)
    if updated is None:
        raise _changed(session.id)
    return Reply.of(text(f"Saved the agenda of session #{session.id}; it's in `sessions` "
                         "for you both."))


# -- series -----------------------------------------------------------------------------------


def _until(value: str, ctx: FlowContext) -> datetime:
    """The end of the series: a bare date means "through that day" in the caller's zone."""
    until = parse_until(value, ctx.my_zone, ctx.now)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        tz = ZoneInfo(ctx.my_zone)
        day = until.astimezone(tz).date() + timedelta(days=1)
        until = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    return until


@handles(RepeatSession)
async def repeat(cmd: RepeatSession, ctx: FlowContext) -> Reply:
    session = await _mine(ctx, cmd.session_id)
    if session.state is not SessionState.CONFIRMED or session.start_at is None:
        raise UserError(f"Session #{session.id} isn't confirmed ({session.state.value}).",
                        "Repeat a confirmed session.")
    if session.series_id is not None:
        raise UserError(f"Session #{session.id} already repeats.",
                        f"End that series first with `end-series {session.id}`.")
    frequency = parse_frequency(cmd.frequency)
    count = parse_times(cmd.times) if cmd.times else None
    until = _until(cmd.until, ctx) if cmd.until else None
    mentor, member, other = await _people(ctx, session)
    profile = await _profile(ctx, mentor)
    zone = profile.availability_timezone
    starts = occurrences(session.start_at, zone, frequency, count=count, until=until)
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
    series = await ctx.tx.add_series(
        community_id=ctx.community.id, intro_id=session.intro_id, frequency=frequency,
        timezone=zone, until_at=until, count=count, sequence=session.sequence + 1, now=ctx.now,
    )
    first = await ctx.tx.update_session(
        session, ctx.now, series_id=series.id, original_start_at=session.start_at
    )
    if first is None:
        raise _changed(session.id)
    for at in starts[1:]:
        occurrence = await ctx.tx.add_session(
            community_id=ctx.community.id, intro_id=session.intro_id, mentor_id=mentor.id,
            member_id=member.id, topic=session.topic, agenda=None, start_at=at,
            duration_minutes=session.duration_minutes, state=SessionState.CONFIRMED,
            proposed_by=ctx.me.id, now=ctx.now, series_id=series.id, original_start_at=at,
        )
        ladder.plan_for_confirmed(ctx, occurrence)
    ctx.notify(sm.SESSION_SERIES, recipient=other, session_id=first.id,
               series_sequence=series.sequence, by=ctx.me.id)
    invite = series_invite(series, await ctx.tx.series_sessions(series.id), ctx.now,
                           _names(mentor, member))
    return Reply.of(
        MessageBuilder().say(f"Session #{first.id} now repeats {LABELS[frequency]}: "
                             f"{len(starts)} sessions, the last on ")
        .moment(starts[-1], ctx.my_zone, MomentStyle.DATE)
        .say(". ").mention(ctx.address(other)).say(" is told. The series invite is attached.")
        .choice("End the series", f"end-series {first.id}", ChoiceStyle.DANGER)
        .build(attachments=(invite,))
    )


@handles(SkipOccurrence)
async def skip(cmd: SkipOccurrence, ctx: FlowContext) -> Reply:
    session = await _mine(ctx, cmd.session_id)
    _require_open(session)
    if session.series_id is None:
        raise UserError(f"Session #{session.id} isn't part of a series.",
                        f"Cancel it instead: `cancel {session.id}`.")
    series = await ctx.tx.series(ctx.community.id, session.series_id)
    assert series is not None
    reason = _reason(cmd.reason)
    updated = await ctx.tx.update_session(
        session, ctx.now, bump_sequence=True, state=SessionState.CANCELLED,
        cancel_reason=reason or "skipped",
    )
    if updated is None or await ctx.tx.update_series(series) is None:
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


@handles(EndSeries)
async def end_series(cmd: EndSeries, ctx: FlowContext) -> Reply:
    session = await _mine(ctx, cmd.session_id)
    if session.series_id is None:
        raise UserError(f"Session #{session.id} isn't part of a series.", "Nothing was changed.")
    series = await ctx.tx.series(ctx.community.id, session.series_id)
    assert series is not None
    if series.ended_at is not None:
        raise UserError("That series has already ended.", "Nothing was changed.")
    cancelled = 0
    for occurrence in await ctx.tx.series_sessions(series.id):
        if (
            occurrence.state in OPEN_STATES
            and occurrence.start_at is not None
            and occurrence.start_at > ctx.now
        ):
            done = await ctx.tx.update_session(
                occurrence, ctx.now, bump_sequence=True, state=SessionState.CANCELLED,
                cancel_reason="series ended",
            )
            if done is None:
                raise _changed(occurrence.id)
            await ladder.cancel_nudges(ctx, done, "series ended")
            cancelled += 1
    if await ctx.tx.update_series(series, ended_at=ctx.now) is None:
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
    ctx: FlowContext, sessions: list[Session], msg: MessageBuilder, *, buttons: bool
) -> None:
    people = await ctx.tx.members_by_ids(
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


def _state_label(ctx: FlowContext, s: Session) -> str:
    if s.state is SessionState.PROPOSED:
        return "you need to answer" if s.proposed_by != ctx.me.id else "waiting for them"
    return str(s.state.value)


def _upcoming(ctx: FlowContext, sessions: list[Session]) -> list[Session]:
    return [s for s in sessions if s.state in OPEN_STATES
            and (s.start_at is None or (s.end_at is not None and s.end_at > ctx.now))]


@handles(ListSessions)
async def list_sessions(cmd: ListSessions, ctx: FlowContext) -> Reply:
    every = await ctx.tx.sessions_of(ctx.community.id, ctx.me.id, limit=500)
    upcoming = _upcoming(ctx, every)
    past = [s for s in every if s not in upcoming]
    past.sort(key=lambda s: s.start_at or s.created_at, reverse=True)
    msg = MessageBuilder().strong("Upcoming sessions")
    if not upcoming:
        msg.line("  none: book one with `book <name> when: …`")
    await _session_lines(ctx, upcoming[:20], msg, buttons=True)
    if past:
        msg.line("").strong("Past and cancelled")
        await _session_lines(ctx, past[:10], msg, buttons=False)
    msg.line("Change one with `reschedule <#> when: …` or `cancel <#> [reason]`.")
    return Reply.of(msg.build())


async def _mine_section(ctx: FlowContext) -> list[Message]:
    upcoming = _upcoming(ctx, await ctx.tx.sessions_of(
        ctx.community.id, ctx.me.id, states=list(OPEN_STATES), limit=200))
    if not upcoming:
        return []
    msg = MessageBuilder().strong("Your upcoming sessions")
    await _session_lines(ctx, upcoming[:5], msg, buttons=False)
    if len(upcoming) > 5:
        msg.line(f"  …and {len(upcoming) - 5} more: type `sessions`.")
    return [msg.build()]


async def _report_section(ctx: FlowContext) -> list[str]:
    """Sessions whose start falls in this calendar month (community zone), by state.

    By start time rather than by when they were booked, so a series set up today does not
    count its occurrences of next spring as this month's.
    """
    start = month_start(ctx.now, ctx.settings.default_timezone)
    end = (start + timedelta(days=32)).replace(day=1)
    stats = await ctx.tx.session_month_stats(ctx.community.id, start, end)
    return [
        f"Sessions this month: booked {stats['booked']}, held {stats['held']}, "
        f"missed {stats['missed']}, cancelled {stats['cancelled']} (by their start time)"
    ]


MINE_SECTIONS.append(_mine_section)
REPORT_SECTIONS.append(_report_section)


# -- typed commands ---------------------------------------------------------------------------


def _needs_other(a: Args, example: str) -> str:
    if not a.rest.strip():
        raise UserError("With whom?", f"For example: `{example}`.")
    return a.rest.strip()


def _pick(a: Args) -> PickSlot:
    parts = a.rest.strip().lstrip("#").split()
    if len(parts) != 2 or not all(p.isdigit() and len(p) <= 12 for p in parts):
        raise UserError("Which session and which time?", "For example: `pick 12 2`.")
    return PickSlot(int(parts[0]), int(parts[1]))


def _repeat(a: Args) -> RepeatSession:
    session_id = session_number(a.rest, "repeat 12 weekly times: 6")
    frequency = after_number(a.rest)
    if not frequency:
        raise UserError(
            "How often?", "Say weekly, biweekly or monthly: `repeat 12 weekly times: 6`."
        )
    if not a.get("until") and not a.get("times"):
        raise UserError("Until when, or how many times?",
                        "Add `until: 2027-03-01` or `times: 6`.")
    return RepeatSession(session_id, frequency, a.get("until") or None, a.get("times") or None)


_VERBS: tuple[tuple[str, str, str, Callable[[Args], Command], tuple[str, ...]], ...] = (
    ("book", "book <name> when: tomorrow 18:00 length: 45 topic: … agenda: …",
     "Propose a session time to your mentor (or mentee); they confirm.",
     lambda a: BookSession(_needs_other(a, "book Ada when: tomorrow 18:00"), a.get("when"),
                           a.get("length"), a.get("topic"), a.get("agenda")),
     ("when", "length", "topic", "agenda")),
    ("propose", "propose <mentor> slots: Tue 18:00; Wed 19:00; Thu 18:30 length: 30",
     "Offer your mentor up to three times; they pick one.",
     lambda a: ProposeSlots(_needs_other(a, "propose Ada slots: Tue 18:00; Wed 19:00"),
                            a.get("slots") or "", a.get("length"), a.get("topic"),
                            a.get("agenda")),
     ("slots", "length", "topic", "agenda")),
    ("confirm", "confirm <session #>", "Confirm the time proposed to you.",
     lambda a: ConfirmSession(session_number(a.rest, "confirm 12")), ()),
    ("pick", "pick <session #> <time #>", "Pick one of the times a mentee offered.",
     _pick, ()),
    ("counter", "counter <session #> when: <time>", "Answer a proposal with another time.",
     lambda a: CounterSession(session_number(a.rest, "counter 12 when: Wed 19:00"),
                              a.get("when") or after_number(a.rest) or None), ("when",)),
    ("reschedule", "reschedule <session #> when: <time> reason: …",
     "Move a session; the other side is told.",
     lambda a: RescheduleSession(session_number(a.rest, "reschedule 12 when: Thu 18:00"),
                                 a.get("when") or after_number(a.rest) or None,
                                 a.get("reason")), ("when", "reason")),
    ("cancel", "cancel <session #> [reason]", "Cancel a session; the other side is told.",
     lambda a: CancelSession(session_number(a.rest, "cancel 12"),
                             a.get("reason") or after_number(a.rest) or None), ("reason",)),
    ("agenda", "agenda <session #> <what you'd like to cover>",
     "Share or change a session's agenda.",
     lambda a: SetAgenda(session_number(a.rest, "agenda 12 review my CV"),
                         a.get("text") or after_number(a.rest) or None), ("text",)),
    ("repeat", "repeat <session #> weekly|biweekly|monthly until: <date> | times: N",
     "Make a confirmed session repeat.", _repeat, ("until", "times")),
    ("skip", "skip <session #> [reason]", "Skip one session of a series.",
     lambda a: SkipOccurrence(session_number(a.rest, "skip 12"),
                              a.get("reason") or after_number(a.rest) or None), ("reason",)),
    ("end-series", "end-series <session #>",
     "Stop a repeating series; upcoming ones are cancelled.",
     lambda a: EndSeries(session_number(a.rest, "end-series 12")), ()),
    ("sessions", "sessions", "Your upcoming and past sessions (mentors see agendas).",
     lambda a: ListSessions(), ()),
)

for _name, _usage, _summary, _build, _labels in _VERBS:
    register(Verb(_name, _usage, _summary, _build, group=GROUP, labels=_labels))
