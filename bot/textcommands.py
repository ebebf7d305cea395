"""Typed commands: turn what a person typed (or a form they submitted) into a :class:`Command`.

Every platform ends up here: the console reads lines, Slack's ``/mentor`` and Discord's
``/mentor`` pass their text, buttons carry a typed command, and forms submit labelled values.
So a text-only adapter can do everything a rich one can.

Syntax: a verb (one or two words), positional text, then optional labelled fields
``key: value`` (e.g. ``request Ada topic: python context: I tried ...``). Form submissions pass
the same fields as a mapping, so both paths share one builder per verb.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot import commands as c
from bot.errors import UserError

log = logging.getLogger(__name__)

MAX_COMMAND_LENGTH = 6000


@dataclass(frozen=True)
class Args:
    """Positional text after the verb, and labelled fields (from text or a form)."""

    rest: str
    fields: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        value = self.fields.get(key)
        return value if value is None else value.strip()


@dataclass(frozen=True)
class Verb:
    name: str
    usage: str
    summary: str
    build: Callable[[Args], c.Command]
    group: str = "General"
    labels: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


def split_labelled(text: str, labels: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """Split "Ada topic: python context: I tried" into ("Ada", {"topic": ..., "context": ...})."""
    if not labels:
        return text.strip(), {}
    pattern = re.compile(
        r"(?:(?<=\s)|^)(" + "|".join(re.escape(label) for label in labels) + r")\s*:",
        re.IGNORECASE,
    )
    matches = list(pattern.finditer(text))
    if not matches:
        return text.strip(), {}
    lead = text[: matches[0].start()].strip()
    fields: dict[str, str] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        key = match.group(1).lower()
        if key in fields:
            raise UserError(f"“{key}:” is given twice.", "Give each field once.")
        fields[key] = text[match.end() : end].strip()
    return lead, fields


def number_in(text: str, what: str = "request", hint: str | None = None) -> int:
    """The leading ``#12``/``12`` of a command's arguments, or a friendly refusal."""
    token = text.strip().lstrip("#")
    first = token.split(maxsplit=1)[0] if token else ""
    if not first.isdigit() or len(first) > 12:
        raise UserError(
            f"Which {what}? I need its number, e.g. “12”.",
            hint or "Type `my` to see your requests and their numbers.",
        )
    return int(first)


def after_number(text: str) -> str:
    """What follows the leading number: ``"12 see you then"`` → ``"see you then"``."""
    parts = text.strip().split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def session_number(text: str, example: str) -> int:
    """The session number a command starts with, or a refusal pointing at `sessions`."""
    return number_in(
        text, "session", f"Type `sessions` to see them; for example `{example}`."
    )


def _needs(value: str, what: str, example: str) -> str:
    if not value.strip():
        raise UserError(f"Please say which {what}.", f"For example: `{example}`.")
    return value.strip()


def _request(a: Args) -> c.Command:
    mentor = _needs(a.rest, "mentor", "request Ada topic: python context: ...")
    return c.RequestIntro(mentor=mentor, topic=a.get("topic"), context=a.get("context"))


def _answer(kind: c.IntroAnswer) -> Callable[[Args], c.Command]:
    def build(a: Args) -> c.Command:
        # "decline 3 busy", "decline 3 reason: busy" and a form's "note" field all mean the same.
        note = a.get("note") or a.get("reason") or a.get("until") or after_number(a.rest) or None
        return c.AnswerIntro(number_in(a.rest), kind, note)

    return build


def _mentor_set(a: Args) -> c.Command:
    if a.rest.strip():
        raise UserError(
            "I can't tell which field that is.",
            "Write fields like `mentor set topics: python, career bio: ... lengths: 30, 60`.",
        )
    return c.EditMentorProfile(
        topics=a.get("topics"),
        bio=a.get("bio"),
        lengths=a.get("lengths"),
        availability=a.get("availability"),
        mentees=a.get("mentees"),
        sessions=a.get("sessions"),
    )


