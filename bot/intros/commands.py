"""Finding mentors and double opt-in intro requests.

A member asks for an intro with a topic and context; the mentor answers privately (accept,
decline, ask for more info, decline and pause). Only on accept are both introduced, in a private
space. The member hears about every step; every message to someone else goes through the
outbox, so it is sent exactly once even across restarts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.command import MemberRef, Need, ParamError, Source, command, param
from bot.context import CommandContext
from bot.domain import IntroRequest, IntroState, Member, MentorProfile
from bot.errors import NotAllowed, UserError
from bot.intros import nudges as k
from bot.intros.waitlist import fits, recheck, rechecks
from bot.matching import Load, fitting_topics, is_full, rank_mentors
from bot.mentorships.lifecycle import start_mentorship
from bot.messages import ChoiceStyle, Message, MessageBuilder, MomentStyle, Reply, text
from bot.profiles.capacity import mentor_loads
from bot.text import plural, shorten

log = logging.getLogger(__name__)

MENTEES = "Mentees"
MENTORS = "Mentors"
MIN_CONTEXT = 20
MAX_CONTEXT = 1500
MAX_TOPIC = 80
DEFAULT_PAUSE = timedelta(weeks=4)


# -- find a mentor -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FindMentors:
    topic: str = param.topic("Topic", need=Need.ALWAYS, positional=True)


@command(FindMentors, "find", group=MENTEES, read_only=True,
         summary="Find mentors for a topic, best fit first.", examples=("find python",),
         explain="Mentors are ranked by how well their topics fit, how much room they have, "
                 "how much of their week falls in your waking hours, and fewer recent intros.")
async def find(cmd: FindMentors, ctx: CommandContext) -> Reply:
    topic = cmd.topic
    profiles = await ctx.tx.profiles.with_topics(ctx.community.id, fitting_topics(
        topic, await ctx.tx.profiles.topics(ctx.community.id), ctx.settings.synonyms))
    members = await ctx.tx.members.by_ids(ctx.community.id, (p.member_id for p in profiles))
    pairs = [(members[p.member_id], p) for p in profiles if p.member_id in members]
    loads = await mentor_loads(ctx.tx, ctx.community.id, ctx.settings.default_timezone, ctx.now)
    candidates, unavailable = rank_mentors(
        topic,
        seeker=ctx.me,
        seeker_zone=ctx.my_zone,
        quiet_hours=(
            ctx.me.quiet_hours if ctx.me.quiet_hours is not None else ctx.settings.quiet_hours
        ),
        mentors=pairs,
        loads=loads,
        synonyms=ctx.settings.synonyms,
        now=ctx.now,
    )
    msg = MessageBuilder()
    if not candidates:
        msg.say("No mentor is free for “").user_text(topic).say("” right now.")
        if unavailable:
            msg.line(
                f"{len(unavailable)} mentor(s) cover it but are full or paused at the moment."
            )
        msg.line("I can tell you as soon as one frees up.")
        msg.choice("Tell me when one frees up", f"notify {topic}", ChoiceStyle.PRIMARY)
        return Reply.of(msg.build())
    msg.say("Mentors for “").user_text(topic).say("”, best fit first:")
    for i, cand in enumerate(candidates, start=1):
        msg.line(f"{i}. ").mention(ctx.address(cand.mentor)).say(" · ")
        msg.user_text(cand.reasons[0]).say(" · " + " · ".join(cand.reasons[1:]))
        msg.choice(
            shorten(f"Ask {cand.mentor.display_name}", 40),
            f"request <member:{cand.mentor.platform_user_id}>",
            ChoiceStyle.PRIMARY if i == 1 else ChoiceStyle.DEFAULT,
        )
    if unavailable:
        msg.line(f"({len(unavailable)} more cover it but are full or paused.)")
        msg.choice("Tell me when one frees up", f"notify {topic}")
    return Reply.of(msg.build())


@dataclass(frozen=True)
class WaitForMentor:
    """"Tell me when one frees up"."""

    topic: str = param.topic("Topic", need=Need.ALWAYS, positional=True)
    from_request: int | None = param.number(
        "Your earlier request #", what="request", need=Need.OPTIONAL, positional=False,
        aliases=("from",), in_form=False)


@command(WaitForMentor, "notify", group=MENTEES,
         summary="Tell me when a mentor for this topic frees up.",
         explain="I tell you once, as soon as a mentor whose topics fit can take you: when "
                 "someone joins, makes room, comes back from a break, or a new month starts. "
                 "First come, first told.",
         examples=("notify python",))
async def wait_for_mentor(cmd: WaitForMentor, ctx: CommandContext) -> Reply:
    topic = cmd.topic
    earlier = await _own_request(ctx, cmd.from_request) if cmd.from_request else None
    waiting = await ctx.tx.waitlist.open(ctx.community.id, ctx.me.id)
    if any(w.topic.lower() == topic.lower() for w in waiting):
        return Reply.of(text("You're already on the list for that topic; I'll tell you."))
    if len(waiting) >= 5:
        raise UserError("You're waiting for 5 topics already.", "That's the most I keep for you.")
    await ctx.tx.waitlist.add(ctx.community.id, ctx.me.id, topic, ctx.now,
                              intro_id=earlier.id if earlier else None)
    ctx.outbox.extend(await rechecks(ctx.tx, ctx.community, ctx.settings, ctx.now, topic))
    return Reply.of(
        MessageBuilder()
        .say("Got it: I'll message you when a mentor for “")
        .user_text(topic)
        .say("” is free.")
        .build()
    )


@dataclass(frozen=True)
class StopWaiting:
    entry: int = param.number("Waiting #", what="waiting entry")


@command(StopWaiting, "stop-waiting", group=MENTEES,
         summary="Stop waiting for a mentor for a topic (`my` lists them).",
         examples=("stop-waiting 3",))
async def stop_waiting(cmd: StopWaiting, ctx: CommandContext) -> Reply:
    mine = {w.id: w for w in await ctx.tx.waitlist.open(ctx.community.id, ctx.me.id)}
    entry = mine.get(cmd.entry)
    if entry is None or not await ctx.tx.waitlist.close(entry.id, ctx.now, "stopped waiting"):
        raise UserError(f"You're not waiting under #{cmd.entry}.", "Type `my` to see yours.")
    return Reply.of(MessageBuilder().say("You're no longer waiting for “").user_text(entry.topic)
                    .say("”.").build())


async def _own_request(ctx: CommandContext, intro_id: int) -> IntroRequest:
    intro = await ctx.tx.intros.get(ctx.community.id, intro_id)
    if intro is None or intro.member_id != ctx.me.id:
        raise NotAllowed(f"Request #{intro_id} isn't yours.", "Type `my` to see yours.")
    return intro


# -- ask for an intro ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestIntro:
    mentor: MemberRef = param.member("Mentor", what="mentor", source=Source.MENTORS)
    topic: str | None = param.topic("Topic", need=Need.FORM,
                                    placeholder="e.g. python, career growth")
    context: str | None = param.text(
        "Context: what you want, what you tried", need=Need.FORM, long=True,
        min_length=MIN_CONTEXT, max_length=MAX_CONTEXT, what="context",
        placeholder="I'm learning X and got stuck on Y; I tried Z...")
    from_request: int | None = param.number(
        "Your earlier request #", what="request", need=Need.OPTIONAL, positional=False,
        aliases=("from",), in_form=False)


@command(
    RequestIntro, "request", group=MENTEES, form_title="Ask for an intro",
    submit_label="Send request",
    summary="Ask a mentor for an intro (they accept or decline privately).",
    explain="Give a topic and some context: what you want to get out of it and what you tried "
            "so far (at least a sentence or two). Without them a form opens. The context is "
            "the last field: anything after `context:` is your text, even words like "
            "“topic:”.",
    examples=("request Grace topic: python context: I want to learn asyncio properly; "
              "I tried the docs and got lost.",),
)
async def request_intro(cmd: RequestIntro, ctx: CommandContext) -> Reply:
    mentor = await ctx.resolve_member(cmd.mentor, "mentor")
    if mentor.id == ctx.me.id:
        raise UserError("You can't ask yourself for an intro.", "Try `find <topic>`.")
    profile = await ctx.tx.profiles.get(ctx.community.id, mentor.id)
    if profile is None:
        raise UserError(
            f"{mentor.display_name} isn't a mentor here.", "Use `find <topic>` to see mentors."
        )
    mine = await ctx.tx.intros.of(
        ctx.community.id, member_id=ctx.me.id,
        states=[IntroState.PENDING, IntroState.INFO_REQUESTED],
    )
    open_one = next((r for r in mine if r.mentor_id == mentor.id), None)
    if open_one is not None:
        raise UserError(
            f"You already have an open request to {mentor.display_name} (#{open_one.id}).",
            "Wait for their answer, or `withdraw` it first.",
        )
    if len(mine) >= ctx.settings.request_limit:
        raise UserError(
            f"You have {plural(len(mine), 'open request')}, the most at once here.",
            "Wait for an answer or withdraw one (type `my` to see them).",
        )
    await _check_available(ctx, mentor, profile)
    if cmd.topic is None or cmd.context is None:
        earlier = await _own_request(ctx, cmd.from_request) if cmd.from_request else None
        initial = {"topic": earlier.topic, "context": earlier.context} if earlier else {}
        if cmd.topic is not None:
            initial["topic"] = cmd.topic
        return Reply.of(
            MessageBuilder()
            .say("Tell ").mention(ctx.address(mentor)).say(" what you'd like to talk about:")
            .build(form=ctx.form(
                replace(cmd, mentor=MemberRef(f"<member:{mentor.platform_user_id}>")),
                title=f"Ask {mentor.display_name}", initial=initial,
            ))
        )
    if len(cmd.context.split()) < 4:
        raise ParamError(
            "context", "The context needs a sentence or two.",
            "Say what you want to get out of it and what you tried so far.",
        )
    intro = await ctx.tx.intros.add(
        ctx.community.id, ctx.me.id, mentor.id, cmd.topic, cmd.context, ctx.now
    )
    ctx.notify(k.INTRO_REQUEST, recipient=mentor, intro_id=intro.id)
    if ctx.settings.announce_requests and ctx.settings.mentors_channel:
        ctx.notify(k.INTRO_ANNOUNCE, channel=ctx.settings.mentors_channel, intro_id=intro.id)
    ctx.notify(
        k.INTRO_DEADLINE_NUDGE, recipient=mentor, intro_id=intro.id,
        due_at=ctx.now + timedelta(hours=ctx.settings.request_nudge_hours),
    )
    ctx.notify(
        k.INTRO_RELEASE, recipient=ctx.me, intro_id=intro.id,
        due_at=ctx.now + timedelta(hours=ctx.settings.request_release_hours),
    )
    return Reply.of(
        MessageBuilder()
        .say(f"Request #{intro.id} sent to ")
        .mention(ctx.address(mentor))
        .say(". I'll tell you as soon as they answer. If they haven't within ")
        .say(f"{ctx.settings.request_release_hours} hours, I'll suggest another mentor.")
        .choice("Withdraw", f"withdraw {intro.id}", ChoiceStyle.DANGER)
        .build()
    )


async def _check_available(ctx: CommandContext, mentor: Member, profile: MentorProfile) -> None:
    loads = await mentor_loads(ctx.tx, ctx.community.id, ctx.settings.default_timezone, ctx.now)
    load = loads.get(mentor.id, Load())
    why = ""
    if profile.is_paused(ctx.now):
        why = "is taking a break"
    elif is_full(profile, load):
        why = "is fully booked"
    if why:
        raise UserError(
            f"{mentor.display_name} {why} right now.",
            "Try `find <topic>` for someone else, or `notify <topic>` to hear when one frees up.",
        )


@dataclass(frozen=True)
class WithdrawIntro:
    intro_id: int = param.number("Request #", what="request", source=Source.MY_REQUESTS)


@command(WithdrawIntro, "withdraw", group=MENTEES,
         summary="Withdraw a request that is still open.", examples=("withdraw 12",))
async def withdraw(cmd: WithdrawIntro, ctx: CommandContext) -> Reply:
    intro = await ctx.tx.intros.get(ctx.community.id, cmd.intro_id)
    if intro is None or intro.member_id != ctx.me.id:
        raise NotAllowed(f"Request #{cmd.intro_id} isn't yours.", "Type `my` to see yours.")
    if not intro.state.is_open:
        raise UserError(
            f"Request #{intro.id} is already {intro.state.label}.", "Nothing was changed."
        )
    await _move(ctx, intro, IntroState.WITHDRAWN)
    await ctx.tx.nudges.skip_pending("request withdrawn", intro_id=intro.id)
    mentor = await ctx.tx.members.get(ctx.community.id, intro.mentor_id)
    ctx.notify(k.INTRO_WITHDRAWN, recipient=mentor, intro_id=intro.id)
    return Reply.of(text(f"Request #{intro.id} is withdrawn; the mentor was told."))


@dataclass(frozen=True)
class AddIntroInfo:
    """The member answers the mentor's request for more info."""

    intro_id: int = param.number("Request #", what="request", source=Source.MY_REQUESTS)
    text: str | None = param.text("Your answer", need=Need.FORM, long=True, positional=True,
                                  aliases=("text",), max_length=1500, what="answer")


