"""What the intro nudges say: the request to the mentor, the answers to the member, the
deadline reminder and release, the private introduction, "a mentor is free now".

Each renderer reads the current state when the nudge is due and raises ``Stale`` if it no
longer applies (a request answered or withdrawn meanwhile).
"""

from __future__ import annotations

import logging

from bot.domain import IntroRequest, IntroState, Member, Nudge
from bot.messages import ChoiceStyle, MessageBuilder
from bot.nudges.kinds import (
    Done,
    OpenSpace,
    Outgoing,
    RenderContext,
    Rendered,
    Stale,
    Timing,
    nudge_kind,
)
from bot.ports import ChannelPost, SpacePost

log = logging.getLogger(__name__)

INTRO_REQUEST = "intro.request"
INTRO_ANNOUNCE = "intro.announce"
INTRO_ACCEPTED = "intro.accepted"
INTRO_SPACE = "intro.space"
INTRO_DECLINED = "intro.declined"
INTRO_INFO_REQUESTED = "intro.info_requested"
INTRO_INFO_ADDED = "intro.info_added"
INTRO_WITHDRAWN = "intro.withdrawn"
INTRO_DEADLINE_NUDGE = "intro.deadline_nudge"
INTRO_RELEASE = "intro.release"
INTRO_RELEASED = "intro.released"
INTRO_RELEASED_MENTOR = "intro.released_mentor"
WAITLIST_FREED = "waitlist.freed"
WAITLIST_RECHECK = "waitlist.recheck"


async def _intro_and_people(
    ctx: RenderContext, nudge: Nudge
) -> tuple[IntroRequest, Member, Member]:
    """The request, its member and its mentor (Stale if any is gone)."""
    intro = await ctx.tx.intros.get(ctx.community.id, nudge.intro_id or 0)
    if intro is None:
        raise Stale("request no longer exists")
    return intro, await ctx.member(intro.member_id), await ctx.member(intro.mentor_id)


def _still_open(intro: IntroRequest) -> None:
    if not intro.state.is_open:
        raise Stale(f"request {intro.state.label}")


def _answer_choices(msg: MessageBuilder, intro_id: int) -> MessageBuilder:
    return (
        msg.choice("Accept", f"accept {intro_id}", ChoiceStyle.PRIMARY)
        .choice("Decline", f"decline {intro_id}", ChoiceStyle.DANGER)
        .choice("Ask for more info", f"ask {intro_id}")
        .choice("Decline and pause me", f"decline-pause {intro_id}")
    )


@nudge_kind(INTRO_REQUEST, label="intro request")
async def request(ctx: RenderContext, nudge: Nudge) -> Rendered:
    intro, member, mentor = await _intro_and_people(ctx, nudge)
    _still_open(intro)
    msg = (
        MessageBuilder()
        .mention(ctx.address(member))
        .say(f" asks you for an intro (request #{intro.id}) about “")
        .user_text(intro.topic)
        .say("”:")
        .quote(intro.context)
        .say("Nothing is shared with them until you accept.")
    )
    return ctx.dm(mentor, _answer_choices(msg, intro.id).build(), fallback="")


@nudge_kind(INTRO_DEADLINE_NUDGE, timing=Timing.PROMPT, label="reminder to answer a request")
async def deadline(ctx: RenderContext, nudge: Nudge) -> Rendered:
    intro, member, mentor = await _intro_and_people(ctx, nudge)
    _still_open(intro)
    msg = (
        MessageBuilder()
        .say("A gentle reminder: ")
        .mention(ctx.address(member))
        .say(f" is still waiting for your answer to request #{intro.id} about “")
        .user_text(intro.topic)
        .say(f"”. If it's not a fit, declining is kind too: after "
             f"{ctx.settings.request_release_hours} hours in all I'll suggest another mentor.")
    )
    return ctx.dm(mentor, _answer_choices(msg, intro.id).build(), fallback="")


@nudge_kind(INTRO_RELEASE, label="request released")
async def release(ctx: RenderContext, nudge: Nudge) -> Rendered:
    intro, _member, _mentor = await _intro_and_people(ctx, nudge)
    _still_open(intro)
    if not await ctx.tx.intros.set_state(intro.id, intro.state, IntroState.RELEASED, ctx.now):
        raise Stale("request changed while releasing")
    ctx.queue(INTRO_RELEASED, recipient_id=intro.member_id, intro_id=intro.id)
    ctx.queue(INTRO_RELEASED_MENTOR, recipient_id=intro.mentor_id, intro_id=intro.id)
    return Done("released after the deadline")


