"""What each kind of nudge says, decided when it is due, from the current state.

A nudge row stores only its kind and what it is about (an intro, a session). The text is made at
send time, so a nudge about something that changed meanwhile (a withdrawn request, a cancelled
session) is skipped as stale instead of being sent. A renderer may also act instead of speaking
(``Done``): the 72-hour release changes the request's state and queues the member's message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.config import CommunityDefaults
from bot.domain import Community, IntroRequest, IntroState, Member
from bot.messages import ChoiceStyle, MemberAddress, Message, MessageBuilder, MomentStyle
from bot.ports import ChannelPost, Destination, DirectMessage, SpacePost
from storage.store import NewNudge, NudgeRow, Tx

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
WAITLIST_FREED = "waitlist.freed"
ORGANIZER_ALERT = "organizer.alert"


@dataclass(frozen=True)
class OpenSpace:
    """Deliver into the intro's private space, opening it first if it does not exist yet."""

    intro_id: int
    members: tuple[MemberAddress, ...]
    title: str


@dataclass(frozen=True)
class Outgoing:
    destination: Destination | OpenSpace
    message: Message
    fallback_channel: str | None = None
    """Where to mention the recipient instead, if the platform refuses the private message."""


@dataclass(frozen=True)
class Stale:
    """Not sent: what it was about changed. ``reason`` is recorded for organizers."""

    reason: str


@dataclass(frozen=True)
class Done:
    """Handled without a message of its own (e.g. a deadline acted on)."""

    outcome: str


@dataclass
class RenderContext:
    tx: Tx
    community: Community
    settings: CommunityDefaults
    now: datetime
    follow_ups: list[NewNudge] = field(default_factory=list)

    async def member(self, member_id: int | None) -> Member | None:
        if member_id is None:
            return None
        return await self.tx.member(self.community.id, member_id)

    def address(self, member: Member) -> MemberAddress:
        return member.address(self.settings.default_timezone)

    def zone(self, member: Member) -> str:
        return member.zone(self.settings.default_timezone)

    def dm(self, member: Member, message: Message, *, fallback: str | None = None) -> Outgoing:
        channel = fallback if fallback is not None else self.settings.intros_channel or None
        return Outgoing(DirectMessage(self.address(member)), message, channel)


Rendered = Outgoing | Stale | Done
Renderer = Callable[[RenderContext, NudgeRow], Awaitable[Rendered]]
RENDERERS: dict[str, Renderer] = {}


def renders(kind: str) -> Callable[[Renderer], Renderer]:
    """Register the renderer of one nudge kind."""

    def register(func: Renderer) -> Renderer:
        if kind in RENDERERS:
            raise ValueError(f"renderer for {kind!r} registered twice")
        RENDERERS[kind] = func
        return func

    return register


