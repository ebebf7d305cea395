"""The parity journey, written once in platform-neutral terms, and what a run of it leaves.

Why this module: the claim that the core is platform-neutral is only proven when the same
journey, driven the native way on the console, Slack and Discord, ends in the same rows and
brings each person the same messages. So the journey is data (:data:`JOURNEY`: who acts, which
command with which arguments, which button by the command it runs, which form values, how the
clock moves), and a run is reduced to what does not depend on the platform:

* what each person received (:class:`Received`), by role: the kind of message (a nudge's kind,
  or ``reply`` for the answer to their own action), and its meaning read back from what the
  platform showed: the commands it hints at, the commands its buttons run, the roles it
  mentions, the moments it names, its files and the forms it opened. Never the wording: each
  platform words its own things ("Done.", a file note, "✅ You chose").
* the end state (:func:`end_state`): rows by role, with platform ids replaced by roles.

The drivers that run it are in ``tests/parity_drivers.py``; the tests in
``tests/test_parity.py``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, select

from bot.choice_ids import decode
from bot.errors import UserError
from bot.repositories import Store
from bot.syntax import Grammar
from storage import schema as t

log = logging.getLogger(__name__)

MENTOR = "mentor"
MENTEE = "mentee"
ROLES = (MENTOR, MENTEE)
SPACE = "space"
"""The private space of the intro (a console space, a Slack group DM, a Discord thread)."""

ZONES = {MENTOR: "Europe/Berlin", MENTEE: "America/New_York"}
#: Monday 23 Nov 2026, 15:00 UTC: 16:00 in Berlin, 10:00 in New York (nobody's quiet hours).
START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
#: Wednesday 12:00 in New York, 18:00 in Berlin.
SESSION_AT = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
#: After each action the clock moves on by this much, as it would while people read and type:
#: what the platform paced or held back for a moment is delivered before the next step.
PAUSE = timedelta(minutes=1)
CONTEXT = "I want to learn asyncio and got stuck on cancellation; I tried the docs"

# -- the journey ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """A command argument naming a person: each platform names them its own way."""

    role: str


Value = str | Member


@dataclass(frozen=True)
class Say:
    """``who`` runs ``verb`` with ``args`` by parameter name (typed, or as options)."""

    who: str
    verb: str
    args: Mapping[str, Value] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.who}: {self.verb} {dict(self.args)}"


@dataclass(frozen=True)
class Click:
    """``who`` clicks the newest button they can see that runs ``command`` (or a command
    starting with it: ``request`` finds "Ask Alice", ``request <member:…>``)."""

    who: str
    command: str

    def __str__(self) -> str:
        return f"{self.who} clicks “{self.command}”"


@dataclass(frozen=True)
class Fill:
    """``who`` fills in the form they have open and sends it: ``values`` by field name;
    fields left out keep what the form showed."""

    who: str
    values: Mapping[str, str]

    def __str__(self) -> str:
        return f"{self.who} fills in {sorted(self.values)}"


@dataclass(frozen=True)
class Advance:
    """The clock moves on; every nudge due on the way is delivered at its moment (every
    other step is followed by a :data:`PAUSE`)."""

    by: timedelta

    def __str__(self) -> str:
        return f"time +{self.by}"


Step = Say | Click | Fill | Advance

JOURNEY: tuple[Step, ...] = (
    Say(MENTOR, "tz", {"zone": ZONES[MENTOR]}),
    Say(MENTEE, "tz", {"zone": ZONES[MENTEE]}),
    # The mentor profile, through the form the bare command opens.
    Say(MENTOR, "mentor set"),
    Fill(MENTOR, {"topics": "python, rust", "bio": "I build compilers and like teaching",
                  "availability": "Mon-Fri 17:00-21:00", "lengths": "30, 60", "mentees": "2"}),
    # Find, and ask for an intro from the button on the answer.
    Say(MENTEE, "find", {"topic": "python"}),
    Click(MENTEE, "request"),
    Fill(MENTEE, {"topic": "python", "context": CONTEXT}),
    # Accept: the space opens, the mentorship starts, both are asked to kick it off.
    Click(MENTOR, "accept"),
    Click(MENTEE, "goals"),
    Fill(MENTEE, {"goal1": "Ship my first asyncio PR by March, merged upstream",
                  "feedback": "direct and written"}),
    Click(MENTOR, "rhythm"),
    Fill(MENTOR, {"every": "two weeks", "length": "45", "where": "video call"}),
    # Book, confirm (the invite comes as a file), reminders, "did it happen?".
    Say(MENTEE, "book", {"other": Member(MENTOR), "when": "2026-11-25 12:00", "length": "30"}),
    Click(MENTOR, "confirm"),
    Advance(SESSION_AT + timedelta(hours=1) - START),
    Click(MENTEE, "met"),
    Click(MENTOR, "met"),
    # The morning after: the thank-you prompt, the mentorship's check-in and note requests.
    Advance(timedelta(hours=20)),
    Click(MENTEE, "thanks"),
    Fill(MENTEE, {"note": "Thank you, that helped a lot!"}),
    Click(MENTEE, "checkin"),
    Fill(MENTEE, {"status": "moving", "changed": "wrote the first draft of the PR"}),
    Click(MENTOR, "note"),
    Fill(MENTOR, {"text": "Great progress on the draft", "next": "write the tests first"}),
    # A week later the check-in; the mentee answers it. A month later, the outcome question.
    Advance(timedelta(days=7)),
    Click(MENTEE, "followup"),
    Fill(MENTEE, {"text": "The PR is under review now, thanks again"}),
    Advance(timedelta(days=30)),
)


def exchanges(journey: Sequence[Step]) -> list[int]:
    """For each step, the step whose answer it belongs to: a ``Fill`` belongs to the step of
    the same person that opened its form. Why: Discord cannot show text beside a modal, so
    what comes with a form reaches the person after they send it (the console and Slack show
    it at once); one action and the form it opened are one exchange, answered once."""
    out: list[int] = []
    for i, step in enumerate(journey):
        if isinstance(step, Fill):
            opener = next(j for j in range(i - 1, -1, -1)
                          if isinstance(journey[j], Say | Click)
                          and getattr(journey[j], "who", None) == step.who)
            out.append(out[opener])
        else:
            out.append(i)
    return out


# -- what a person was shown, as each platform showed it ----------------------------------------


@dataclass(frozen=True)
class Shown:
    """One thing the platform showed, read back by its driver (platform ids still in)."""

    step: int
    to: str
    """The role it was shown to, or :data:`SPACE`."""
    key: str | None
    """The nudge's idempotency key it carried, or None: an answer to the person's action."""
    hints: tuple[str, ...] = ()
    """Commands it tells the reader to type, as they would type them (no ``/mentor``)."""
    mentioned: tuple[str, ...] = ()
    """Roles it names, in order."""
    moments: tuple[str, ...] = ()
    """Moments it shows (see :func:`moment`)."""
    choice_ids: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    """Titles of forms it opened, names replaced by roles."""
    text: str = ""
    """What the platform showed, for messages when something differs."""


def moment(at: datetime, style: str, zone: str | None) -> str:
    """A moment's meaning: an instant (``at``: a date and time, or a relative time), else the
    date or time of day the reader sees in ``zone`` (unknown in a shared space)."""
    if style == "at":
        return f"at {at.astimezone(UTC):%Y-%m-%d %H:%M}Z"
    if zone is None:
        return style
    local = at.astimezone(ZoneInfo(zone))
    return f"date {local:%Y-%m-%d}" if style == "date" else f"time {local:%H:%M}"


_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_FALLBACK_DAY = re.compile(
    r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\d{1,2}) ([A-Z][a-z]{2}) (\d{4})"
    r"(?: (\d{2}):(\d{2}) ([A-Z]{2,5}|[+-]\d{2,4}))?")
_FALLBACK_TIME = re.compile(r"(?<![\d:])(\d{2}):(\d{2}) ([A-Z]{2,5}|[+-]\d{2,4})\b")


def fallback_moments(text: str, zone: str | None) -> list[str]:
    """Moments in text as ``Moment.fallback_text`` writes them (the console), read back with
    the reader's zone (the zone abbreviation must agree with it)."""
    found: list[tuple[int, str]] = []
    for m in _FALLBACK_DAY.finditer(text):
        day, month, year = int(m[1]), _MONTHS[m[2]], int(m[3])
        if m[4] is None:
            found.append((m.start(), f"date {year:04d}-{month:02d}-{day:02d}" if zone else "date"))
            continue
        found.append((m.start(), moment(_local(year, month, day, int(m[4]), int(m[5]), m[6],
                                               zone), "at", zone)))
    blanked = _FALLBACK_DAY.sub(lambda m: " " * len(m[0]), text)
    for m in _FALLBACK_TIME.finditer(blanked):
        found.append((m.start(), f"time {m[1]}:{m[2]}" if zone else "time"))
    return [value for _pos, value in sorted(found)]


