"""Finding mentors and double opt-in intro requests.

A member asks for an intro with a topic and context; the mentor answers privately (accept,
decline, ask for more info, decline and pause). Only on accept are both introduced, in a private
space. The member hears about every step; every message to someone else goes through the
outbox, so it is sent exactly once even across restarts.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot import commands as c
from bot import notifications as n
from bot.context import FlowContext
from bot.domain import IntroRequest, IntroState, Member, MentorProfile
from bot.errors import NotAllowed, UserError
from bot.flows.loads import mentor_loads
from bot.matching import Load, is_full, rank_mentors
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
from bot.text import bounded, plural, shorten
from bot.timezones import parse_until

log = logging.getLogger(__name__)

MIN_CONTEXT = 20
MAX_CONTEXT = 1500
MAX_TOPIC = 80
DEFAULT_PAUSE = timedelta(weeks=4)


def request_form(mentor: Member, topic: str | None) -> Form:
    return Form(
        title=shorten(f"Ask {mentor.display_name} for an intro", 45),
        command=f"request <member:{mentor.platform_user_id}>",
        fields=(
            FormField("topic", "Topic", max_length=MAX_TOPIC, initial=topic or "",
                      placeholder="e.g. python, career growth"),
            FormField("context", "Context: what you want, what you tried", FieldKind.LONG_TEXT,
                      min_length=MIN_CONTEXT, max_length=MAX_CONTEXT,
                      placeholder="I'm learning X and got stuck on Y; I tried Z..."),
        ),
        submit_label="Send request",
    )


async def find(cmd: c.FindMentors, ctx: FlowContext) -> Reply:
    topic = bounded(cmd.topic, what="topic", max_length=MAX_TOPIC)
    profiles = await ctx.tx.profiles(ctx.community.id)
    members = await ctx.tx.members_by_ids(ctx.community.id, (p.member_id for p in profiles))
    pairs = [(members[p.member_id], p) for p in profiles if p.member_id in members]
    loads = await mentor_loads(
        ctx.tx, ctx.community.id, ctx.settings.default_timezone, ctx.now
    )
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
        msg.choice("Tell me when one frees up", shorten(f"notify {topic}", 80), ChoiceStyle.PRIMARY)
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
        msg.choice("Tell me when one frees up", shorten(f"notify {topic}", 80))
    return Reply.of(msg.build())


async def wait_for_mentor(cmd: c.WaitForMentor, ctx: FlowContext) -> Reply:
    topic = bounded(cmd.topic, what="topic", max_length=MAX_TOPIC)
    waiting = await ctx.tx.open_waitlist(ctx.community.id, ctx.me.id)
    if any(w.topic.lower() == topic.lower() for w in waiting):
        return Reply.of(text("You're already on the list for that topic; I'll tell you."))
    if len(waiting) >= 5:
        raise UserError("You're waiting for 5 topics already.", "That's the most I keep for you.")
    await ctx.tx.add_waitlist(ctx.community.id, ctx.me.id, topic, ctx.now)
    return Reply.of(
        MessageBuilder()
        .say("Got it: I'll message you when a mentor for “")
        .user_text(topic)
        .say("” is free.")
        .build()
    )


async def request_intro(cmd: c.RequestIntro, ctx: FlowContext) -> Reply:
    mentor = await ctx.resolve_member(cmd.mentor)
    if mentor.id == ctx.me.id:
        raise UserError("You can't ask yourself for an intro.", "Try `find <topic>`.")
    profile = await ctx.tx.profile(ctx.community.id, mentor.id)
    if profile is None:
        raise UserError(
            f"{mentor.display_name} isn't a mentor here.", "Use `find <topic>` to see mentors."
        )
    mine = await ctx.tx.intros_of(
        ctx.community.id,
        member_id=ctx.me.id,
        states=[IntroState.PENDING, IntroState.INFO_REQUESTED],
    )
    if any(r.mentor_id == mentor.id for r in mine):
        open_one = next(r for r in mine if r.mentor_id == mentor.id)
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
        return Reply.of(
            MessageBuilder()
            .say("Tell ").mention(ctx.address(mentor)).say(" what you'd like to talk about:")
            .build(form=request_form(mentor, cmd.topic))
        )
    topic = bounded(cmd.topic, what="topic", max_length=MAX_TOPIC)
    context = bounded(
        cmd.context, what="context", max_length=MAX_CONTEXT, min_length=MIN_CONTEXT,
        multiline=True,
    )
    if len(context.split()) < 4:
        raise UserError(
            "The context needs a sentence or two.",
            "Say what you want to get out of it and what you tried so far.",
        )
    intro = await ctx.tx.add_intro(
        ctx.community.id, ctx.me.id, mentor.id, topic, context, ctx.now
    )
    ctx.notify(n.INTRO_REQUEST, recipient=mentor, intro_id=intro.id)
    if ctx.settings.announce_requests and ctx.settings.mentors_channel:
        ctx.notify(n.INTRO_ANNOUNCE, channel=ctx.settings.mentors_channel, intro_id=intro.id)
    ctx.notify(
        n.INTRO_DEADLINE_NUDGE,
        recipient=mentor,
        intro_id=intro.id,
        due_at=ctx.now + timedelta(hours=ctx.settings.request_nudge_hours),
    )
    ctx.notify(
        n.INTRO_RELEASE,
        recipient=ctx.me,
        intro_id=intro.id,
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


async def _check_available(ctx: FlowContext, mentor: Member, profile: MentorProfile) -> None:
    loads = await mentor_loads(
        ctx.tx, ctx.community.id, ctx.settings.default_timezone, ctx.now
    )
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


async def _intro_for_mentor(ctx: FlowContext, intro_id: int) -> IntroRequest:
    intro = await ctx.tx.intro(ctx.community.id, intro_id)
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


async def answer_intro(cmd: c.AnswerIntro, ctx: FlowContext) -> Reply:
    intro = await _intro_for_mentor(ctx, cmd.intro_id)
    member = await ctx.tx.member(ctx.community.id, intro.member_id)
    assert member is not None
    if cmd.answer is c.IntroAnswer.ACCEPT:
        return await _accept(ctx, intro, member)
    if cmd.answer is c.IntroAnswer.ASK_INFO:
        if not cmd.note:
            return Reply.of(
                MessageBuilder().say(f"What would you like to know about request #{intro.id}?")
                .build(form=Form(
                    title="Ask for more info",
                    command=f"ask {intro.id}",
                    fields=(FormField("note", "Your question", FieldKind.LONG_TEXT,
                                      max_length=800),),
                    submit_label="Ask",
                ))
            )
        question = bounded(cmd.note, what="question", max_length=800, multiline=True)
        await _move(ctx, intro, IntroState.INFO_REQUESTED, note=question)
        await ctx.tx.add_intro_note(ctx.community.id, intro.id, ctx.me.id, question, ctx.now)
        ctx.notify(n.INTRO_INFO_REQUESTED, recipient=member, intro_id=intro.id, question=question)
        return Reply.of(
            MessageBuilder().say("Your question was sent to ").mention(ctx.address(member))
            .say(". I'll bring you their answer.").build()
        )
    reason = bounded(cmd.note, what="reason", max_length=500, multiline=True) if (
        cmd.note and cmd.answer is c.IntroAnswer.DECLINE) else None
    if cmd.answer is c.IntroAnswer.DECLINE_AND_PAUSE:
        until = (
            parse_until(cmd.note, ctx.my_zone, ctx.now) if cmd.note else ctx.now + DEFAULT_PAUSE
        )
        profile = await ctx.tx.profile(ctx.community.id, ctx.me.id)
        if profile is not None:
            from dataclasses import replace

            await ctx.tx.save_profile(replace(profile, paused_until=until, updated_at=ctx.now))
        await _decline(ctx, intro, member, "the mentor is taking a break")
        return Reply.of(
            MessageBuilder()
            .say(f"Declined request #{intro.id} and paused you until ")
            .moment(until, ctx.my_zone, MomentStyle.DATE)
            .say(". ").mention(ctx.address(member)).say(" was told kindly.")
            .choice("Resume now", "mentor resume")
            .build()
        )
    await _decline(ctx, intro, member, reason)
    return Reply.of(
        MessageBuilder().say(f"Declined request #{intro.id}. ").mention(ctx.address(member))
        .say(" was told kindly.").build()
    )


async def _move(
    ctx: FlowContext, intro: IntroRequest, new: IntroState, *, note: str | None = None
) -> None:
    changed = await ctx.tx.set_intro_state(
        intro.id, intro.state, new, ctx.now, answer_note=note,
        answered=new in (IntroState.ACCEPTED, IntroState.DECLINED),
    )
    if not changed:
        raise UserError(f"Request #{intro.id} just changed.", "Type `my` to see where it stands.")


async def _accept(ctx: FlowContext, intro: IntroRequest, member: Member) -> Reply:
    await _move(ctx, intro, IntroState.ACCEPTED)
    await ctx.tx.skip_pending_nudges("request answered", intro_id=intro.id)
    ctx.notify(n.INTRO_SPACE, intro_id=intro.id)
    ctx.notify(n.INTRO_ACCEPTED, recipient=member, intro_id=intro.id)
    return Reply.of(
        MessageBuilder().say("Accepted! I'm introducing you and ").mention(ctx.address(member))
        .say(" in a private space now.").build()
    )


async def _decline(
    ctx: FlowContext, intro: IntroRequest, member: Member, reason: str | None
) -> None:
    await _move(ctx, intro, IntroState.DECLINED, note=reason)
    await ctx.tx.skip_pending_nudges("request answered", intro_id=intro.id)
    ctx.notify(n.INTRO_DECLINED, recipient=member, intro_id=intro.id)


async def close_open_requests_to(ctx: FlowContext, mentor: Member, reason: str) -> int:
    """Decline every open request to ``mentor`` (profile deleted); members are told."""
    open_ones = await ctx.tx.intros_of(
        ctx.community.id, mentor_id=mentor.id,
        states=[IntroState.PENDING, IntroState.INFO_REQUESTED],
    )
    for intro in open_ones:
        member = await ctx.tx.member(ctx.community.id, intro.member_id)
        if member is not None:
            await _decline(ctx, intro, member, reason)
    return len(open_ones)


async def add_info(cmd: c.AddIntroInfo, ctx: FlowContext) -> Reply:
    intro = await ctx.tx.intro(ctx.community.id, cmd.intro_id)
    if intro is None or intro.member_id != ctx.me.id:
        raise NotAllowed(f"Request #{cmd.intro_id} isn't yours.", "Type `my` to see yours.")
    if intro.state is not IntroState.INFO_REQUESTED:
        raise UserError(
            f"Request #{intro.id} has no open question from the mentor ({intro.state.label}).",
            "Nothing was changed.",
        )
    if not cmd.text:
        return Reply.of(
            MessageBuilder().say("The mentor asked: ").user_text(intro.answer_note or "")
            .build(form=Form(
                title="Answer the mentor",
                command=f"answer {intro.id}",
                fields=(FormField("text", "Your answer", FieldKind.LONG_TEXT, max_length=1500),),
                submit_label="Send",
            ))
        )
    answer = bounded(cmd.text, what="answer", max_length=1500, multiline=True)
    await _move(ctx, intro, IntroState.PENDING)
    await ctx.tx.add_intro_note(ctx.community.id, intro.id, ctx.me.id, answer, ctx.now)
    mentor = await ctx.tx.member(ctx.community.id, intro.mentor_id)
    ctx.notify(n.INTRO_INFO_ADDED, recipient=mentor, intro_id=intro.id, answer=answer)
    return Reply.of(text(f"Sent. Request #{intro.id} is back with the mentor."))


async def withdraw(cmd: c.WithdrawIntro, ctx: FlowContext) -> Reply:
    intro = await ctx.tx.intro(ctx.community.id, cmd.intro_id)
    if intro is None or intro.member_id != ctx.me.id:
        raise NotAllowed(f"Request #{cmd.intro_id} isn't yours.", "Type `my` to see yours.")
    if not intro.state.is_open:
        raise UserError(
            f"Request #{intro.id} is already {intro.state.label}.", "Nothing was changed."
        )
    await _move(ctx, intro, IntroState.WITHDRAWN)
    await ctx.tx.skip_pending_nudges("request withdrawn", intro_id=intro.id)
    mentor = await ctx.tx.member(ctx.community.id, intro.mentor_id)
    ctx.notify(n.INTRO_WITHDRAWN, recipient=mentor, intro_id=intro.id)
    return Reply.of(text(f"Request #{intro.id} is withdrawn; the mentor was told."))
