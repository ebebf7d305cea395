"""Help, "my stuff", and the organizers' settings and report."""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import ValidationError

from bot import commands as c
from bot.config import CommunityDefaults, describe_validation_error
from bot.context import FlowContext
from bot.domain import IntroState
from bot.errors import UserError
from bot.messages import ChoiceStyle, MessageBuilder, Reply, text
from bot.text import bounded, shorten
from bot.textcommands import help_lines

log = logging.getLogger(__name__)

#: Settings organizers may change, with what they mean.
EDITABLE_SETTINGS: dict[str, str] = {
    "intros_channel": "channel where public thank-you shout-outs go",
    "mentors_channel": "channel where new requests may be announced",
    "announce_requests": "announce new requests in the mentors channel (true/false)",
    "organizer_channel": "channel for alerts (failed nudges, no-shows)",
    "organizer_group": "user group (Slack) or role (Discord) whose members are organizers",
    "default_timezone": "timezone for members who haven't set theirs",
    "request_limit": "open intro requests a member may have at once",
    "synonyms": "add topic synonyms, e.g. js=javascript, k8s=kubernetes (js= removes one)",
    "min_notice_hours": "minimum notice to book a session, in hours",
    "quiet_hours": "default quiet hours for follow-ups, e.g. 22:00-08:00",
    "request_nudge_hours": "hours before an unanswered request nudges the mentor",
    "request_release_hours": "hours before an unanswered request is released",
    "agenda_reminder_hours": "hours before a session to ask again for an agenda",
    "mentor_reminder_hours": "hours before a session to remind the mentor",
    "both_reminder_minutes": "minutes before a session to remind both",
    "followup_days": "days after a session for the mentee follow-up",
    "outcome_days": "days after a session for the outcome follow-up",
}


async def show_help(cmd: c.Help, ctx: FlowContext) -> Reply:
    rows = help_lines(cmd.topic)
    if not rows:
        raise UserError(f"There is no command “{shorten(cmd.topic, 40)}”.", "Type `help`.")
    msg = MessageBuilder().say("Here's what I can do:" if not cmd.topic else "")
    group = ""
    for grp, usage, summary in rows:
        if grp == "Organizers" and not ctx.is_organizer and not cmd.topic:
            continue
        if grp != group:
            msg.line("").strong(grp)
            group = grp
        msg.line(f"  {usage}: {summary}")
    msg.line("Buttons always have a typed equivalent, shown as `command`.")
    return Reply.of(msg.build())


async def show_mine(cmd: c.ShowMine, ctx: FlowContext) -> Reply:
    from bot.flows.profiles import show_profile

    msg = MessageBuilder()
    sent = await ctx.tx.intros_of(ctx.community.id, member_id=ctx.me.id, limit=10)
    received = await ctx.tx.intros_of(ctx.community.id, mentor_id=ctx.me.id, limit=10)
    people = await ctx.tx.members_by_ids(
        ctx.community.id, [r.mentor_id for r in sent] + [r.member_id for r in received]
    )
    msg.strong("Requests you sent")
    if not sent:
        msg.line("  none yet: try `find <topic>`")
    for r in sent:
        msg.line(f"  #{r.id} to ").mention(ctx.address(people[r.mentor_id])).say(" about “")
        msg.user_text(shorten(r.topic, 60)).say(f"”: {r.state.label}")
        if r.state.is_open:
            msg.choice(f"Withdraw #{r.id}", f"withdraw {r.id}")
        if r.state is IntroState.INFO_REQUESTED:
            msg.choice(f"Answer #{r.id}", f"answer {r.id}", ChoiceStyle.PRIMARY)
    if received or await ctx.tx.profile(ctx.community.id, ctx.me.id):
        msg.line("").strong("Requests you received")
        if not received:
            msg.line("  none yet")
        for r in received:
            msg.line(f"  #{r.id} from ").mention(ctx.address(people[r.member_id])).say(" about “")
            msg.user_text(shorten(r.topic, 60)).say(f"”: {r.state.label}")
            if r.state is IntroState.PENDING:
                msg.choice(f"Accept #{r.id}", f"accept {r.id}", ChoiceStyle.PRIMARY)
                msg.choice(f"Decline #{r.id}", f"decline {r.id}")
    waiting = await ctx.tx.open_waitlist(ctx.community.id, ctx.me.id)
    if waiting:
        msg.line("").strong("Waiting for a mentor on")
        for w in waiting:
            msg.line("  ").user_text(w.topic)
    profile = await show_profile(c.ShowProfile(), ctx)
    extra = await _extra_sections(ctx)
    return Reply.of(*profile.messages, msg.build(), *extra)


async def _extra_sections(ctx: FlowContext) -> list[Any]:
    """Sections later features add to `my` (sessions)."""
    from bot.flows.registry import MINE_SECTIONS

    out = []
    for section in MINE_SECTIONS:
        out.extend(await section(ctx))
    return out


async def show_settings(cmd: c.ShowSettings, ctx: FlowContext) -> Reply:
    ctx.require_organizer()
    msg = MessageBuilder().strong(f"Settings for {ctx.community.name}")
    values = ctx.settings.model_dump()
    for key, meaning in EDITABLE_SETTINGS.items():
        value = values[key]
        shown = (
            ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
            if isinstance(value, dict)
            else str(value)
        )
        msg.line(f"  {key} = ").user_text(shorten(shown, 300) or "(not set)").say(f": {meaning}")
    msg.line("Change one with `settings set <key> <value>` (`off` unsets a channel or group).")
    return Reply.of(msg.build())


#: Values that unset a channel or group.
CLEARS = frozenset({"none", "off", "-", "no"})