def _nudge_state(args: Args) -> c.Command:
    state = args.rest.strip().lower() or None
    if state is not None and state not in c.NUDGE_STATES:
        raise UserError(
            f"I don't know the nudge state “{state[:30]}”.",
            "Try `nudges`, or one of: " + ", ".join(f"`nudges {s}`" for s in c.NUDGE_STATES)
            + ".",
        )
    return c.ShowNudges(state)


def _setting(a: Args) -> c.Command:
    parts = a.rest.strip().split(maxsplit=1)
    if not parts:
        return c.ShowSettings()
    if len(parts) == 1 and not a.get("value"):
        raise UserError(
            f"What should {parts[0][:40]} be?", "For example: `settings set request_limit 5`."
        )
    return c.ChangeSetting(parts[0].lower(), a.get("value") or parts[1])


PROFILE_LABELS = ("topics", "bio", "lengths", "availability", "mentees", "sessions")

VERBS: dict[str, Verb] = {}


def register(verb: Verb) -> None:
    """Add a verb (later features register their own)."""
    for name in (verb.name, *verb.aliases):
        if name in VERBS:
            raise ValueError(f"verb {name!r} registered twice")
        VERBS[name] = verb


for _verb in (
    Verb("help", "help [command]", "List commands, or explain one.",
         lambda a: c.Help(a.rest.strip().lower())),
    Verb("tz", "tz <Area/City>", "Set your timezone, e.g. `tz Europe/Berlin`.",
         lambda a: c.SetTimezone(_needs(a.rest, "timezone", "tz Europe/Berlin")),
         aliases=("timezone",)),
    Verb("quiet", "quiet <HH:MM-HH:MM|off>", "Hours when follow-ups wait (your local time).",
         lambda a: c.SetQuietHours(_needs(a.rest, "quiet hours", "quiet 22:00-08:00"))),
    Verb("profile", "profile [name]", "Show your profile, or a mentor's.",
         lambda a: c.ShowProfile(a.rest.strip())),
    Verb("my", "my", "Your profile, open requests (sent and received) and their state.",
         lambda a: c.ShowMine(), aliases=("mine", "me")),
    Verb("find", "find <topic>", "Find mentors for a topic, best fit first.",
         lambda a: c.FindMentors(_needs(a.rest, "topic", "find python")), group="Mentees"),
    Verb("notify", "notify <topic>", "Tell me when a mentor for this topic frees up.",
         lambda a: c.WaitForMentor(_needs(a.rest, "topic", "notify python")), group="Mentees"),
    Verb("request", "request <mentor> topic: <topic> context: <what you want, what you tried>",
         "Ask a mentor for an intro (they accept or decline privately).", _request,
         group="Mentees", labels=("topic", "context")),
    Verb("withdraw", "withdraw <request #>", "Withdraw a request that is still open.",
         lambda a: c.WithdrawIntro(number_in(a.rest)), group="Mentees"),
    Verb("answer", "answer <request #> <more info>",
         "Answer a mentor's question about your request.",
         lambda a: c.AddIntroInfo(number_in(a.rest), a.get("text") or after_number(a.rest) or None),
         group="Mentees", labels=("text",)),
    Verb("mentor", "mentor", "Become a mentor, or see your mentor profile.",
         _mentor_set,
         group="Mentors", labels=PROFILE_LABELS),
    Verb("mentor set", "mentor set topics: … bio: … lengths: 30, 60 availability: Tue 18:00-20:00 "
         "mentees: 3 sessions: 4", "Create or change your mentor profile.", _mentor_set,
         group="Mentors", labels=PROFILE_LABELS),
    Verb("mentor edit", "mentor edit", "Edit your mentor profile in a form.",
         lambda a: c.OpenProfileForm(), group="Mentors"),
    Verb("mentor pause", "mentor pause <until>", "Pause new requests until a date.",
         lambda a: c.PauseMentoring(_needs(a.rest, "date", "mentor pause 2026-12-24")),
         group="Mentors"),
    Verb("mentor resume", "mentor resume", "Take requests again.",
         lambda a: c.ResumeMentoring(), group="Mentors"),
    Verb("mentor delete", "mentor delete [confirm]", "Delete your mentor profile.",
         lambda a: c.DeleteMentorProfile(a.rest.strip().lower() == "confirm"), group="Mentors"),
    Verb("accept", "accept <request #>", "Accept an intro request.",
         _answer(c.IntroAnswer.ACCEPT), group="Mentors", labels=("note",)),
    Verb("decline", "decline <request #> [reason]", "Decline an intro request.",
         _answer(c.IntroAnswer.DECLINE), group="Mentors", labels=("note", "reason")),
    Verb("ask", "ask <request #> <question>", "Ask the member for more info.",
         _answer(c.IntroAnswer.ASK_INFO), group="Mentors", labels=("note",)),
    Verb("decline-pause", "decline-pause <request #> [until]",
         "Decline and pause new requests (4 weeks unless you say until when).",
         _answer(c.IntroAnswer.DECLINE_AND_PAUSE), group="Mentors", labels=("note", "until")),
    Verb("settings", "settings", "Organizers: show this community's settings.",
         lambda a: c.ShowSettings(), group="Organizers"),
    Verb("settings set", "settings set <key> <value>", "Organizers: change a setting.",
         _setting, group="Organizers", labels=("value",)),
    Verb("report", "report", "Organizers: is mentorship happening? Requests, answers, nudges.",
         lambda a: c.ShowReport(), group="Organizers"),
    Verb("nudges", "nudges [pending|sent|stale|failed]",
         "Organizers: the latest nudges and why any were skipped or failed.",
         _nudge_state, group="Organizers"),
):
    register(_verb)


