"""Discord app commands, generated from the core's command declarations (never by hand).

The rules, so a person can predict every name (README.md shows the result):

* **One top-level command per feature group**, as :data:`TOP_LEVEL` maps the core's groups
  (``General``, ``Mentors`` and ``Mentees`` → ``/mentor``; ``Sessions`` → ``/session``; ``After
  sessions`` → ``/after``; ``Mentorships`` → ``/mentorship``; ``Organizers`` → ``/organizer``).
  A group missing from the table gets its own command named after it, so a new feature never
  disappears silently. Each top-level command holds at most 25 subcommands (Discord's limit);
  more is an error at start.
* **Subcommand name = the core's verb**, lowercased: a verb that starts with its top-level
  command's name drops that word (``mentor set`` → ``/mentor set``), other spaces become ``-``
  (``settings set`` → ``/organizer settings-set``); dashes stay (``/mentor decline-pause``).
* **Option name = the parameter's name**, except a record number, named after what it numbers
  (``intro_id`` → ``request``, ``session_id`` → ``session``). Options are typed: text as
  strings with the core's lengths, whole numbers as integers with the core's range, choices as
  Discord choices, yes/no as booleans, a member as Discord's member picker, a mentor as text
  with autocomplete over the community's mentors. Parameters with an autocomplete source are
  autocompleted from ``Mentorbot.suggest``. Parameters the core asks for in a form are
  optional here: leave them out and the form opens as a modal.
* Commands run in servers and in the DM with the bot (``contexts: [0, 1]``). A DM names no
  server: there a command acts for the one server where the person already uses mentorbot
  (``Mentorbot.only_community``), and asks them to use it in their server when there is none
  or several. Buttons in DMs carry their community anyway.
* A top-level command made only of organizer commands runs in servers only (organizer rights
  come from the member's roles and permissions, which a DM does not carry) and has
  ``default_member_permissions`` = Manage Server, which only hides it: the core checks
  organizer rights on every call.

Values reach the core as structured options (``Mentorbot.handle_options``), never joined into
a text line, so text containing ``context:`` stays text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.command import CommandSpec, Kind, Need, Param, Role, Source
from bot.registry import Registry
from bot.text import shorten

log = logging.getLogger(__name__)

#: The core's command groups → the top-level command that holds them.
TOP_LEVEL: Mapping[str, str] = {
    "General": "mentor",
    "Mentors": "mentor",
    "Mentees": "mentor",
    "Sessions": "session",
    "After sessions": "after",
    "Organizers": "organizer",
    "Mentorships": "mentorship",
}
TOP_DESCRIPTIONS: Mapping[str, str] = {
    "mentor": "Find a mentor, ask for an intro, mentor others; your profile and timezone",
    "session": "Book, confirm and manage mentoring sessions",
    "after": "After a session: say whether it happened, thank, rate, follow up",
    "organizer": "For organizers: settings, report, nudges and feedback",
    "mentorship": "Your mentorships: goals, check-ins, progress, feedback, pause or end",
}

SUB_COMMAND, STRING, INTEGER, BOOLEAN, USER = 1, 3, 4, 5, 6
CHAT_INPUT = 1
GUILD_CONTEXT = 0
BOT_DM_CONTEXT = 1
GUILD_INSTALL = 0
MANAGE_GUILD = 1 << 5
MAX_SUBCOMMANDS = 25
MAX_OPTIONS = 25
MAX_CHOICES = 25
MAX_STRING_LENGTH = 6000
_NAME = re.compile(r"^[-_a-z0-9]{1,32}$")
_TEXT_KINDS = frozenset({Kind.TEXT, Kind.TOPIC, Kind.TIME, Kind.TIMES, Kind.DATE,
                         Kind.DURATION, Kind.TIMEZONE, Kind.CHOICE})


@dataclass(frozen=True)
class Option:
    """One Discord option and the core parameter it fills."""

    name: str
    param: Param
    type: int

    @property
    def required(self) -> bool:
        return self.param.need is Need.ALWAYS

    @property
    def autocompleted(self) -> bool:
        return self.param.source is not None and not self._choices()

    def _choices(self) -> list[dict[str, Any]]:
        p = self.param
        if not p.choices or len(p.choices) > MAX_CHOICES or self.type == BOOLEAN:
            return []
        if self.type == INTEGER:
            if not all(c.isdigit() for c in p.choices):
                return []
            return [{"name": c, "value": int(c)} for c in p.choices]
        return [{"name": shorten(c, 100), "value": c[:100]} for c in p.choices]

    def payload(self) -> dict[str, Any]:
        p = self.param
        out: dict[str, Any] = {
            "type": self.type,
            "name": self.name,
            "description": shorten(p.help or p.label, 100),
            "required": self.required,
        }
        choices = self._choices()
        if choices:
            out["choices"] = choices
        elif self.autocompleted:
            out["autocomplete"] = True
        if self.type == STRING:
            out["max_length"] = min(p.max_length, MAX_STRING_LENGTH)
            if p.min_length > 0:
                out["min_length"] = min(p.min_length, out["max_length"])
        elif self.type == INTEGER and not choices:
            if p.low is not None:
                out["min_value"] = p.low
            if p.high is not None:
                out["max_value"] = p.high
        return out

    def core_value(self, value: Any) -> str:
        """The option's value as the core reads it (a member as ``<member:ID>``)."""
        if self.type == USER:
            return f"<member:{value}>"
        if self.type == BOOLEAN:
            return "yes" if value else "no"
        return str(value)