@command(AddIntroInfo, "answer", group=MENTEES, form_title="Answer the mentor",
         summary="Answer a mentor's question about your request.",
         examples=("answer 12 I'm using Python 3.12 on Windows.",))
async def add_info(cmd: AddIntroInfo, ctx: CommandContext) -> Reply:
    intro = await ctx.tx.intros.get(ctx.community.id, cmd.intro_id)
    if intro is None or intro.member_id != ctx.me.id:
        raise NotAllowed(f"Request #{cmd.intro_id} isn't yours.", "Type `my` to see yours.")
    if intro.state is not IntroState.INFO_REQUESTED:
        raise UserError(
            f"Request #{intro.id} has no open question from the mentor ({intro.state.label}).",
            "Nothing was changed.",
        )
    if cmd.text is None:
        return Reply.of(
            MessageBuilder().say("The mentor asked: ").user_text(intro.answer_note or "")
            .build(form=ctx.form(cmd))
        )
    await _move(ctx, intro, IntroState.PENDING)
    await ctx.tx.intros.add_note(ctx.community.id, intro.id, ctx.me.id, cmd.text, ctx.now)
    mentor = await ctx.tx.members.get(ctx.community.id, intro.mentor_id)
    ctx.notify(k.INTRO_INFO_ADDED, recipient=mentor, intro_id=intro.id, answer=cmd.text)
    return Reply.of(text(f"Sent. Request #{intro.id} is back with the mentor."))