def _local(year: int, month: int, day: int, hour: int, minute: int, abbreviation: str,
           zone: str | None) -> datetime:
    for candidate in ([zone] if zone else []) + [*ZONES.values(), "UTC"]:
        at = datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(candidate))
        if at.tzname() == abbreviation:
            return at
    raise AssertionError(f"no zone writes {abbreviation!r} on {year}-{month}-{day}")


# -- what a person received, by meaning ----------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One message as its recipient understood it, whatever the platform."""

    step: int
    """The journey step (the exchange, for an answer) during which it arrived."""
    kind: str
    """The nudge's kind, or ``reply``: everything answering the person's own action."""
    hints: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    mentioned: tuple[str, ...] = ()
    moments: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = [f"step {self.step} {self.kind}"]
        for name in ("hints", "choices", "mentioned", "moments", "files", "forms"):
            value = getattr(self, name)
            if value:
                parts.append(f"{name}={list(value)}")
        return " ".join(parts)


Trace = dict[str, tuple[Received, ...]]
"""What each recipient (a role, or the space) received, in order."""


@dataclass(frozen=True)
class Facts:
    """What the database knows that a platform's messages only point at."""

    roles: Mapping[str, str]
    """Platform user id → role."""
    kinds: Mapping[int, str]
    """Nudge id → kind."""
    stashed: Mapping[int, str]
    """Stashed command id → command (buttons whose command did not fit the id)."""