@dataclass(frozen=True)
class Subcommand:
    """``/top name``: one core command."""

    top: str
    name: str
    spec: CommandSpec[Any]
    options: tuple[Option, ...]

    @property
    def verb(self) -> str:
        return self.spec.verb

    @property
    def slash(self) -> str:
        return f"{self.top} {self.name}"

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    def payload(self) -> dict[str, Any]:
        return {
            "type": SUB_COMMAND,
            "name": self.name,
            "description": shorten(self.spec.summary, 100),
            "options": [o.payload() for o in self.options],
        }


@dataclass(frozen=True)
class Invocation:
    """What an interaction asked for, in the core's terms."""

    subcommand: Subcommand
    options: dict[str, str]
    """Raw values by the core's parameter name."""
    focused: Option | None = None
    partial: str = ""
    """For autocomplete: the option being typed, and what was typed so far."""

    @property
    def verb(self) -> str:
        return self.subcommand.verb


def top_level_name(group: str) -> str:
    """The top-level command for a core group (its slug when the table does not know it)."""
    known = TOP_LEVEL.get(group)
    if known is not None:
        return known
    return re.sub(r"[^a-z0-9]+", "-", group.lower()).strip("-")[:32] or "mentorbot"


def subcommand_name(top: str, verb: str) -> str:
    words = verb.lower().split()
    if len(words) > 1 and words[0] == top:
        words = words[1:]
    return "-".join(words)


def option_name(p: Param) -> str:
    if p.kind is Kind.NUMBER and p.what and p.name.endswith("_id"):
        return p.what.lower().replace(" ", "-")
    return p.name


def option_type(p: Param) -> int:
    if p.kind in (Kind.INT, Kind.NUMBER):
        return INTEGER
    if p.kind is Kind.BOOL:
        return BOOLEAN
    if p.kind is Kind.MEMBER:
        # Discord's member picker for anyone; mentors are text completed from the mentor list.
        return STRING if p.source is Source.MENTORS else USER
    if p.kind in _TEXT_KINDS:
        return STRING
    raise ValueError(f"no Discord option type for {p.kind}")


def _check_name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"{what} {name!r} is not a valid Discord name (1-32 of a-z 0-9 - _)")
    return name


def _options(spec: CommandSpec[Any]) -> tuple[Option, ...]:
    options = [Option(_check_name(option_name(p), "option"), p, option_type(p))
               for p in spec.params]
    names = [o.name for o in options]
    if len(set(names)) != len(names):
        raise ValueError(f"{spec.verb}: two options named alike: {names}")
    if len(options) > MAX_OPTIONS:
        raise ValueError(f"{spec.verb}: more than {MAX_OPTIONS} options")
    # Discord wants the required options first; the order among each kind stays the core's.
    return tuple(sorted(options, key=lambda o: not o.required))