# -- the mentor answers --------------------------------------------------------------------------


@dataclass(frozen=True)
class AcceptIntro:
    intro_id: int = param.number("Request #", what="request", source=Source.REQUESTS_TO_ME)


@command(AcceptIntro, "accept", group=MENTORS, summary="Accept an intro request.",
         examples=("accept 12",))
async def accept(cmd: AcceptIntro, ctx: CommandContext) -> Reply:
    intro = await _intro_for_mentor(ctx, cmd.intro_id)
    member = await _member_of(ctx, intro)
    await _move(ctx, intro, IntroState.ACCEPTED)
    await ctx.tx.nudges.skip_pending("request answered", intro_id=intro.id)
    ctx.notify(k.INTRO_SPACE, intro_id=intro.id)
    ctx.notify(k.INTRO_ACCEPTED, recipient=member, intro_id=intro.id)
    await start_mentorship(ctx, intro, member)
    profile = await ctx.tx.profiles.get(ctx.community.id, ctx.me.id)
    for entry in await ctx.tx.waitlist.open(ctx.community.id, member.id):
        if profile is not None and fits(entry.topic, profile, ctx.settings):
            await ctx.tx.waitlist.close(entry.id, ctx.now, "found a mentor")
    return Reply.of(
        MessageBuilder().say("Accepted! I'm introducing you and ").mention(ctx.address(member))
        .say(" in a private space now.").build()
    )


