"""Help, the member's home view (`my`), and the organizers' settings, report and nudge log."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot.command import CommandSpec, Kind, Need, ParamError, Role, Source, command, param
from bot.config import CommunityDefaults, describe_validation_error
from bot.context import CommandContext, reading
from bot.domain import IntroState
from bot.errors import UserError
from bot.messages import Message, MessageBuilder, Reply, text, with_hints
from bot.text import bounded, shorten

log = logging.getLogger(__name__)

GENERAL = "General"
ORGANIZERS = "Organizers"
#: The order help and the README list the groups in; a group not named here comes last.
GROUP_ORDER = ("General", "Mentees", "Mentors", "Sessions", "After sessions", "Mentorships",
               "Organizers")

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
    "booking_horizon_months": "how many months ahead sessions may be booked",
    "mentorship_stall_days": "days without a session or check-in before both are asked "
                             "\"still going?\"",
    "stall_answer_days": "days without an answer before organizers see a mentorship as stalled",
    "feedback_reminder_days": "days before a mentor is reminded of an unanswered feedback "
                              "request",
    "dm_per_member_per_day": "most private messages a member gets from me a day",
    "dm_per_community_per_hour": "most private messages I send in this community an hour",
}


# -- help ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Help:
    topic: str | None = param.text("Command", positional=True, max_length=40, what="command")


@command(Help, "help", group=GENERAL, read_only=True, summary="List commands, or explain one.",
         examples=("help", "help request"))
async def show_help(cmd: Help, ctx: CommandContext) -> Reply:
    if cmd.topic:
        return _explain(cmd.topic.lower(), ctx)
    sections: list[Message] = []
    first = True
    for group, specs in ordered_groups(ctx.registry.groups()):
        if group == ORGANIZERS and not ctx.is_organizer:
            continue
        msg = MessageBuilder()
        if first:
            msg.say("Here's what I can do:").line("")
            first = False
        msg.strong(group)
        for spec in specs:
            msg.line("  ").hint(spec.usage()).extend(
                with_hints(f": {spec.summary}", ctx.registry.is_command))
        sections.append(msg.build())
    sections.append(
        MessageBuilder().say("Buttons always have a typed equivalent. ")
        .hint("help <command>").say(" explains one.").build()
    )
    return Reply(tuple(sections))


def ordered_groups(
    groups: dict[str, list[CommandSpec[Any]]]
) -> list[tuple[str, list[CommandSpec[Any]]]]:
    rank = {name: i for i, name in enumerate(GROUP_ORDER)}
    return sorted(groups.items(), key=lambda item: rank.get(item[0], len(rank)))


def _explain(topic: str, ctx: CommandContext) -> Reply:
    matches = [s for s in ctx.registry.commands if topic in s.verbs]
    if topic == "settings":
        matches = [s for s in ctx.registry.commands if s.verb == "settings set"]
    if not matches:
        matches = [s for s in ctx.registry.commands if s.verb.startswith(topic)]
    if not matches:
        raise UserError(f"There is no command “{shorten(topic, 40)}”.", "Type `help`.")
    messages = []
    for spec in matches:
        msg = MessageBuilder().hint(spec.usage()).line().extend(
            with_hints(spec.summary, ctx.registry.is_command))
        if spec.explain:
            msg.line().extend(with_hints(spec.explain, ctx.registry.is_command))
        if spec.who is Role.ORGANIZER:
            msg.line("Only organizers can use it.")
        elif spec.who is Role.MENTOR:
            msg.line("For mentors.")
        for p in spec.params:
            need = {Need.ALWAYS: "required", Need.FORM: "asked for in a form if left out",
                    Need.OPTIONAL: "optional"}[p.need]
            how = p.name if not p.positional else f"{p.noun} (first words after the command)"
            msg.line(f"  • {how}: {p.label}, {need}{_limits(p.kind, p)}")
        if spec.aliases:
            msg.line("Also: ")
            for i, alias in enumerate(spec.aliases):
                if i:
                    msg.say(", ")
                msg.hint(alias)
        for example in spec.examples:
            msg.line("Example: ").hint(example)
        if spec.verb in ("settings set", "settings"):
            msg.line("The settings, their ranges and their values here:")
            for line in describe_settings(ctx.settings):
                msg.line("  • ").user_text(line)
        messages.append(msg.build())
    return Reply(tuple(messages))


def _limits(kind: Kind, p: Any) -> str:
    if kind is Kind.INT:
        return f" ({p.low}–{p.high})"
    if kind in (Kind.TEXT, Kind.TOPIC) and p.max_length:
        low = f"{p.min_length}–" if p.min_length else "up to "
        return f" ({low}{p.max_length} characters)"
    if kind is Kind.CHOICE:
        return " (" + " or ".join(p.choices) + ")"
    if kind is Kind.TIME:
        return " (e.g. “tomorrow 18:00”, “next Tue 18:30”, “2026-12-03 09:00”, in your zone)"
    if kind is Kind.DATE:
        return " (e.g. “2026-12-24” or “in 2 weeks”)"
    return ""


# -- the member's home view ----------------------------------------------------------------------


@dataclass(frozen=True)
class ShowMine:
    pass


@command(ShowMine, "my", aliases=("mine", "me"), group=GENERAL, read_only=True,
         summary="Your profile, requests, sessions and what's next.")
async def show_mine(cmd: ShowMine, ctx: CommandContext) -> Reply:
    messages: list[Message] = []
    for section in ctx.registry.home_sections:
        messages.extend(await section(ctx))
    return Reply(tuple(messages))


# -- organizers: settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class ShowSettings:
    pass


@command(ShowSettings, "settings", group=ORGANIZERS, who=Role.ORGANIZER, read_only=True,
         summary="Show this community's settings.")
async def show_settings(cmd: ShowSettings, ctx: CommandContext) -> Reply:
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
    msg.line("Change one with ").hint("settings set <key> <value>").say(
        " (`off` unsets a channel or group).")
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
    if key.endswith(("_channel", "_group")) or key == "quiet_hours":
        if value.lower() in CLEARS:
            return ""  # "settings set mentors_channel off": no channel, the feature is off
        return value.lstrip("#").strip()
    if key == "default_timezone":
        from bot.timezones import parse_timezone

        return parse_timezone(value)
    return value


@dataclass(frozen=True)
class ChangeSetting:
    key: str = param.text("Setting", need=Need.ALWAYS, positional=True, max_length=40,
                          what="setting", source=Source.SETTINGS)
    value: str = param.text("Value", need=Need.ALWAYS, positional=True, aliases=("value",),
                            max_length=1000, what="value")


@command(ChangeSetting, "settings set", group=ORGANIZERS, who=Role.ORGANIZER,
         summary="Change a setting.", examples=("settings set request_limit 5",))
async def change_setting(cmd: ChangeSetting, ctx: CommandContext) -> Reply:
    key = cmd.key.lower()
    if key not in EDITABLE_SETTINGS:
        raise ParamError("key", f"There is no setting “{shorten(key, 40)}”.",
                         "Type `settings` to see them all.")
    overrides = await ctx.tx.communities.settings(ctx.community.id)
    with reading("value"):
        value = _coerce(key, cmd.value)
    if key == "synonyms":
        # Adding one synonym must not drop the others ("alias=" with no topic removes one).
        merged_pairs = {**ctx.settings.synonyms, **value}
        value = {alias: topic for alias, topic in merged_pairs.items() if topic}
    overrides[key] = value
    try:
        merged = CommunityDefaults.model_validate({**ctx.settings.model_dump(), **overrides})
    except ValidationError as exc:
        reason = describe_validation_error(exc).removeprefix(f"{key}: ").removeprefix(
            "settings: ")
        raise ParamError(
            "value", f"That value doesn't work for {key}: {reason}.",
            f"Nothing was changed. `help settings set` shows each key's range; "
            f"for example `settings set {key} {_example(key)}`.",
        ) from None
    overrides[key] = getattr(merged, key)  # store the typed value ("6" → 6)
    await ctx.tx.communities.save_settings(ctx.community.id, overrides)
    new_value = getattr(merged, key)
    shown = "not set" if new_value == "" else json.dumps(new_value, ensure_ascii=False)
    msg = MessageBuilder().say(f"{key} is now ").user_text(shorten(shown, 300)).say(".")
    if key in RESCHEDULING_KEYS:
        msg.line("Reminders and follow-ups already scheduled keep their times; sessions booked "
                 "or confirmed from now on use the new value.")
    return Reply.of(msg.build())


#: Settings that change when nudges are due: what happens to those already planned is said.
RESCHEDULING_KEYS = frozenset({
    "request_nudge_hours", "request_release_hours", "agenda_reminder_hours",
    "mentor_reminder_hours", "both_reminder_minutes", "followup_days", "outcome_days",
})


def _example(key: str) -> str:
    """A value that works for ``key``, from its default."""
    default = CommunityDefaults().model_dump()[key]
    if isinstance(default, bool):
        return "true"
    if isinstance(default, dict):
        return "js=javascript"
    return str(default) if default != "" else "off"


def describe_settings(settings: CommunityDefaults) -> list[str]:
    """Each key with its meaning, range and current value (for `help settings set`)."""
    fields = CommunityDefaults.model_fields
    values = settings.model_dump()
    lines = []
    for key, meaning in EDITABLE_SETTINGS.items():
        low = high = None
        for rule in fields[key].metadata:
            low = getattr(rule, "ge", low)
            high = getattr(rule, "le", high)
        bounds = f" ({low}–{high})" if low is not None and high is not None else ""
        value = values[key]
        shown = (", ".join(f"{k}={v}" for k, v in sorted(value.items()))
                 if isinstance(value, dict) else (str(value) if value != "" else "not set"))
        lines.append(f"{key}{bounds}: {meaning}; now {shorten(shown, 120)}")
    return lines


# -- organizers: is mentorship happening? --------------------------------------------------------


@dataclass(frozen=True)
class ShowReport:
    """Organizers: is mentorship happening? Requests, answers, nudges."""


@command(ShowReport, "report", group=ORGANIZERS, who=Role.ORGANIZER, read_only=True,
         summary="Is mentorship happening? Requests, answers, sessions, nudges.")
async def show_report(cmd: ShowReport, ctx: CommandContext) -> Reply:
    counts = {state.value: 0 for state in IntroState}
    for intro in await ctx.tx.intros.of(ctx.community.id, limit=100_000):
        counts[intro.state.value] += 1
    mentors = len(await ctx.tx.profiles.all(ctx.community.id))
    nudges = await ctx.tx.nudges.state_counts(ctx.community.id)
    msg = MessageBuilder().strong(f"Mentorship in {ctx.community.name}")
    msg.line(f"  Mentors: {mentors}")
    msg.line("  Requests: " + ", ".join(f"{IntroState(k).label} {v}" for k, v in counts.items()))
    msg.line(
        "  Nudges: " + (", ".join(f"{k} {v}" for k, v in sorted(nudges.items())) or "none yet")
    )
    for section in ctx.registry.report_sections:
        for line in await section(ctx):
            msg.line().extend(with_hints("  " + line, ctx.registry.is_command))
    failed = await ctx.tx.nudges.list(
        ctx.community.id, states=["failed"], limit=5, newest_first=True
    )
    for nudge in failed:
        msg.line(f"  failed nudge #{nudge.id} ({ctx.registry.nudges.readable(nudge.kind)}): ")
        msg.user_text(shorten(nudge.outcome or "", 120))
    if nudges:
        msg.line("Type ").hint("nudges").say(
            " for the latest ones and why any were skipped or failed.")
    return Reply.of(msg.build())


NUDGES_SHOWN = 15
NUDGE_STATES = ("pending", "sending", "sent", "stale", "failed")


@dataclass(frozen=True)
class ShowNudges:
    """Organizers: the latest nudges (of one state, or skipped and failed ones) and why."""

    state: str | None = param.choice("State", NUDGE_STATES, positional=True,
                                     what="nudge state")
    page: int | None = param.integer("Page", low=1, high=10_000, positional=True,
                                     aliases=("page",), what="page")


@command(ShowNudges, "nudges", group=ORGANIZERS, who=Role.ORGANIZER, read_only=True,
         summary="The latest nudges and why any were skipped or failed.",
         explain="Without a state: the skipped and failed ones, which are the ones worth a "
                 "look. Pending ones include those waiting for quiet hours or a DM budget, "
                 "with the reason. Times are in your timezone.",
         examples=("nudges", "nudges failed", "nudges pending 2"))
async def show_nudges(cmd: ShowNudges, ctx: CommandContext) -> Reply:
    """Nothing is dropped silently: organizers can see every nudge's fate and the reason."""
    states = [cmd.state] if cmd.state else ["stale", "failed"]
    page = cmd.page or 1
    total = await ctx.tx.nudges.count(ctx.community.id, states=states)
    rows = await ctx.tx.nudges.list(
        ctx.community.id, states=states, limit=NUDGES_SHOWN,
        offset=(page - 1) * NUDGES_SHOWN, newest_first=True,
    )
    what = cmd.state or "skipped or failed"
    if not rows:
        if page > 1:
            return Reply.of(text(f"There are only {total} {what} nudges."))
        return Reply.of(text(f"No {what} nudges. Everything else went out as planned."
                             if not cmd.state else f"No {what} nudges."))
    first = (page - 1) * NUDGES_SHOWN + 1
    msg = MessageBuilder().strong(
        f"{what.capitalize()} nudges, newest first: {first}–{first + len(rows) - 1} of {total}")
    people = await ctx.tx.members.by_ids(
        ctx.community.id, [r.recipient_id for r in rows if r.recipient_id is not None]
    )
    for row in rows:
        msg.line(f"  #{row.id} {ctx.registry.nudges.readable(row.kind)}")
        person = people.get(row.recipient_id) if row.recipient_id is not None else None
        if person is not None:
            msg.say(" to ").user_text(shorten(person.display_name, 40))
        elif row.channel:
            msg.say(" in ").user_text(shorten(row.channel, 40))
        msg.say(" · due ").moment(row.due_at, ctx.my_zone)
        postponed = row.state == "pending" and (row.outcome or "").startswith("postponed")
        msg.say(f" · {'postponed' if postponed else row.state}")
        if row.outcome:
            msg.say(": ").user_text(shorten(row.outcome, 120))
    if first + len(rows) - 1 < total:
        more = " ".join(filter(None, ("nudges", cmd.state, str(page + 1))))
        msg.line(f"Showing {len(rows)} of {total}; ").hint(more).say(" for more.")
    if not cmd.state:
        msg.line("See others with ").hint("nudges pending").say(", ").hint("nudges sent")
        msg.say(", ").hint("nudges stale").say(" or ").hint("nudges failed").say(".")
    return Reply.of(msg.build())


COMMANDS = (show_help, show_mine, show_settings, change_setting, show_report, show_nudges)