def parse(text: str, fields: Mapping[str, str] | None = None) -> c.Command:
    """The command in ``text`` (plus form ``fields``), or a friendly UserError."""
    if len(text) > MAX_COMMAND_LENGTH:
        raise UserError(
            f"That message is too long ({len(text):,} characters).",
            f"Commands are at most {MAX_COMMAND_LENGTH:,} characters.",
        )
    stripped = text.strip().lstrip("/").strip()
    if not stripped:
        raise UserError("I didn't get a command.", "Type `help` to see what I can do.")
    words = stripped.split(maxsplit=2)
    verb: Verb | None = None
    rest = ""
    if len(words) >= 2 and f"{words[0].lower()} {words[1].lower()}" in VERBS:
        verb = VERBS[f"{words[0].lower()} {words[1].lower()}"]
        rest = words[2] if len(words) > 2 else ""
    elif words[0].lower() in VERBS:
        verb = VERBS[words[0].lower()]
        rest = stripped[len(words[0]) :]
    if verb is None:
        suggestion = difflib.get_close_matches(words[0].lower(), VERBS.keys(), n=1, cutoff=0.6)
        hint = f"Did you mean `{suggestion[0]}`? " if suggestion else ""
        raise UserError(
            f"I don't know the command “{words[0][:40]}”.", hint + "Type `help` to see them all."
        )
    lead, labelled = split_labelled(rest, verb.labels)
    merged = dict(labelled)
    for key, value in (fields or {}).items():
        if key not in verb.labels:
            raise UserError(f"The form field “{key[:40]}” is not one I know.", "Please try again.")
        merged[key] = value
    return verb.build(Args(lead, merged))


def help_lines(topic: str = "") -> list[tuple[str, str, str]]:
    """(group, usage, summary) for every verb, or the verbs matching ``topic``."""
    seen: set[str] = set()
    rows = []
    for verb in VERBS.values():
        if verb.name in seen:
            continue
        seen.add(verb.name)
        if topic and not verb.name.startswith(topic):
            continue
        rows.append((verb.group, verb.usage, verb.summary))
    return rows
