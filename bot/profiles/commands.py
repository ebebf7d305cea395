"""Mentor profiles and personal settings: become a mentor, edit, pause, resume, delete; the
member's timezone and quiet hours; looking at a profile.

A profile holds topics, a short bio, the session lengths offered, weekly windows in the mentor's
own zone, and capacity (active mentees, sessions per month).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime

from bot.command import MemberRef, Need, ParamError, Role, command, param
from bot.context import CommandContext, reading
from bot.domain import Member, MentorProfile
from bot.errors import UserError
from bot.intros.waitlist import freed_up, recheck
from bot.messages import ChoiceStyle, Form, Message, MessageBuilder, MomentStyle, Reply, text
from bot.profiles.capacity import HOLDING_PLACES
from bot.text import bounded
from bot.timezones import describe_windows, parse_quiet_hours, parse_windows

log = logging.getLogger(__name__)

GENERAL = "General"
MENTORS = "Mentors"
MAX_TOPICS = 10
DEFAULT_LENGTHS = (30, 60)
DEFAULT_MENTEES = 2
DEFAULT_SESSIONS = 4


# -- becoming a mentor, editing ------------------------------------------------------------------


@dataclass(frozen=True)
class EditMentorProfile:
    """Create or change a mentor profile; only the given fields change."""

    topics: str | None = param.text("Topics (comma separated)", max_length=300, what="topics",
                                    placeholder="python, career growth, public speaking")
    bio: str | None = param.text("A short bio", long=True, max_length=500, what="bio")
    availability: str | None = param.text(
        "Weekly availability (your timezone)", max_length=300, what="availability",
        placeholder="Tue 18:00-20:00, Sat 10:00-12:00")
    lengths: str | None = param.text("Session lengths in minutes", max_length=40,
                                     what="minutes", placeholder="30, 45, 60")
    mentees: int | None = param.integer("Max active mentees", low=1, high=20,
                                        what="number of mentees")
    sessions: int | None = param.integer("Max sessions a month", low=1, high=40,
                                         what="number of sessions per month", in_form=False)


@command(
    EditMentorProfile, "mentor set", aliases=("mentor",), group=MENTORS,
    summary="Become a mentor, or change your mentor profile (`mentor` alone opens the form).",
    explain="Only the fields you give change. Availability is weekly, in your own timezone; "
            "sessions can only be booked inside it.",
    examples=("mentor set topics: python, career bio: Backend engineer lengths: 30, 60 "
              "availability: Tue 18:00-20:00 mentees: 3 sessions: 4",),
    form_title="Your mentor profile", submit_label="Save",
)
async def edit_profile(cmd: EditMentorProfile, ctx: CommandContext) -> Reply:
    current = await ctx.tx.profiles.get(ctx.community.id, ctx.me.id)
    if all(getattr(cmd, name) is None for name in vars(cmd)):
        if current is None:
            return Reply.of(
                MessageBuilder()
                .say("Thanks for offering to mentor! Tell me what you're happy to talk about.")
                .build(form=profile_form(ctx, None))
            )
        return Reply.of(await profile_message(ctx, ctx.me))
    clearing = cmd.availability is not None and cmd.availability.lower() in NO_WINDOWS
    if clearing and current is not None and current.windows:
        return Reply.of(
            MessageBuilder()
            .say("Remove all your weekly windows? Members could then book you at any time "
                 "(with the usual notice). Nothing else was changed.")
            .choice("Yes, remove my windows", "mentor clear-availability", ChoiceStyle.DANGER)
            .build()
        )
    if current is None and cmd.topics is None:
        raise ParamError("topics", "A new mentor profile needs topics.",
                         "Add `topics: python, career`.")
    if current is None and cmd.bio is None:
        raise ParamError("bio", "A new mentor profile needs a short bio.", "Add `bio: ...`.")
    with reading("topics"):
        topics = parse_topics(cmd.topics) if cmd.topics is not None else _kept(current).topics
    with reading("lengths"):
        lengths = (parse_lengths(cmd.lengths) if cmd.lengths
                   else (current.session_lengths if current else DEFAULT_LENGTHS))
    with reading("availability"):
        windows = (
            () if clearing
            else parse_windows(cmd.availability) if cmd.availability is not None
            else (current.windows if current else ())
        )
    profile = MentorProfile(
        member_id=ctx.me.id,
        community_id=ctx.community.id,
        bio=cmd.bio if cmd.bio is not None else _kept(current).bio,
        topics=topics,
        session_lengths=lengths,
        windows=windows,
        availability_timezone=(
            ctx.my_zone if cmd.availability is not None or current is None
            else current.availability_timezone
        ),
        max_mentees=cmd.mentees or (current.max_mentees if current else DEFAULT_MENTEES),
        max_sessions_per_month=(
            cmd.sessions or (current.max_sessions_per_month if current else DEFAULT_SESSIONS)
        ),
        paused_until=current.paused_until if current else None,
        created_at=current.created_at if current else ctx.now,
        updated_at=ctx.now,
    )
    await ctx.tx.profiles.save(profile)
    reply = MessageBuilder().say(
        "Your mentor profile is saved." if current else "You're now a mentor. Thank you!"
    )
    if ctx.me.timezone is None and cmd.availability:
        reply.line(f"Your windows are read in {ctx.my_zone}, the community default. "
                   "Set your own zone with ").hint("tz Area/City").say(
            ", then save your availability again.")
    ctx.outbox.extend(await freed_up(ctx.tx, ctx.community, ctx.settings, ctx.now, ctx.me,
                                     profile))
    return Reply.of(reply.build(), await profile_message(ctx, ctx.me))


#: What clears the weekly windows on purpose (an empty value is refused as a slip).
NO_WINDOWS = frozenset({"none", "no windows", "any time", "anytime"})


@dataclass(frozen=True)
class ClearAvailability:
    """Remove every weekly window (after ``availability: none`` asked to confirm)."""


@command(ClearAvailability, "mentor clear-availability", group=MENTORS, who=Role.MENTOR,
         summary="Remove all your weekly availability windows (members may book any time).")
async def clear_availability(cmd: ClearAvailability, ctx: CommandContext) -> Reply:
    profile = await _own_profile(ctx)
    if not profile.windows:
        return Reply.of(text("You have no weekly windows: members may already book any time."))
    await ctx.tx.profiles.save(replace(profile, windows=(), updated_at=ctx.now))
    return Reply.of(
        MessageBuilder().say("Your weekly windows are removed: members may book you at any "
                             "time, with the usual notice. Set them again with ")
        .hint("mentor set availability: Tue 18:00-20:00").say(".").build()
    )


def _kept(current: MentorProfile | None) -> MentorProfile:
    assert current is not None  # a new profile was refused above without topics and bio
    return current


def profile_form(ctx: CommandContext, profile: MentorProfile | None) -> Form:
    """The form to create or edit a profile, filled with the current values."""
    initial = {}
    if profile is not None:
        initial = {
            "topics": ", ".join(profile.topics),
            "bio": profile.bio,
            "availability": ", ".join(str(w) for w in profile.windows),
            "lengths": ", ".join(map(str, profile.session_lengths)),
            "mentees": str(profile.max_mentees),
        }
    else:
        initial = {"lengths": "30, 60", "mentees": str(DEFAULT_MENTEES)}
    return ctx.form(
        EditMentorProfile(),
        title="Your mentor profile" if profile else "Become a mentor",
        initial=initial,
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


@dataclass(frozen=True)
class OpenProfileForm:
    """Show the mentor profile form, filled with the current values."""


@command(OpenProfileForm, "mentor edit", group=MENTORS, who=Role.MENTOR,
         summary="Edit your mentor profile in a form.")
async def edit_form(cmd: OpenProfileForm, ctx: CommandContext) -> Reply:
    current = await ctx.tx.profiles.get(ctx.community.id, ctx.me.id)
    form = profile_form(ctx, current)
    return Reply.of(MessageBuilder().say("Edit your profile:").build(form=form))


# -- pause, resume, delete ------------------------------------------------------------------------


@dataclass(frozen=True)
class PauseMentoring:
    until: datetime = param.date("Until", need=Need.ALWAYS, positional=True, what="date")


@command(PauseMentoring, "mentor pause", group=MENTORS, who=Role.MENTOR,
         summary="Pause new requests until a date.", examples=("mentor pause 2026-12-24",))
async def pause(cmd: PauseMentoring, ctx: CommandContext) -> Reply:
    profile = await _own_profile(ctx)
    await ctx.tx.profiles.save(replace(profile, paused_until=cmd.until, updated_at=ctx.now))
    ctx.outbox.append(recheck(ctx.community, ctx.me.id, cmd.until))  # members waiting then
    return Reply.of(
        MessageBuilder()
        .say("Paused. You won't get new requests until ")
        .moment(cmd.until, ctx.my_zone, MomentStyle.DATE)
        .say(". Your current mentees are not affected.")
        .choice("Resume now", "mentor resume")
        .build()
    )


@dataclass(frozen=True)
class ResumeMentoring:
    pass


@command(ResumeMentoring, "mentor resume", group=MENTORS, who=Role.MENTOR,
         summary="Take requests again.")
async def resume(cmd: ResumeMentoring, ctx: CommandContext) -> Reply:
    profile = await _own_profile(ctx)
    if not profile.is_paused(ctx.now):
        return Reply.of(text("You're not paused: members can already ask you for intros."))
    resumed = replace(profile, paused_until=None, updated_at=ctx.now)
    await ctx.tx.profiles.save(resumed)
    ctx.outbox.extend(await freed_up(ctx.tx, ctx.community, ctx.settings, ctx.now, ctx.me,
                                     resumed))
    return Reply.of(text("Welcome back! Members can ask you for intros again."))


@dataclass(frozen=True)
class DeleteMentorProfile:
    confirm: str | None = param.choice("Confirm", ("confirm",), positional=True)


@command(DeleteMentorProfile, "mentor delete", group=MENTORS, who=Role.MENTOR,
         summary="Delete your mentor profile (open requests to you are declined).",
         examples=("mentor delete confirm",))
async def delete(cmd: DeleteMentorProfile, ctx: CommandContext) -> Reply:
    await _own_profile(ctx)
    if cmd.confirm is None:
        return Reply.of(
            MessageBuilder()
            .say("Delete your mentor profile? Open requests to you will be declined.")
            .choice("Yes, delete it", "mentor delete confirm", ChoiceStyle.DANGER)
            .build()
        )
    from bot.intros.commands import close_open_requests_to

    declined = await close_open_requests_to(ctx, ctx.me, "the mentor stopped mentoring")
    await ctx.tx.profiles.delete(ctx.community.id, ctx.me.id)
    extra = {0: "", 1: " The open request to you was declined and the member told."}.get(
        declined, f" {declined} open requests to you were declined and the members told."
    )
    return Reply.of(text("Your mentor profile is deleted." + extra))


async def _own_profile(ctx: CommandContext) -> MentorProfile:
    profile = await ctx.tx.profiles.get(ctx.community.id, ctx.me.id)
    if profile is None:
        raise UserError("You're not a mentor yet.", "Type `mentor` to become one.")
    return profile


# -- looking at a profile ------------------------------------------------------------------------


@dataclass(frozen=True)
class ShowProfile:
    of: MemberRef | None = param.member("Whose profile", need=Need.OPTIONAL, what="member",
                                        source=None)


@command(ShowProfile, "profile", group=GENERAL, read_only=True,
         summary="Show your profile, or a mentor's.", examples=("profile Grace",))
async def show_profile(cmd: ShowProfile, ctx: CommandContext) -> Reply:
    member = await ctx.resolve_member(cmd.of, "of") if cmd.of else ctx.me
    return Reply.of(await profile_message(ctx, member))


async def profile_message(ctx: CommandContext, member: Member) -> Message:
    profile = await ctx.tx.profiles.get(ctx.community.id, member.id)
    own = member.id == ctx.me.id
    msg = MessageBuilder()
    msg.mention(ctx.address(member)).say(f" · timezone {ctx.zone_of(member)}")
    if own and member.timezone:
        msg.say(" (change with ").hint("tz Area/City").say(")")
    elif own:
        msg.say(" (the community default; set yours with ").hint("tz Area/City").say(")")
    if profile is None:
        msg.line("Not a mentor." if not own else "You're not a mentor yet.")
        if own:
            msg.choice("Become a mentor", "mentor", ChoiceStyle.PRIMARY)
        return msg.build()
    msg.line("Topics: ").user_text(", ".join(profile.topics))
    msg.line("Bio: ").user_text(profile.bio)
    msg.line("Sessions: " + ", ".join(f"{n} min" for n in profile.session_lengths))
    msg.line("Availability: " + describe_windows(
        profile.windows, profile.availability_timezone,
        reader_zone=None if own else ctx.my_zone, now=ctx.now))
    active = await ctx.tx.mentorships.counts_by_mentor(ctx.community.id, HOLDING_PLACES)
    msg.line(
        f"Capacity: {active.get(member.id, 0)}/{profile.max_mentees} mentees, "
        f"up to {profile.max_sessions_per_month} sessions a month"
    )
    if profile.is_paused(ctx.now) and profile.paused_until is not None:
        msg.line("Paused until ").moment(profile.paused_until, ctx.my_zone, MomentStyle.DATE)
    if own:
        msg.choice("Edit", "mentor edit")
        if profile.is_paused(ctx.now):
            msg.choice("Resume", "mentor resume", ChoiceStyle.PRIMARY)
        msg.choice("Delete", "mentor delete", ChoiceStyle.DANGER)
    else:
        msg.choice(f"Ask {member.display_name[:40]} for an intro",
                   f"request <member:{member.platform_user_id}>", ChoiceStyle.PRIMARY)
    return msg.build()


async def own_profile_section(ctx: CommandContext) -> list[Message]:
    """The home view starts with the member's own profile."""
    return [await profile_message(ctx, ctx.me)]


