"""How a command is declared: verb, typed parameters, who may run it, help, and its handler.

One declaration per command, next to its handler, in its feature's module::

    @dataclass(frozen=True)
    class WithdrawIntro:
        intro_id: int = param.number("Request #", what="request")

    @command(WithdrawIntro, "withdraw", group="Mentees",
             summary="Withdraw a request that is still open.")
    async def withdraw(cmd: WithdrawIntro, ctx: CommandContext) -> Reply: ...

Everything else is derived from that one declaration (see ``bot.syntax``): the text syntax a
person types (``withdraw 12``), the form for the parameters a handler asks for, the typed
options a Discord app command needs, the help text and README reference, and validation with
an error that names the parameter, so a modal can show it under the right field.

The decorator does not register anything: it returns a :class:`CommandSpec`, and each feature
lists its specs in its :class:`bot.feature.Feature`; the composition root builds the registry.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bot.errors import UserError
from bot.text import bounded, shorten

if TYPE_CHECKING:
    from bot.context import CommandContext
    from bot.messages import Reply

log = logging.getLogger(__name__)

PARAM_KEY = "mentorbot.param"
C = TypeVar("C")


class Role(Enum):
    """Who may run a command. The core checks it before the handler runs."""

    MEMBER = "member"
    MENTOR = "mentor"
    ORGANIZER = "organizer"


class Need(Enum):
    """When a parameter must be given."""

    ALWAYS = "always"
    """Always (a request or session number, a mentor's name): missing → a refusal naming it."""
    FORM = "form"
    """The handler asks for it with a form when it is missing; required in that form."""
    OPTIONAL = "optional"
    """May be left out everywhere."""


class Kind(Enum):
    """What a parameter holds; decides validation, form fields and Discord option types."""

    TEXT = "text"
    TOPIC = "topic"
    INT = "int"
    NUMBER = "number"
    """The number of a record the person refers to (request #12, session #3)."""
    CHOICE = "choice"
    BOOL = "bool"
    MEMBER = "member"
    TIME = "time"
    TIMES = "times"
    DATE = "date"
    DURATION = "duration"
    TIMEZONE = "timezone"


class Source(Enum):
    """Where autocomplete suggestions come from (answered by ``Mentorbot.suggest``)."""

    TOPICS = "topics"
    MENTORS = "mentors"
    MEMBERS = "members"
    TIMEZONES = "timezones"
    MY_SESSIONS = "my_sessions"
    MY_REQUESTS = "my_requests"
    REQUESTS_TO_ME = "requests_to_me"
    SETTINGS = "settings"


@dataclass(frozen=True)
class Param:
    """One typed parameter of a command. ``name`` is the dataclass field's name."""

    kind: Kind
    label: str
    """Short label for forms (≤ 45 characters: Discord's modal limit)."""
    help: str = ""
    need: Need = Need.ALWAYS
    positional: bool = False
    """Can be given without its label, in declaration order; the last positional one takes
    the rest of the line ("request Ada Lovelace")."""
    min_length: int = 0
    max_length: int = 200
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()
    long: bool = False
    """Multi-line text (a long text box in a form)."""
    source: Source | None = None
    aliases: tuple[str, ...] = ()
    """Other labels accepted in text (``decline 3 reason: …`` for ``note``)."""
    placeholder: str = ""
    in_form: bool = True
    what: str = ""
    """How refusals name the value ("request" → "Which request? I need its number")."""
    shown: str = ""
    """How the usage line shows the value (``rate <session #> <1-5>``); default: ``what``."""
    allow_past: bool = False
    """TIME: let a past time through (the handler refuses it with the next free times)."""
    through_day: bool = False
    """DATE: a bare date means the end of that day, not its start ("until: 2027-03-01")."""
    max_items: int = 3
    name: str = ""

    def __post_init__(self) -> None:
        if len(self.label) > 45:
            raise ValueError(f"parameter label over 45 characters: {self.label!r}")

    @property
    def required(self) -> bool:
        return self.need is Need.ALWAYS

    @property
    def labels(self) -> tuple[str, ...]:
        """Labels accepted in text. A positional parameter has none but its aliases, so a word
        like "mentor:" inside free text is never mistaken for one."""
        return self.aliases if self.positional else (self.name, *self.aliases)

    @property
    def noun(self) -> str:
        return self.what or self.label.lower()


def _declare(kind: Kind, label: str, *, need: Need = Need.OPTIONAL, default: Any = None,
             **options: Any) -> Any:
    """A dataclass field carrying its :class:`Param` (required ones have no default)."""
    spec = Param(kind, label, need=need, **options)
    if need is Need.ALWAYS and default is None:
        return field(metadata={PARAM_KEY: spec})
    return field(default=default, metadata={PARAM_KEY: spec})


class _ParamFactory:
    """``param.text(...)``, ``param.number(...)``: one function per kind, read like a form."""

    def text(self, label: str, *, need: Need = Need.OPTIONAL, **options: Any) -> Any:
        return _declare(Kind.TEXT, label, need=need, **options)

    def topic(self, label: str = "Topic", *, need: Need = Need.OPTIONAL, **options: Any) -> Any:
        options.setdefault("max_length", 80)
        options.setdefault("source", Source.TOPICS)
        return _declare(Kind.TOPIC, label, need=need, **options)

    def integer(self, label: str, *, low: int, high: int, need: Need = Need.OPTIONAL,
                **options: Any) -> Any:
        return _declare(Kind.INT, label, need=need, low=low, high=high, **options)

    def number(self, label: str, *, what: str, need: Need = Need.ALWAYS,
               **options: Any) -> Any:
        options.setdefault("positional", True)
        return _declare(Kind.NUMBER, label, need=need, what=what, low=1, **options)

    def choice(self, label: str, choices: Sequence[str], *, need: Need = Need.OPTIONAL,
               **options: Any) -> Any:
        return _declare(Kind.CHOICE, label, need=need, choices=tuple(choices), **options)

    def flag(self, label: str, *, default: bool = False, **options: Any) -> Any:
        return _declare(Kind.BOOL, label, need=Need.OPTIONAL, default=default,
                        choices=("no", "yes"), **options)

    def member(self, label: str, *, need: Need = Need.ALWAYS, **options: Any) -> Any:
        options.setdefault("positional", True)
        options.setdefault("max_length", 100)
        return _declare(Kind.MEMBER, label, need=need, **options)

    def time(self, label: str = "When (your timezone)", *, need: Need = Need.FORM,
             **options: Any) -> Any:
        options.setdefault("max_length", 80)
        options.setdefault("what", "time")
        options.setdefault("placeholder", "tomorrow 18:00, next Tue 18:30, 2026-12-03 09:00")
        return _declare(Kind.TIME, label, need=need, **options)

    def times(self, label: str, *, need: Need = Need.FORM, **options: Any) -> Any:
        options.setdefault("max_length", 200)
        return _declare(Kind.TIMES, label, need=need, default=None, **options)

    def date(self, label: str, *, need: Need = Need.OPTIONAL, **options: Any) -> Any:
        options.setdefault("max_length", 60)
        return _declare(Kind.DATE, label, need=need, **options)

    def duration(self, label: str, *, need: Need = Need.OPTIONAL, **options: Any) -> Any:
        options.setdefault("max_length", 40)
        return _declare(Kind.DURATION, label, need=need, **options)

    def timezone(self, label: str = "Timezone", *, need: Need = Need.ALWAYS,
                 **options: Any) -> Any:
        options.setdefault("positional", True)
        options.setdefault("max_length", 60)
        options.setdefault("source", Source.TIMEZONES)
        return _declare(Kind.TIMEZONE, label, need=need, **options)


param = _ParamFactory()


@dataclass(frozen=True)
class MemberRef:
    """Someone a person named: ``<member:PLATFORM_ID>`` (from a mention or a picker), or a
    display name. The core resolves it against the community's members; nobody is ever matched
    by parsing mention markup."""

    handle: str

    @property
    def platform_user_id(self) -> str | None:
        match = MEMBER_HANDLE.match(self.handle)
        return match.group(1) if match else None


MEMBER_HANDLE = re.compile(r"^<member:([A-Za-z0-9_.:-]{1,64})>$")

Handler = Callable[[Any, "CommandContext"], Awaitable["Reply"]]


@dataclass(frozen=True)
class CommandSpec(Generic[C]):
    """A declared command: everything the core and adapters derive from."""

    type: type[C]
    verb: str
    handler: Callable[[C, CommandContext], Awaitable[Reply]]
    summary: str
    group: str
    who: Role = Role.MEMBER
    explain: str = ""
    examples: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    form_title: str = ""
    submit_label: str = "Send"
    read_only: bool = False
    """Changes nothing (`my`, `help`, `sessions`): runs in a read-only transaction."""
    params: tuple[Param, ...] = ()

    @property
    def verbs(self) -> tuple[str, ...]:
        return (self.verb, *self.aliases)

    @property
    def positional(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.positional)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def usage(self) -> str:
        """``request <mentor> topic: <topic> context: <context>`` from the parameters."""
        parts = [self.verb]
        for p in self.params:
            noun = p.shown or (f"{p.noun} #" if p.kind is Kind.NUMBER else p.noun)
            if p.kind is Kind.CHOICE:
                placeholder = "|".join(p.choices)
            elif p.positional and p.need is Need.OPTIONAL:
                placeholder = noun
            else:
                placeholder = f"<{noun}>"
            if p.positional:
                parts.append(placeholder if p.need is not Need.OPTIONAL else f"[{placeholder}]")
            elif p.kind is Kind.BOOL:
                parts.append(f"[{p.name}: yes]")
            else:
                text = f"{p.name}: {placeholder}"
                parts.append(text if p.need is not Need.OPTIONAL else f"[{text}]")
        return " ".join(parts)

    def __call__(self, cmd: C, ctx: CommandContext) -> Awaitable[Reply]:
        """Run the handler (a flow may hand over to another command's handler)."""
        return self.handler(cmd, ctx)


def command(
    type_: type[C],
    verb: str,
    *,
    summary: str,
    group: str,
    who: Role = Role.MEMBER,
    explain: str = "",
    examples: Sequence[str] = (),
    aliases: Sequence[str] = (),
    form_title: str = "",
    submit_label: str = "Send",
    read_only: bool = False,
) -> Callable[[Callable[[C, CommandContext], Awaitable[Reply]]], CommandSpec[C]]:
    """Declare ``type_`` (a frozen dataclass of :func:`param` fields) as the command ``verb``.

    Returns the :class:`CommandSpec` in place of the handler; nothing is registered.
    """
    if not dataclasses.is_dataclass(type_):
        raise TypeError(f"{type_.__name__} must be a dataclass")
    params = tuple(_params_of(type_))
    if len(form_title) > 24:
        raise ValueError(f"form title over 24 characters (Slack's limit): {form_title!r}")

    def wrap(handler: Callable[[C, CommandContext], Awaitable[Reply]]) -> CommandSpec[C]:
        return CommandSpec(
            type=type_, verb=verb, handler=handler, summary=summary, group=group, who=who,
            explain=explain, examples=tuple(examples), aliases=tuple(aliases),
            form_title=form_title, submit_label=submit_label, read_only=read_only,
            params=params,
        )

    return wrap


def _params_of(type_: type[Any]) -> list[Param]:
    out = []
    for f in dataclasses.fields(type_):
        declared = f.metadata.get(PARAM_KEY)
        if declared is None:
            raise TypeError(f"{type_.__name__}.{f.name} is not declared with param.*()")
        out.append(dataclasses.replace(declared, name=f.name))
    return out


# -- converting what was typed into typed values ------------------------------------------------


class ParamError(UserError):
    """A refusal about one parameter: adapters show it under that field."""

    def __init__(self, param: str, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.param = param


@dataclass(frozen=True)
class Reading:
    """What reading a value may depend on: the person's zone and "now"."""

    zone: str
    now: datetime
    horizon: timedelta | None = None


_RECORD_NUMBER = re.compile(r"^#?(\d{1,12})$")
_DURATION = re.compile(
    r"^(?:for\s+|in\s+)?(\d{1,4})\s*(minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|months?)$",
    re.IGNORECASE,
)
_UNIT_DAYS = {"m": 1 / 1440, "h": 1 / 24, "d": 1, "w": 7, "mo": 30}
YES = frozenset({"yes", "y", "true", "1", "on", "public"})
NO = frozenset({"no", "n", "false", "0", "off", "private"})


def convert(p: Param, raw: str, reading: Reading | None) -> Any:
    """The typed value of ``raw`` for ``p``, or a :class:`ParamError` naming ``p``."""
    try:
        return _convert(p, raw, reading)
    except ParamError:
        raise
    except UserError as err:
        raise ParamError(p.name, err.message, err.hint) from None


def _convert(p: Param, raw: str, reading: Reading | None) -> Any:
    value = raw.strip()
    if p.kind in (Kind.TEXT, Kind.TOPIC):
        return bounded(raw, what=p.noun, max_length=p.max_length,
                       min_length=max(p.min_length, 1), multiline=p.long)
    if p.kind is Kind.NUMBER:
        match = _RECORD_NUMBER.match(value)
        if not match:
            raise ParamError(p.name, f"Which {p.noun}? I need its number, e.g. “12”.",
                             _number_hint(p))
        return int(match.group(1))
    if p.kind is Kind.INT:
        number = value.removesuffix("/5") if p.high == 5 else value
        if not number.isdigit() or len(number) > 9 or not (
            (p.low is None or int(number) >= p.low) and (p.high is None or int(number) <= p.high)
        ):
            raise ParamError(
                p.name,
                f"The {p.noun} must be a whole number from {p.low} to {p.high}, "
                f"not “{shorten(value, 20)}”.",
            )
        return int(number)
    if p.kind is Kind.CHOICE:
        for option in p.choices:
            if value.lower() == option.lower():
                return option
        raise ParamError(
            p.name, f"I don't know the {p.noun} “{shorten(value, 30)}”.",
            f"Pick one of: {', '.join(p.choices)}.",
        )
    if p.kind is Kind.BOOL:
        if value.lower() in YES:
            return True
        if value.lower() in NO or not value:
            return False
        raise ParamError(p.name, f"“{p.name}:” should be yes or no, not “{shorten(value, 20)}”.")
    if p.kind is Kind.MEMBER:
        if not value:
            raise ParamError(p.name, f"Please name the {p.noun}.")
        name = bounded(value, what=p.noun, max_length=p.max_length)
        return MemberRef(name)
    if p.kind is Kind.TIMEZONE:
        from bot.timezones import parse_timezone

        return parse_timezone(value)
    if p.kind is Kind.DURATION:
        return parse_duration(value, p)
    if reading is None:
        raise RuntimeError(f"{p.kind} needs the person's zone and time")
    if p.kind is Kind.TIME:
        return read_time(value, reading, allow_past=p.allow_past)
    if p.kind is Kind.TIMES:
        return read_times(value, reading, p)
    if p.kind is Kind.DATE:
        return read_date(value, reading, through_day=p.through_day)
    raise AssertionError(p.kind)


def _number_hint(p: Param) -> str:
    if p.what == "session":
        return "Type `sessions` to see them and their numbers."
    if p.what == "mentorship":
        return "Type `my` to see your mentorships and their numbers."
    return "Type `my` to see your requests and their numbers."


def parse_duration(value: str, p: Param | None = None) -> timedelta:
    """``2 weeks``, ``3d``, ``90 minutes`` → a timedelta (a month counts 30 days)."""
    match = _DURATION.match(value.strip())
    if not match:
        raise ParamError(
            p.name if p else "duration",
            f"I can't read “{shorten(value, 30)}” as a duration.",
            "Write it like `2 weeks`, `3 days` or `10 hours`.",
        )
    amount, unit = int(match.group(1)), match.group(2).lower()
    key = "mo" if unit.startswith("mo") else unit[0]
    return timedelta(days=amount * _UNIT_DAYS[key])


def read_time(value: str, reading: Reading, *, allow_past: bool = False) -> datetime:
    from bot.when import parse_when

    return parse_when(value, reading.zone, reading.now, horizon=reading.horizon,
                      allow_past=allow_past)


def read_times(value: str, reading: Reading, p: Param) -> tuple[datetime, ...]:
    parts = [part.strip() for part in re.split(r"[;\n|]+", value) if part.strip()]
    if not parts:
        raise ParamError(p.name, "Which times? Give up to three.",
                         "For example: `slots: Tue 18:00; Wed 19:00`.")
    if len(parts) > p.max_items:
        raise ParamError(p.name, f"That's {len(parts)} times; give at most {p.max_items}.",
                         "Separate them with “;”.")
    out: list[datetime] = []
    for part in parts:
        try:
            at = read_time(part, reading, allow_past=p.allow_past)
        except UserError as err:
            raise ParamError(p.name, f"“{shorten(part, 40)}”: {err.message}", err.hint) from None
        if at in out:
            raise ParamError(p.name, f"“{shorten(part, 40)}” is given twice.",
                             "Give different times.")
        out.append(at)
    return tuple(out)


_AMOUNT_FIRST = re.compile(r"^\d+\s*[a-zA-Z]")


def read_date(value: str, reading: Reading, *, through_day: bool = False) -> datetime:
    """A future moment from "2026-12-24", "in 2 weeks", "2 weeks", "until next monday".

    A bare day means the start of that day in the person's zone, or with ``through_day`` its
    end ("until: 2027-03-01" includes the 1st).
    """
    from bot.when import parse_date_until

    text = value.strip()
    if text.lower().startswith("until "):
        text = text[len("until "):].strip()
    if _AMOUNT_FIRST.match(text):
        text = "in " + text  # "2 weeks" reads as a duration from now
    return parse_date_until(text, reading.zone, reading.now, horizon=reading.horizon,
                            through_day=through_day)


def value_text(p: Param, value: Any) -> str:
    """A typed value back as text, as a person would type it (form initial values)."""
    if value is None:
        return ""
    if isinstance(value, MemberRef):
        return value.handle
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return ""  # times are re-typed by the person, in their own zone
    if isinstance(value, tuple):
        return ""
    return str(value)


def missing(cmd: Any, spec: CommandSpec[Any]) -> list[Param]:
    """The ``Need.FORM`` parameters ``cmd`` lacks: what its form must ask for."""
    return [p for p in spec.params if p.need is Need.FORM and getattr(cmd, p.name) is None]


def build(spec: CommandSpec[C], values: Mapping[str, Any]) -> C:
    return spec.type(**values)