@dataclass(frozen=True)
class DeclineIntro:
    intro_id: int = param.number("Request #", what="request", source=Source.REQUESTS_TO_ME)
    note: str | None = param.text("Reason (shared with the member)", positional=True,
                                  aliases=("reason", "note"), long=True, max_length=500,
                                  what="reason")


@command(DeclineIntro, "decline", group=MENTORS, summary="Decline an intro request.",
         examples=("decline 12 I'm not the right person for Rust, sorry!",))
async def decline(cmd: DeclineIntro, ctx: CommandContext) -> Reply:
    intro = await _intro_for_mentor(ctx, cmd.intro_id)
    member = await _member_of(ctx, intro)
    await _decline(ctx, intro, member, cmd.note)
    return Reply.of(
        MessageBuilder().say(f"Declined request #{intro.id}. ").mention(ctx.address(member))
        .say(" was told kindly.").build()
    )


@dataclass(frozen=True)
class AskForInfo:
    intro_id: int = param.number("Request #", what="request", source=Source.REQUESTS_TO_ME)
    note: str | None = param.text("Your question", need=Need.FORM, positional=True, long=True,
                                  aliases=("note",), max_length=800, what="question")


@command(AskForInfo, "ask", group=MENTORS, form_title="Ask for more info",
         submit_label="Ask", summary="Ask the member for more info before answering.",
         examples=("ask 12 Which Python version are you on?",))