async def render(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    renderer = RENDERERS.get(nudge.kind)
    if renderer is None:
        return Stale(f"unknown nudge kind {nudge.kind!r}")
    return await renderer(ctx, nudge)


async def _intro_and_people(
    ctx: RenderContext, nudge: NudgeRow
) -> tuple[IntroRequest, Member, Member] | Stale:
    intro = await ctx.tx.intro(ctx.community.id, nudge.intro_id or 0)
    if intro is None:
        return Stale("request no longer exists")
    member = await ctx.member(intro.member_id)
    mentor = await ctx.member(intro.mentor_id)
    if member is None or mentor is None:
        return Stale("member no longer exists")
    return intro, member, mentor


def _answer_choices(msg: MessageBuilder, intro_id: int) -> MessageBuilder:
    return (
        msg.choice("Accept", f"accept {intro_id}", ChoiceStyle.PRIMARY)
        .choice("Decline", f"decline {intro_id}", ChoiceStyle.DANGER)
        .choice("Ask for more info", f"ask {intro_id}")
        .choice("Decline and pause me", f"decline-pause {intro_id}")
    )


@renders(INTRO_REQUEST)
async def _request(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _intro_and_people(ctx, nudge)
    if isinstance(found, Stale):
        return found
    intro, member, mentor = found
    if not intro.state.is_open:
        return Stale(f"request {intro.state.label}")
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


@renders(INTRO_DEADLINE_NUDGE)
async def _deadline(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _intro_and_people(ctx, nudge)
    if isinstance(found, Stale):
        return found
    intro, member, mentor = found
    if not intro.state.is_open:
        return Stale(f"request {intro.state.label}")
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


@renders(INTRO_RELEASE)
async def _release(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _intro_and_people(ctx, nudge)
    if isinstance(found, Stale):
        return found
    intro, _member, _mentor = found
    if not intro.state.is_open:
        return Stale(f"request {intro.state.label}")
    if not await ctx.tx.set_intro_state(intro.id, intro.state, IntroState.RELEASED, ctx.now):
        return Stale("request changed while releasing")
    ctx.follow_ups.append(
        NewNudge(ctx.community.id, INTRO_RELEASED, ctx.now, recipient_id=intro.member_id,
                 intro_id=intro.id)
    )
    return Done("released after the deadline")


@renders(INTRO_RELEASED)
async def _released(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _intro_and_people(ctx, nudge)
    if isinstance(found, Stale):
        return found
    intro, member, mentor = found
    from bot.suggest import next_mentor

    suggestion = await next_mentor(ctx, member, intro)
    msg = (
        MessageBuilder()
        .mention(ctx.address(mentor))
        .say(f" hasn't answered request #{intro.id} about “")
        .user_text(intro.topic)
        .say("”, so I released it. It's not about you: mentors get busy.")
    )
    if suggestion is not None:
        msg.line("Next best fit: ").mention(ctx.address(suggestion)).say(". Want an intro?")
        msg.choice(f"Ask {suggestion.display_name[:30]}",
                   f"request <member:{suggestion.platform_user_id}>", ChoiceStyle.PRIMARY)
    else:
        msg.line("No other mentor covers it right now.")
        msg.choice("Tell me when one frees up", f"notify {intro.topic}"[:80])
    return ctx.dm(member, msg.build())


@renders(INTRO_ANNOUNCE)
async def _announce(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    intro = await ctx.tx.intro(ctx.community.id, nudge.intro_id or 0)
    if intro is None or not intro.state.is_open:
        return Stale("request no longer open")
    msg = MessageBuilder().say("A member is looking for mentoring on “").user_text(
        intro.topic
    ).say("”. Mentors: keep your topics up to date with `mentor edit`.")
    return Outgoing(ChannelPost(nudge.channel or ""), msg.build())


@renders(INTRO_ACCEPTED)
async def _accepted(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _intro_and_people(ctx, nudge)
    if isinstance(found, Stale):
        return found
    intro, member, mentor = found
    msg = (
        MessageBuilder()
        .say("Good news! ")
        .mention(ctx.address(mentor))
        .say(f" accepted your request #{intro.id}. I've introduced you in a private space; "
             "say hello and book a time there.")
    )
    return ctx.dm(member, msg.build())


@renders(INTRO_SPACE)
async def _space(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _intro_and_people(ctx, nudge)
    if isinstance(found, Stale):
        return found
    intro, member, mentor = found
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
    for note in await ctx.tx.intro_notes(intro.id):
        author = mentor if note.author_id == mentor.id else member
        msg.line("").mention(ctx.address(author)).say(" wrote:").quote(note.text)
    if intro.space_ref:
        return Outgoing(SpacePost(intro.space_ref), msg.build())
    return Outgoing(
        OpenSpace(
            intro.id,
            (ctx.address(mentor), ctx.address(member)),
            f"Intro: {mentor.display_name} & {member.display_name}",
        ),
        msg.build(),
    )


@renders(INTRO_DECLINED)
async def _declined(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _intro_and_people(ctx, nudge)
    if isinstance(found, Stale):
        return found
    intro, member, mentor = found
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
    msg.choice("Find another mentor", f"find {intro.topic}"[:80], ChoiceStyle.PRIMARY)
    return ctx.dm(member, msg.build())


@renders(INTRO_INFO_REQUESTED)
async def _info_requested(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _intro_and_people(ctx, nudge)
    if isinstance(found, Stale):
        return found
    intro, member, mentor = found
    if intro.state is not IntroState.INFO_REQUESTED:
        return Stale(f"request {intro.state.label}")
    msg = (
        MessageBuilder()
        .mention(ctx.address(mentor))
        .say(f" would like to know more before answering request #{intro.id}:")
        .quote(str(nudge.payload.get("question", intro.answer_note or "")))
        .choice("Answer", f"answer {intro.id}", ChoiceStyle.PRIMARY)
        .choice("Withdraw", f"withdraw {intro.id}")
    )
    return ctx.dm(member, msg.build())


@renders(INTRO_INFO_ADDED)
async def _info_added(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _intro_and_people(ctx, nudge)
    if isinstance(found, Stale):
        return found
    intro, member, mentor = found
    if not intro.state.is_open:
        return Stale(f"request {intro.state.label}")
    msg = (
        MessageBuilder()
        .mention(ctx.address(member))
        .say(f" answered your question on request #{intro.id}:")
        .quote(str(nudge.payload.get("answer", "")))
    )
    return ctx.dm(mentor, _answer_choices(msg, intro.id).build(), fallback="")


@renders(INTRO_WITHDRAWN)
async def _withdrawn(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    found = await _intro_and_people(ctx, nudge)
    if isinstance(found, Stale):
        return found
    intro, member, mentor = found
    msg = MessageBuilder().mention(ctx.address(member)).say(
        f" withdrew request #{intro.id}. Nothing more to do, thank you!"
    )
    return ctx.dm(mentor, msg.build(), fallback="")


@renders(WAITLIST_FREED)
async def _freed(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    member = await ctx.member(nudge.recipient_id)
    if member is None:
        return Stale("member no longer exists")
    topic = str(nudge.payload.get("topic", ""))
    msg = (
        MessageBuilder()
        .say("A mentor for “")
        .user_text(topic)
        .say("” is free now.")
        .choice("Show mentors", f"find {topic}"[:80], ChoiceStyle.PRIMARY)
    )
    return ctx.dm(member, msg.build())


@renders(ORGANIZER_ALERT)
async def _alert(ctx: RenderContext, nudge: NudgeRow) -> Rendered:
    channel = nudge.channel or ctx.settings.organizer_channel
    if not channel:
        return Stale("no organizer channel configured")
    msg = MessageBuilder().say("⚠️ ").say(str(nudge.payload.get("text", "")))
    return Outgoing(ChannelPost(channel), msg.build())


def when_text(at: datetime, member: Member, ctx: RenderContext) -> Message:
    """A small helper for renderers that only need to state a time."""
    return MessageBuilder().moment(at, ctx.zone(member), MomentStyle.DATE_TIME).build()