class CommandBook:
    """Every app command the core declares, and the ids Discord gave them when synced."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.tops: dict[str, list[Subcommand]] = {}
        self.groups_of: dict[str, list[str]] = {}
        self._by_verb: dict[str, Subcommand] = {}
        self._by_slash: dict[tuple[str, str], Subcommand] = {}
        self._ids: dict[str | None, dict[str, int]] = {}
        for spec in registry.commands:
            top = _check_name(top_level_name(spec.group), "command")
            sub = Subcommand(top, _check_name(subcommand_name(top, spec.verb), "subcommand"),
                             spec, _options(spec))
            if (top, sub.name) in self._by_slash:
                raise ValueError(f"/{sub.slash} stands for two commands")
            self.tops.setdefault(top, []).append(sub)
            groups = self.groups_of.setdefault(top, [])
            if spec.group not in groups:
                groups.append(spec.group)
            self._by_verb[spec.verb] = sub
            self._by_slash[(top, sub.name)] = sub
        for top, subs in self.tops.items():
            if len(subs) > MAX_SUBCOMMANDS:
                raise ValueError(f"/{top} would hold {len(subs)} subcommands; Discord allows "
                                 f"{MAX_SUBCOMMANDS}: map a group to another command")

    # -- what is synced ----------------------------------------------------------------------

    def payloads(self) -> list[dict[str, Any]]:
        """The bulk-overwrite body (``PUT /applications/{id}/commands``)."""
        out = []
        for top, subs in self.tops.items():
            groups = self.groups_of[top]
            organizers_only = all(s.spec.who is Role.ORGANIZER for s in subs)
            command: dict[str, Any] = {
                "type": CHAT_INPUT,
                "name": top,
                "description": shorten(
                    TOP_DESCRIPTIONS.get(top) or f"{', '.join(groups)} commands", 100),
                "options": [s.payload() for s in subs],
                "contexts": [GUILD_CONTEXT] if organizers_only else [GUILD_CONTEXT,
                                                                     BOT_DM_CONTEXT],
                "integration_types": [GUILD_INSTALL],
                "nsfw": False,
            }
            if organizers_only:
                # Discord's OpenAPI spec takes the bits as an integer here (it answers a string).
                command["default_member_permissions"] = MANAGE_GUILD
            out.append(command)
        return out

    def remember_ids(self, synced: Iterable[Mapping[str, Any]], guild_id: str | None) -> None:
        """Keep the ids Discord returned, for clickable command mentions."""
        self._ids[guild_id] = {str(c["name"]): int(c["id"]) for c in synced if "id" in c}

    @property
    def synced(self) -> bool:
        return bool(self._ids)

    # -- reading an interaction --------------------------------------------------------------

    def subcommand(self, verb: str) -> Subcommand | None:
        spec = self.registry.grammar.spec(verb)
        return None if spec is None else self._by_verb.get(spec.verb)

    def invocation(self, data: Mapping[str, Any]) -> Invocation | None:
        """The core command an APPLICATION_COMMAND or AUTOCOMPLETE ``data`` names, or None."""
        top = str(data.get("name", ""))
        leaf: Sequence[Mapping[str, Any]] = data.get("options") or []
        if len(leaf) != 1 or leaf[0].get("type") != SUB_COMMAND:
            return None
        sub = self._by_slash.get((top, str(leaf[0].get("name", ""))))
        if sub is None:
            return None
        values: dict[str, str] = {}
        focused: Option | None = None
        partial = ""
        for given in leaf[0].get("options") or []:
            option = sub.option(str(given.get("name", "")))
            if option is None:
                continue  # an option from an older sync: ignore it rather than fail
            if given.get("focused"):
                focused, partial = option, str(given.get("value") or "")
                continue
            values[option.param.name] = option.core_value(given.get("value"))
        return Invocation(sub, values, focused, partial)

    # -- command mentions --------------------------------------------------------------------

    def mention(self, verb: str, guild_id: str | None) -> str | None:
        """``</mentor accept:123>`` for ``verb``, clickable where the command was synced, or
        None when its id is unknown (not synced yet)."""
        sub = self.subcommand(verb)
        if sub is None:
            return None
        ids = self._ids.get(guild_id) or self._ids.get(None)
        if ids is None and len(self._ids) == 1:
            ids = next(iter(self._ids.values()))  # a DM, with commands synced to one server
        command_id = (ids or {}).get(sub.top)
        return None if command_id is None else f"</{sub.slash}:{command_id}>"