# -- the member's own settings ---------------------------------------------------------------------


@dataclass(frozen=True)
class SetTimezone:
    zone: str = param.timezone("Timezone", what="timezone")


@command(SetTimezone, "tz", aliases=("timezone",), group=GENERAL,
         summary="Set your timezone, e.g. `tz Europe/Berlin`.", examples=("tz Europe/Berlin",))
async def set_timezone(cmd: SetTimezone, ctx: CommandContext) -> Reply:
    await ctx.tx.members.update(ctx.me.id, timezone=cmd.zone, timezone_source="manual")
    return Reply.of(
        MessageBuilder()
        .say(f"Your timezone is now {cmd.zone}. It's ")
        .moment(ctx.now, cmd.zone, MomentStyle.TIME)
        .say(" for you now.")
        .build()
    )


@dataclass(frozen=True)
class SetQuietHours:
    hours: str = param.text("Quiet hours (HH:MM-HH:MM or off)", need=Need.ALWAYS,
                            positional=True, max_length=20, what="quiet hours")


@command(SetQuietHours, "quiet", group=GENERAL,
         summary="Hours when follow-ups wait (your local time), or `off`.",
         examples=("quiet 22:00-08:00", "quiet off"))
async def set_quiet_hours(cmd: SetQuietHours, ctx: CommandContext) -> Reply:
    with reading("hours"):
        hours = parse_quiet_hours(cmd.hours)
    await ctx.tx.members.update(ctx.me.id, quiet_hours=hours)
    if not hours:
        return Reply.of(text("Quiet hours are off: follow-ups may arrive at any time."))
    return Reply.of(text(f"Follow-ups will wait outside {hours} ({ctx.my_zone})."))


COMMANDS = (
    set_timezone, set_quiet_hours, show_profile,
    edit_profile, edit_form, pause, resume, delete, clear_availability,
)