def _coerce(key: str, raw: str) -> Any:
    value = bounded(raw, what=key, max_length=1000, min_length=0)
    if key == "synonyms":
        pairs: dict[str, str] = {}
        for part in value.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise UserError(f"“{shorten(part, 40)}” is not a synonym pair.",
                                "Write them like `js=javascript, k8s=kubernetes`.")
            alias, meaning = part.split("=", 1)
            pairs[alias.strip().lower()] = meaning.strip().lower()
        return pairs
    if key == "announce_requests":
        if value.lower() not in {"true", "false", "yes", "no", "on", "off"}:
            raise UserError("announce_requests must be true or false.")
        return value.lower() in {"true", "yes", "on"}
    if key.endswith(("_channel", "_group")):
        if value.lower() in CLEARS:
            return ""  # "settings set mentors_channel off": no channel, the feature is off
        return value.lstrip("#").strip()
    return value


async def change_setting(cmd: c.ChangeSetting, ctx: FlowContext) -> Reply:
    ctx.require_organizer()
    if cmd.key not in EDITABLE_SETTINGS:
        raise UserError(
            f"There is no setting “{shorten(cmd.key, 40)}”.",
            "Type `settings` to see them all.",
        )
    overrides = await ctx.tx.community_settings(ctx.community.id)
    value = _coerce(cmd.key, cmd.value)
    if cmd.key == "synonyms":
        # Adding one synonym must not drop the others ("alias=" with no topic removes one).
        merged_pairs = {**ctx.settings.synonyms, **value}
        value = {alias: topic for alias, topic in merged_pairs.items() if topic}
    overrides[cmd.key] = value
    try:
        merged = CommunityDefaults.model_validate({**ctx.settings.model_dump(), **overrides})
    except ValidationError as exc:
        raise UserError(
            "That value doesn't work: " + describe_validation_error(exc) + ".",
            "Nothing was changed.",
        ) from None
    overrides[cmd.key] = getattr(merged, cmd.key)  # store the typed value ("6" → 6)
    await ctx.tx.save_community_settings(ctx.community.id, overrides)
    new_value = getattr(merged, cmd.key)
    shown = "not set" if new_value == "" else json.dumps(new_value, ensure_ascii=False)
    return Reply.of(
        MessageBuilder().say(f"{cmd.key} is now ").user_text(shorten(shown, 300)).say(".").build()
    )


async def show_report(cmd: c.ShowReport, ctx: FlowContext) -> Reply:
    ctx.require_organizer()
    counts: dict[str, int] = {}
    for state in IntroState:
        counts[state.value] = 0
    for intro in await ctx.tx.intros_of(ctx.community.id, limit=100_000):
        counts[intro.state.value] += 1
    mentors = len(await ctx.tx.profiles(ctx.community.id))
    nudges = await ctx.tx.nudge_state_counts(ctx.community.id)
    msg = MessageBuilder().strong(f"Mentorship in {ctx.community.name}")
    msg.line(f"  Mentors: {mentors}")
    msg.line("  Requests: " + ", ".join(f"{IntroState(k).label} {v}" for k, v in counts.items()))
    msg.line(
        "  Nudges: " + (", ".join(f"{k} {v}" for k, v in sorted(nudges.items())) or "none yet")
    )
    for section in await _report_sections(ctx):
        msg.line("  " + section)
    failed = await ctx.tx.nudges(
        ctx.community.id, states=["failed"], limit=5, newest_first=True
    )
    for nudge in failed:
        msg.line(f"  failed nudge #{nudge.id} ({nudge_label(nudge.kind)}): ").user_text(
            shorten(nudge.outcome or "", 120)
        )
    if nudges:
        msg.line("Type `nudges` for the latest ones and why any were skipped or failed.")
    return Reply.of(msg.build())


NUDGES_SHOWN = 15


def nudge_label(kind: str) -> str:
    """``ladder.mentor_reminder`` → ``mentor reminder``: readable without the code."""
    return kind.rsplit(".", 1)[-1].replace("_", " ")


async def show_nudges(cmd: c.ShowNudges, ctx: FlowContext) -> Reply:
    """Nothing is dropped silently: organizers can see every nudge's fate and the reason.

    Without a state: the latest skipped and failed ones, which are the ones worth a look.
    """
    ctx.require_organizer()
    states = [cmd.state] if cmd.state else ["stale", "failed"]
    rows = await ctx.tx.nudges(
        ctx.community.id, states=states, limit=NUDGES_SHOWN, newest_first=True
    )
    what = cmd.state or "skipped or failed"
    if not rows:
        return Reply.of(text(f"No {what} nudges. Everything else went out as planned."
                             if not cmd.state else f"No {what} nudges."))
    msg = MessageBuilder().strong(f"Latest {what} nudges (newest first)")
    for row in rows:
        msg.line(f"  #{row.id} {nudge_label(row.kind)}")
        if row.recipient_id is not None:
            person = await ctx.tx.member(ctx.community.id, row.recipient_id)
            if person is not None:
                msg.say(" to ").user_text(shorten(person.display_name, 40))
        elif row.channel:
            msg.say(" in ").user_text(shorten(row.channel, 40))
        msg.say(" · due ").moment(row.due_at, ctx.my_zone)
        msg.say(f" · {row.state}")
        if row.outcome:
            msg.say(": ").user_text(shorten(row.outcome, 120))
    if not cmd.state:
        msg.line("See others with `nudges pending`, `nudges sent`, `nudges stale` or "
                 "`nudges failed`.")
    return Reply.of(msg.build())


async def _report_sections(ctx: FlowContext) -> list[str]:
    from bot.flows.registry import REPORT_SECTIONS

    out: list[str] = []
    for section in REPORT_SECTIONS:
        out.extend(await section(ctx))
    return out