async def ask(cmd: AskForInfo, ctx: CommandContext) -> Reply:
    intro = await _intro_for_mentor(ctx, cmd.intro_id)
    member = await _member_of(ctx, intro)
    if cmd.note is None:
        return Reply.of(
            MessageBuilder().say(f"What would you like to know about request #{intro.id}?")
            .build(form=ctx.form(cmd))
        )
    await _move(ctx, intro, IntroState.INFO_REQUESTED, note=cmd.note)
    await ctx.tx.intros.add_note(ctx.community.id, intro.id, ctx.me.id, cmd.note, ctx.now)
    ctx.notify(k.INTRO_INFO_REQUESTED, recipient=member, intro_id=intro.id, question=cmd.note)
    return Reply.of(
        MessageBuilder().say("Your question was sent to ").mention(ctx.address(member))
        .say(". I'll bring you their answer.").build()
    )


@dataclass(frozen=True)
class DeclineAndPause:
    intro_id: int = param.number("Request #", what="request", source=Source.REQUESTS_TO_ME)
    until: datetime | None = param.date("Paused until", positional=True, aliases=("until",),
                                        what="until")


@command(DeclineAndPause, "decline-pause", group=MENTORS,
         summary="Decline and pause new requests (4 weeks unless you say until when).",
         examples=("decline-pause 12 until: 2027-01-10",))
async def decline_and_pause(cmd: DeclineAndPause, ctx: CommandContext) -> Reply:
    intro = await _intro_for_mentor(ctx, cmd.intro_id)
    member = await _member_of(ctx, intro)
    until = cmd.until or ctx.now + DEFAULT_PAUSE
    profile = await ctx.tx.profiles.get(ctx.community.id, ctx.me.id)
    if profile is not None:
        await ctx.tx.profiles.save(replace(profile, paused_until=until, updated_at=ctx.now))
        ctx.outbox.append(recheck(ctx.community, ctx.me.id, until))
    await _decline(ctx, intro, member, "the mentor is taking a break")
    return Reply.of(
        MessageBuilder()
        .say(f"Declined request #{intro.id} and paused you until ")
        .moment(until, ctx.my_zone, MomentStyle.DATE)
        .say(". ").mention(ctx.address(member)).say(" was told kindly.")
        .choice("Resume now", "mentor resume")
        .build()
    )


# -- shared steps --------------------------------------------------------------------------------


async def _intro_for_mentor(ctx: CommandContext, intro_id: int) -> IntroRequest:
    intro = await ctx.tx.intros.get(ctx.community.id, intro_id)
    if intro is None or intro.mentor_id != ctx.me.id:
        raise NotAllowed(
            f"Request #{intro_id} isn't one addressed to you.",
            "Type `my` to see the requests you received.",
        )
    if not intro.state.is_open:
        raise UserError(
            f"Request #{intro_id} is already {intro.state.label}.", "Nothing was changed."
        )
    return intro