def command_of(choice_id: str, facts: Facts) -> str:
    decoded = decode(choice_id)
    if decoded is None:
        return f"<not a core button: {choice_id}>"
    if decoded.command is not None:
        return decoded.command
    assert decoded.stash_id is not None
    return facts.stashed.get(decoded.stash_id, f"<unknown stash {decoded.stash_id}>")


def canonical(command: str, grammar: Grammar, facts: Facts) -> str:
    """A command as the core reads it: its declared verb (not an alias), single spaces, and
    roles instead of platform ids. Text that is no command stays as it is."""
    for platform_id, role in facts.roles.items():
        command = command.replace(platform_id, role)
    try:
        spec, rest = grammar.split_verb(command)
    except UserError:
        return " ".join(command.split())
    return " ".join([spec.verb, *rest.split()])


def kind_of(key: str | None, facts: Facts) -> str:
    if key is None:
        return "reply"
    number = key.removeprefix("mentorbot-nudge-")
    return facts.kinds.get(int(number), f"<unknown nudge {key}>") if number.isdigit() \
        else f"<not a nudge key: {key}>"


def normalize(shown: Iterable[Shown], grammar: Grammar, facts: Facts,
              journey: Sequence[Step] = JOURNEY) -> Trace:
    """Each recipient's messages by meaning. Everything answering one exchange (see
    :func:`exchanges`) is one ``reply``, its parts sorted (platforms pack, split and order
    the parts of an answer differently), first in its step; nudges follow in the order they
    arrived."""
    exchange = exchanges(journey)
    replies: dict[tuple[str, int], list[Shown]] = {}
    order: dict[str, list[tuple[int, int, Received | tuple[str, int]]]] = {}
    for n, item in enumerate(shown):
        slot = order.setdefault(item.to, [])
        if item.key is None:
            group = (item.to, exchange[item.step])
            if group not in replies:
                replies[group] = []
                slot.append((group[1], 0, group))
            replies[group].append(item)
            continue
        slot.append((item.step, 1 + n, Received(
            item.step, kind_of(item.key, facts),
            hints=tuple(canonical(h, grammar, facts) for h in item.hints),
            choices=tuple(canonical(command_of(c, facts), grammar, facts)
                          for c in item.choice_ids),
            mentioned=item.mentioned, moments=item.moments, files=item.files,
            forms=item.forms)))
    trace: Trace = {}
    for to, entries in order.items():
        out: list[Received] = []
        for _step, _n, entry in sorted(entries, key=lambda e: (e[0], e[1])):
            if isinstance(entry, Received):
                out.append(entry)
                continue
            parts = replies[entry]
            out.append(Received(
                entry[1], "reply",
                hints=tuple(sorted(canonical(h, grammar, facts) for p in parts for h in p.hints)),
                choices=tuple(sorted(canonical(command_of(c, facts), grammar, facts)
                                     for p in parts for c in p.choice_ids)),
                mentioned=tuple(sorted(r for p in parts for r in p.mentioned)),
                moments=tuple(sorted(m for p in parts for m in p.moments)),
                files=tuple(sorted(f for p in parts for f in p.files)),
                forms=tuple(sorted(f for p in parts for f in p.forms)),
            ))
        trace[to] = tuple(out)
    return trace


# -- the end state, by role ------------------------------------------------------------------------


async def _rows(store: Store, table: Table) -> list[dict[str, Any]]:
    async with store.reading() as tx:
        result = await tx.conn.execute(select(table).order_by(*table.primary_key.columns))  # type: ignore[attr-defined]
        return [dict(r._mapping) for r in result]


def _when(value: Any) -> Any:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


async def facts_of(store: Store, roles: Mapping[str, str]) -> Facts:
    nudges = await _rows(store, t.nudges)
    stash = await _rows(store, t.command_stash)
    return Facts(roles, {n["id"]: n["kind"] for n in nudges},
                 {s["id"]: s["command"] for s in stash})