@nudge_kind(INTRO_RELEASED_MENTOR, label="request released: mentor told")
async def released_to_mentor(ctx: RenderContext, nudge: Nudge) -> Rendered:
    intro, member, mentor = await _intro_and_people(ctx, nudge)
    msg = (
        MessageBuilder()
        .say(f"Request #{intro.id} from ").mention(ctx.address(member))
        .say(" about “").user_text(intro.topic)
        .say(f"” was released after {ctx.settings.request_release_hours} hours to keep things "
             "moving; I've offered them another mentor. Nothing for you to do.")
    )
    return ctx.dm(mentor, msg.build(), fallback="")


@nudge_kind(INTRO_RELEASED, label="request released: next mentor offered")
async def released(ctx: RenderContext, nudge: Nudge) -> Rendered:
    intro, member, mentor = await _intro_and_people(ctx, nudge)
    from bot.intros.matching import next_mentor

    suggestion = await next_mentor(ctx, member, intro)
    msg = (
        MessageBuilder()
        .mention(ctx.address(mentor))
        .say(f" hasn't answered request #{intro.id} about “")
        .user_text(intro.topic)
        .say("”, so I released it. It's not about you: mentors get busy.")
    )
    if suggestion is not None:
        msg.line("Next best fit: ").mention(ctx.address(suggestion)).say(
            ". Want an intro? Your request is filled in again; change anything you like.")
        msg.choice(f"Ask {suggestion.display_name[:30]}",
                   f"request <member:{suggestion.platform_user_id}> from: {intro.id}",
                   ChoiceStyle.PRIMARY)
    else:
        msg.line("No other mentor covers it right now.")
        msg.choice("Tell me when one frees up", f"notify {intro.topic} from: {intro.id}")
    return ctx.dm(member, msg.build())


@nudge_kind(INTRO_ANNOUNCE, label="request announced to mentors")
async def announce(ctx: RenderContext, nudge: Nudge) -> Rendered:
    intro = await ctx.tx.intros.get(ctx.community.id, nudge.intro_id or 0)
    if intro is None or not intro.state.is_open:
        raise Stale("request no longer open")
    msg = (
        MessageBuilder().say("A member is looking for mentoring on “").user_text(intro.topic)
        .say("”. Mentors: keep your topics up to date with ").hint("mentor edit").say(".")
    )
    return Outgoing(ChannelPost(nudge.channel or ""), msg.build())


@nudge_kind(INTRO_ACCEPTED, label="request accepted")
async def accepted(ctx: RenderContext, nudge: Nudge) -> Rendered:
    intro, member, mentor = await _intro_and_people(ctx, nudge)
    msg = (
        MessageBuilder()
        .say("Good news! ")
        .mention(ctx.address(mentor))
        .say(f" accepted your request #{intro.id}. I've introduced you in a private space; "
             "say hello and book a time there.")
    )
    return ctx.dm(member, msg.build())


@nudge_kind(INTRO_SPACE, label="introduction in a private space")
async def space(ctx: RenderContext, nudge: Nudge) -> Rendered:
    intro, member, mentor = await _intro_and_people(ctx, nudge)
    msg = (
        MessageBuilder()
        .mention(ctx.address(mentor), ping=True)
        .say(", meet ")
        .mention(ctx.address(member), ping=True)
        .say("! You're connected about “")
        .user_text(intro.topic)
        .say("”. In their words:")
        .quote(intro.context)
        .say("Next step: agree on a time. Have a great conversation!")
    )
    for note in await ctx.tx.intros.notes(intro.id):
        author = mentor if note.author_id == mentor.id else member
        msg.line("").mention(ctx.address(author)).say(" wrote:").quote(note.text)
    if intro.space_ref:
        return Outgoing(SpacePost(intro.space_ref), msg.build())
    return Outgoing(
        OpenSpace(
            intro_id=intro.id,
            key=f"intro-{intro.id}",
            members=(ctx.address(mentor), ctx.address(member)),
            title=f"Intro: {mentor.display_name} & {member.display_name}",
            parent_channel=ctx.settings.intros_channel or None,
        ),
        msg.build(),
    )