async def _member_of(ctx: CommandContext, intro: IntroRequest) -> Member:
    member = await ctx.tx.members.get(ctx.community.id, intro.member_id)
    if member is None:
        raise UserError("The member who asked is no longer here.", "Nothing was changed.")
    return member


async def _move(
    ctx: CommandContext, intro: IntroRequest, new: IntroState, *, note: str | None = None
) -> None:
    changed = await ctx.tx.intros.set_state(
        intro.id, intro.state, new, ctx.now, answer_note=note,
        answered=new in (IntroState.ACCEPTED, IntroState.DECLINED),
    )
    if not changed:
        raise UserError(f"Request #{intro.id} just changed.", "Type `my` to see where it stands.")


async def _decline(
    ctx: CommandContext, intro: IntroRequest, member: Member, reason: str | None
) -> None:
    await _move(ctx, intro, IntroState.DECLINED, note=reason)
    await ctx.tx.nudges.skip_pending("request answered", intro_id=intro.id)
    ctx.notify(k.INTRO_DECLINED, recipient=member, intro_id=intro.id)


async def close_open_requests_to(ctx: CommandContext, mentor: Member, reason: str) -> int:
    """Decline every open request to ``mentor`` (profile deleted); members are told."""
    open_ones = await ctx.tx.intros.of(
        ctx.community.id, mentor_id=mentor.id,
        states=[IntroState.PENDING, IntroState.INFO_REQUESTED],
    )
    for intro in open_ones:
        member = await ctx.tx.members.get(ctx.community.id, intro.member_id)
        if member is not None:
            await _decline(ctx, intro, member, reason)
    return len(open_ones)


# -- the home view -------------------------------------------------------------------------------


async def requests_section(ctx: CommandContext) -> list[Message]:
    """Requests the member sent and received, with what they can do about each."""
    sent = await ctx.tx.intros.of(ctx.community.id, member_id=ctx.me.id, limit=10)
    received = await ctx.tx.intros.of(ctx.community.id, mentor_id=ctx.me.id, limit=10)
    people = await ctx.tx.members.by_ids(
        ctx.community.id, [r.mentor_id for r in sent] + [r.member_id for r in received]
    )
    msg = MessageBuilder().strong("Requests you sent")
    if not sent:
        msg.line("  none yet: try ").hint("find <topic>")
    for r in sent:
        msg.line(f"  #{r.id} to ").mention(ctx.address(people[r.mentor_id])).say(" about “")
        msg.user_text(shorten(r.topic, 60)).say(f"”: {r.state.label}")
        if r.state.is_open:
            msg.choice(f"Withdraw #{r.id}", f"withdraw {r.id}")
        if r.state is IntroState.INFO_REQUESTED:
            msg.choice(f"Answer #{r.id}", f"answer {r.id}", ChoiceStyle.PRIMARY)
    if received or await ctx.tx.profiles.get(ctx.community.id, ctx.me.id):
        msg.line("").strong("Requests you received")
        if not received:
            msg.line("  none yet")
        for r in received:
            msg.line(f"  #{r.id} from ").mention(ctx.address(people[r.member_id])).say(" about “")
            msg.user_text(shorten(r.topic, 60)).say(f"”: {r.state.label}")
            if r.state is IntroState.PENDING:
                msg.choice(f"Accept #{r.id}", f"accept {r.id}", ChoiceStyle.PRIMARY)
                msg.choice(f"Decline #{r.id}", f"decline {r.id}")
    waiting = await ctx.tx.waitlist.open(ctx.community.id, ctx.me.id)
    if waiting:
        msg.line("").strong("Waiting for a mentor on")
        for w in waiting:
            msg.line(f"  #{w.id} ").user_text(w.topic)
            msg.choice(shorten(f"Stop waiting #{w.id}", 40), f"stop-waiting {w.id}")
    return [msg.build()]


COMMANDS = (
    find, wait_for_mentor, stop_waiting, request_intro, withdraw, add_info,
    accept, decline, ask, decline_and_pause,
)