async def display_names(store: Store, roles: Mapping[str, str]) -> dict[str, str]:
    """Role → the display name the core keeps for that person."""
    return {roles[m["platform_user_id"]]: m["display_name"]
            for m in await _rows(store, t.members) if m["platform_user_id"] in roles}


async def end_state(store: Store, roles: Mapping[str, str]) -> dict[str, Any]:
    """The rows a journey leaves, with every platform id and member row replaced by a role.

    Display names are left out (each platform has its own for a person) and so are the
    nudges' platform, delivery references and claims; everything else is compared."""
    members = await _rows(store, t.members)
    who = {m["id"]: roles.get(m["platform_user_id"], f"? {m['platform_user_id']}")
           for m in members}

    def clean(row: Mapping[str, Any], *drop: str, people: Sequence[str] = ()) -> dict[str, Any]:
        out = {}
        for key, value in row.items():
            if key in drop or key in ("community_id", "created_at", "updated_at"):
                continue
            out[key] = who.get(value, value) if key in people else _when(value)
        return out

    topics = await _rows(store, t.mentor_topics)
    windows = await _rows(store, t.availability_windows)
    state: dict[str, Any] = {
        "members": {who[m["id"]]: clean(m, "id", "platform_user_id", "display_name")
                    for m in members},
        "profiles": {
            who[p["member_id"]]: {
                **clean(p, "member_id"),
                "topics": [x["topic"] for x in topics if x["member_id"] == p["member_id"]],
                "availability": [(w["weekday"], w["start_minute"], w["end_minute"])
                                 for w in windows if w["member_id"] == p["member_id"]],
            }
            for p in await _rows(store, t.mentor_profiles)
        },
        "intros": [{**clean(i, "space_ref", people=("member_id", "mentor_id")),
                    "space_opened": i["space_ref"] is not None}
                   for i in await _rows(store, t.intro_requests)],
        "mentorships": [clean(m, people=("mentor_id", "mentee_id"))
                        for m in await _rows(store, t.mentorships)],
        "goals": [clean(g) for g in await _rows(store, t.goals)],
        "progress": [clean(e, people=("author_id",))
                     for e in await _rows(store, t.progress_entries)],
        "sessions": [clean(s, people=("mentor_id", "member_id", "proposed_by"))
                     for s in await _rows(store, t.sessions)],
        "attendance": [clean(a, people=("member_id",))
                       for a in await _rows(store, t.session_attendance)],
        "feedback": [clean(f, people=("author_id",))
                     for f in await _rows(store, t.session_feedback)],
        "nudges": [
            {**clean(n, "platform", "delivery_ref", "claimed_at", "claim_token", "claimed_by",
                     "payload", people=("recipient_id",)),
             "payload": _payload(n["payload"], who)}
            for n in await _rows(store, t.nudges)
        ],
    }
    return state


_MEMBER_KEYS = frozenset({"by", "member", "mentor", "mentee", "recipient", "author"})


def _payload(raw: str, who: Mapping[int, str]) -> dict[str, Any]:
    payload = json.loads(raw or "{}")
    return {k: who.get(v, v) if k in _MEMBER_KEYS and isinstance(v, int) else v
            for k, v in sorted(payload.items())}


# -- comparing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A whole run, reduced to what must not depend on the platform."""

    platform: str
    trace: Trace
    state: dict[str, Any]
    shown: tuple[Shown, ...] = ()
    seconds: float = 0.0


def differences(a: Outcome, b: Outcome, *, skip: Collection[tuple[str, int]] = ()) -> list[str]:
    """Where ``b`` differs from ``a``: the first differing message of each recipient (with its
    step) and every differing part of the end state; empty when they agree. ``skip`` leaves
    out the messages of (recipient, step) pairs known to differ (each known difference has a
    test of its own)."""
    out: list[str] = []
    for to in sorted(set(a.trace) | set(b.trace)):
        mine = [r for r in a.trace.get(to, ()) if (to, r.step) not in skip]
        theirs = [r for r in b.trace.get(to, ()) if (to, r.step) not in skip]
        for i in range(max(len(mine), len(theirs))):
            x = mine[i] if i < len(mine) else None
            y = theirs[i] if i < len(theirs) else None
            if x != y:
                out.append(f"{to}, message {i + 1}: {a.platform} has {x or 'nothing'}; "
                           f"{b.platform} has {y or 'nothing'}")
                break
    for part in sorted(set(a.state) | set(b.state)):
        if a.state.get(part) != b.state.get(part):
            out.append(f"end state {part!r}: {a.platform} {a.state.get(part)!r} != "
                       f"{b.platform} {b.state.get(part)!r}")
    return out


def messages_at(outcome: Outcome, to: str, step: int) -> tuple[Received, ...]:
    """What ``to`` received during ``step`` (its exchange, for an answer)."""
    return tuple(r for r in outcome.trace.get(to, ()) if r.step == step)