@nudge_kind(INTRO_DECLINED, label="request declined")
async def declined(ctx: RenderContext, nudge: Nudge) -> Rendered:
    intro, member, mentor = await _intro_and_people(ctx, nudge)
    msg = (
        MessageBuilder()
        .mention(ctx.address(mentor))
        .say(f" can't take request #{intro.id} about “")
        .user_text(intro.topic)
        .say("” right now.")
    )
    if intro.answer_note:
        msg.say(" Their note:").quote(intro.answer_note)
    msg.line("Plenty of others may be a great fit:")
    msg.choice("Find another mentor", f"find {intro.topic}", ChoiceStyle.PRIMARY)
    msg.choice("Tell me when one frees up", f"notify {intro.topic} from: {intro.id}")
    return ctx.dm(member, msg.build())


@nudge_kind(INTRO_INFO_REQUESTED, label="mentor's question")
async def info_requested(ctx: RenderContext, nudge: Nudge) -> Rendered:
    intro, member, mentor = await _intro_and_people(ctx, nudge)
    if intro.state is not IntroState.INFO_REQUESTED:
        raise Stale(f"request {intro.state.label}")
    msg = (
        MessageBuilder()
        .mention(ctx.address(mentor))
        .say(f" would like to know more before answering request #{intro.id}:")
        .quote(str(nudge.payload.get("question", intro.answer_note or "")))
        .choice("Answer", f"answer {intro.id}", ChoiceStyle.PRIMARY)
        .choice("Withdraw", f"withdraw {intro.id}")
    )
    return ctx.dm(member, msg.build())


@nudge_kind(INTRO_INFO_ADDED, label="member's answer")
async def info_added(ctx: RenderContext, nudge: Nudge) -> Rendered:
    intro, member, mentor = await _intro_and_people(ctx, nudge)
    _still_open(intro)
    msg = (
        MessageBuilder()
        .mention(ctx.address(member))
        .say(f" answered your question on request #{intro.id}:")
        .quote(str(nudge.payload.get("answer", "")))
    )
    return ctx.dm(mentor, _answer_choices(msg, intro.id).build(), fallback="")


@nudge_kind(INTRO_WITHDRAWN, label="request withdrawn")
async def withdrawn(ctx: RenderContext, nudge: Nudge) -> Rendered:
    intro, member, mentor = await _intro_and_people(ctx, nudge)
    msg = MessageBuilder().mention(ctx.address(member)).say(
        f" withdrew request #{intro.id}. Nothing more to do, thank you!"
    )
    return ctx.dm(mentor, msg.build(), fallback="")


@nudge_kind(WAITLIST_FREED, timing=Timing.PROMPT, label="a mentor is free")
async def freed(ctx: RenderContext, nudge: Nudge) -> Rendered:
    member = await ctx.member(nudge.recipient_id)
    mentor = await ctx.member(int(nudge.payload.get("mentor", 0)))
    topic = str(nudge.payload.get("topic", ""))
    msg = (
        MessageBuilder()
        .say("Good news: ").mention(ctx.address(mentor)).say(" can take a mentee for “")
        .user_text(topic).say("” now. You asked me to tell you.")
    )
    if nudge.intro_id is not None:
        msg.say(" Your earlier request is filled in again; change anything you like.")
        ask = f"request <member:{mentor.platform_user_id}> from: {nudge.intro_id}"
    else:
        ask = f"request <member:{mentor.platform_user_id}> topic: {topic}"
    msg.choice(f"Ask {mentor.display_name[:30]}", ask, ChoiceStyle.PRIMARY)
    msg.choice("Show all mentors", f"find {topic}")
    return ctx.dm(member, msg.build())


@nudge_kind(WAITLIST_RECHECK, label="a look whether a mentor is free again")
async def recheck(ctx: RenderContext, nudge: Nudge) -> Rendered:
    """The moment a mentor could take someone again (a pause over, a new month): tell the
    members waiting for them, if any and if there is room."""
    from bot.intros.waitlist import freed_up, look_again

    mentor = await ctx.member(int(nudge.payload.get("mentor", 0)))
    profile = await ctx.tx.profiles.get(ctx.community.id, mentor.id)
    told = await freed_up(ctx.tx, ctx.community, ctx.settings, ctx.now, mentor, profile)
    if told:
        ctx.follow_ups.extend(told)
        return Done(f"{len(told)} waiting member(s) told")
    again = await look_again(ctx.tx, ctx.community, ctx.settings, ctx.now, mentor, profile)
    ctx.follow_ups.extend(again)
    return Done("no room yet: another look planned" if again else "nobody to tell")


KINDS = (
    request, deadline, release, released, released_to_mentor, announce, accepted, space,
    declined, info_requested, info_added, withdrawn, freed, recheck,
)
