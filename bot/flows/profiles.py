"""Mentor profiles and personal settings: become a mentor, edit, pause, resume, delete; timezone.

A profile holds topics, a short bio, the session lengths offered, weekly windows in the mentor's
own zone, and capacity (active mentees, sessions per month).
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from bot import commands as c
from bot.context import FlowContext
from bot.domain import IntroState, Member, MentorProfile
from bot.errors import UserError
from bot.messages import (
    ChoiceStyle,
    FieldKind,
    Form,
    FormField,
    MessageBuilder,
    MomentStyle,
    Reply,
    text,
)
from bot.text import bounded
from bot.timezones import (
    describe_windows,
    parse_quiet_hours,
    parse_timezone,
    parse_until,
    parse_windows,
)

log = logging.getLogger(__name__)

MAX_TOPICS = 10
DEFAULT_LENGTHS = (30, 60)
DEFAULT_MENTEES = 2
DEFAULT_SESSIONS = 4


def profile_form(profile: MentorProfile | None) -> Form:
    """The form to create or edit a profile (five fields: Discord's modal limit)."""
    return Form(
        title="Your mentor profile" if profile else "Become a mentor",
        command="mentor set",
        fields=(
            FormField("topics", "Topics (comma separated)", max_length=300,
                      placeholder="python, career growth, public speaking",
                      initial=", ".join(profile.topics) if profile else ""),
            FormField("bio", "A short bio", FieldKind.LONG_TEXT, max_length=500,
                      initial=profile.bio if profile else ""),
            FormField("availability", "Weekly availability (your timezone)", required=False,
                      max_length=300, placeholder="Tue 18:00-20:00, Sat 10:00-12:00",
                      initial=", ".join(str(w) for w in profile.windows) if profile else ""),
            FormField("lengths", "Session lengths in minutes", required=False, max_length=40,
                      placeholder="30, 45, 60",
                      initial=(", ".join(map(str, profile.session_lengths))
                               if profile else "30, 60")),
            FormField("mentees", "Max active mentees", required=False, max_length=3,
                      initial=str(profile.max_mentees) if profile else str(DEFAULT_MENTEES)),
        ),
        submit_label="Save",
    )


def parse_topics(value: str) -> tuple[str, ...]:
    topics: list[str] = []
    for raw in re.split(r"[,;\n]+", value):
        if not raw.strip():
            continue
        topic = bounded(raw, what="topic", max_length=60).lower()
        if topic not in topics:
            topics.append(topic)
    if not topics:
        raise UserError("Please list at least one topic.", "For example: `topics: python, career`.")
    if len(topics) > MAX_TOPICS:
        raise UserError(f"That is {len(topics)} topics.", f"Please pick at most {MAX_TOPICS}.")
    return tuple(topics)


def parse_lengths(value: str) -> tuple[int, ...]:
    lengths: set[int] = set()
    for raw in re.split(r"[,;\s]+", value.replace("min", "")):
        if not raw:
            continue
        if not raw.isdigit() or not 15 <= int(raw) <= 180 or int(raw) % 5:
            raise UserError(
                f"“{raw[:20]}” is not a session length I can offer.",
                "Use minutes between 15 and 180 in steps of 5, e.g. `lengths: 30, 45, 60`.",
            )
        lengths.add(int(raw))
    if not lengths:
        raise UserError(
            "Please give at least one session length.", "For example: `lengths: 30, 60`."
        )
    return tuple(sorted(lengths))


def parse_count(value: str, what: str, low: int, high: int) -> int:
    if not value.strip().isdigit() or not low <= int(value) <= high:
        raise UserError(f"The {what} must be a whole number from {low} to {high}.")
    return int(value)


async def edit_profile(cmd: c.EditMentorProfile, ctx: FlowContext) -> Reply:
    current = await ctx.tx.profile(ctx.community.id, ctx.me.id)
    given = {k: v for k, v in vars(cmd).items() if v is not None}
    if not given:
        if current is None:
            return Reply.of(
                MessageBuilder()
                .say("Thanks for offering to mentor! Tell me what you're happy to talk about.")
                .build(form=profile_form(None))
            )
        return await show_profile(c.ShowProfile(), ctx)
    if current is None and "topics" not in given:
        raise UserError("A new mentor profile needs topics.", "Add `topics: python, career`.")
    if current is None and "bio" not in given:
        raise UserError("A new mentor profile needs a short bio.", "Add `bio: ...`.")
    topics = parse_topics(cmd.topics) if cmd.topics is not None else current.topics  # type: ignore[union-attr]
    bio = (
        bounded(cmd.bio, what="bio", max_length=500, multiline=True)
        if cmd.bio is not None
        else current.bio  # type: ignore[union-attr]
    )
    lengths = (
        parse_lengths(cmd.lengths)
        if cmd.lengths
        else (current.session_lengths if current else DEFAULT_LENGTHS)
    )
    zone = ctx.my_zone
    windows = (
        parse_windows(cmd.availability)
        if cmd.availability is not None
        else (current.windows if current else ())
    )
    mentees = (
        parse_count(cmd.mentees, "number of mentees", 1, 20)
        if cmd.mentees
        else (current.max_mentees if current else DEFAULT_MENTEES)
    )
    sessions = (
        parse_count(cmd.sessions, "number of sessions per month", 1, 40)
        if cmd.sessions
        else (current.max_sessions_per_month if current else DEFAULT_SESSIONS)
    )
    profile = MentorProfile(
        member_id=ctx.me.id,
        community_id=ctx.community.id,
        bio=bio,
        topics=topics,
        session_lengths=lengths,
        windows=windows,
        availability_timezone=zone if cmd.availability is not None or current is None
        else current.availability_timezone,
        max_mentees=mentees,
        max_sessions_per_month=sessions,
        paused_until=current.paused_until if current else None,
        created_at=current.created_at if current else ctx.now,
        updated_at=ctx.now,
    )
    await ctx.tx.save_profile(profile)
    reply = MessageBuilder().say(
        "Your mentor profile is saved." if current else "You're now a mentor. Thank you!"
    )
    if ctx.me.timezone is None and cmd.availability:
        reply.line(
            f"Your windows are read in {zone}, the community default. "
            "Set your own zone with `tz Area/City`, then save your availability again."
        )
    await _notify_waitlist(ctx, ctx.me, profile)
    return Reply.of(reply.build(), *(await show_profile(c.ShowProfile(), ctx)).messages)


async def _notify_waitlist(ctx: FlowContext, mentor: Member, profile: MentorProfile) -> None:
    """Members waiting for a topic this mentor covers hear that someone is free."""
    from bot.flows.loads import mentor_loads
    from bot.matching import Load, is_full, topic_fit

    if profile.is_paused(ctx.now):
        return
    loads = await mentor_loads(ctx.tx, ctx.community.id, ctx.settings.default_timezone, ctx.now)
    if is_full(profile, loads.get(mentor.id, Load())):
        return  # still no room: telling them now would send them to a mentor who can't take them
    for entry in await ctx.tx.open_waitlist(ctx.community.id):
        if entry.member_id == mentor.id:
            continue
        fits = any(
            topic_fit(entry.topic, t, ctx.settings.synonyms) >= 0.45 for t in profile.topics
        )
        if fits and await ctx.tx.close_waitlist_entry(entry.id, ctx.now):
            recipient = await ctx.tx.member(ctx.community.id, entry.member_id)
            ctx.notify("waitlist.freed", recipient=recipient, topic=entry.topic)


async def show_profile(cmd: c.ShowProfile, ctx: FlowContext) -> Reply:
    member = await ctx.resolve_member(cmd.of) if cmd.of else ctx.me
    profile = await ctx.tx.profile(ctx.community.id, member.id)
    own = member.id == ctx.me.id
    msg = MessageBuilder()
    msg.mention(ctx.address(member)).say(f" · timezone {ctx.zone_of(member)}")
    if own:
        msg.say(" (change with `tz Area/City`)" if member.timezone else
                " (the community default; set yours with `tz Area/City`)")
    if profile is None:
        msg.line("Not a mentor." if not own else "You're not a mentor yet.")
        if own:
            msg.choice("Become a mentor", "mentor", ChoiceStyle.PRIMARY)
        return Reply.of(msg.build())
    msg.line("Topics: ").user_text(", ".join(profile.topics))
    msg.line("Bio: ").user_text(profile.bio)
    msg.line("Sessions: " + ", ".join(f"{n} min" for n in profile.session_lengths))
    msg.line("Availability: " + describe_windows(profile.windows, profile.availability_timezone))
    active = await ctx.tx.intro_counts_by_mentor(ctx.community.id, [IntroState.ACCEPTED])
    msg.line(
        f"Capacity: {active.get(member.id, 0)}/{profile.max_mentees} mentees, "
        f"up to {profile.max_sessions_per_month} sessions a month"
    )
    if profile.is_paused(ctx.now) and profile.paused_until is not None:
        msg.line("Paused until ").moment(
            profile.paused_until, ctx.my_zone, MomentStyle.DATE
        )
    if own:
        msg.choice("Edit", "mentor edit")
        if profile.is_paused(ctx.now):
            msg.choice("Resume", "mentor resume", ChoiceStyle.PRIMARY)
        msg.choice("Delete", "mentor delete", ChoiceStyle.DANGER)
    else:
        msg.choice(f"Ask {member.display_name[:40]} for an intro",
                   f"request <member:{member.platform_user_id}>", ChoiceStyle.PRIMARY)
    return Reply.of(msg.build())


async def edit_form(cmd: c.OpenProfileForm, ctx: FlowContext) -> Reply:
    current = await ctx.tx.profile(ctx.community.id, ctx.me.id)
    return Reply.of(MessageBuilder().say("Edit your profile:").build(form=profile_form(current)))


async def pause(cmd: c.PauseMentoring, ctx: FlowContext) -> Reply:
    profile = await _own_profile(ctx)
    until = parse_until(cmd.until, ctx.my_zone, ctx.now)
    if until - ctx.now > timedelta(days=366):
        raise UserError("That is more than a year away.", "Pick a date within a year.")
    await ctx.tx.save_profile(_replace(profile, paused_until=until, updated_at=ctx.now))
    return Reply.of(
        MessageBuilder()
        .say("Paused. You won't get new requests until ")
        .moment(until, ctx.my_zone, MomentStyle.DATE)
        .say(". Your current mentees are not affected.")
        .choice("Resume now", "mentor resume")
        .build()
    )


async def resume(cmd: c.ResumeMentoring, ctx: FlowContext) -> Reply:
    profile = await _own_profile(ctx)
    if not profile.is_paused(ctx.now):
        return Reply.of(text("You're not paused: members can already ask you for intros."))
    resumed = _replace(profile, paused_until=None, updated_at=ctx.now)
    await ctx.tx.save_profile(resumed)
    await _notify_waitlist(ctx, ctx.me, resumed)
    return Reply.of(text("Welcome back! Members can ask you for intros again."))


async def delete(cmd: c.DeleteMentorProfile, ctx: FlowContext) -> Reply:
    await _own_profile(ctx)
    if not cmd.confirmed:
        return Reply.of(
            MessageBuilder()
            .say("Delete your mentor profile? Open requests to you will be declined.")
            .choice("Yes, delete it", "mentor delete confirm", ChoiceStyle.DANGER)
            .build()
        )
    from bot.flows.intros import close_open_requests_to

    declined = await close_open_requests_to(ctx, ctx.me, "the mentor stopped mentoring")
    await ctx.tx.delete_profile(ctx.community.id, ctx.me.id)
    extra = {0: "", 1: " The open request to you was declined and the member told."}.get(
        declined, f" {declined} open requests to you were declined and the members told."
    )
    return Reply.of(text("Your mentor profile is deleted." + extra))


async def set_timezone(cmd: c.SetTimezone, ctx: FlowContext) -> Reply:
    zone = parse_timezone(cmd.zone)
    await ctx.tx.update_member(ctx.me.id, timezone=zone)
    return Reply.of(
        MessageBuilder()
        .say(f"Your timezone is now {zone}. It's ")
        .moment(ctx.now, zone, MomentStyle.TIME)
        .say(" for you now.")
        .build()
    )


async def set_quiet_hours(cmd: c.SetQuietHours, ctx: FlowContext) -> Reply:
    hours = parse_quiet_hours(cmd.hours)
    await ctx.tx.update_member(ctx.me.id, quiet_hours=hours)
    if not hours:
        return Reply.of(text("Quiet hours are off: follow-ups may arrive at any time."))
    return Reply.of(text(f"Follow-ups will wait outside {hours} ({ctx.my_zone})."))


async def _own_profile(ctx: FlowContext) -> MentorProfile:
    profile = await ctx.tx.profile(ctx.community.id, ctx.me.id)
    if profile is None:
        raise UserError("You're not a mentor yet.", "Type `mentor` to become one.")
    return profile


def _replace(profile: MentorProfile, **changes: object) -> MentorProfile:
    from dataclasses import replace

    return replace(profile, **changes)  # type: ignore[arg-type]
