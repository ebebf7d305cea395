"""A refusal about a value names its parameter, so a form shows it under that field.

Walks every command declaration (as ``tests/test_declarations.py`` does): for each typed
parameter, the command is given valid values for what it always needs and an invalid value
for that one parameter, through the core, and the refusal must name the parameter. Values a
handler reads itself (weekly windows, session lengths, a repetition, a setting's value) are
walked from :data:`READ_BY_HANDLERS`; a member that is not one here is refused by the handler
that looks them up.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.bootstrap import build_registry
from bot.caller import Caller
from bot.command import CommandSpec, Kind, Need, Param
from bot.core import Mentorbot
from tests.test_declarations import sample

log = logging.getLogger(__name__)

REGISTRY = build_registry()
ORGANIZER = Caller("test", "T0WALK0001", "Walk", "U0ORG00001", "Olga", "Europe/Berlin",
                   is_platform_admin=True)
GRACE = Caller("test", "T0WALK0001", "Walk", "U0GRACE001", "Grace", "Europe/Berlin")
PROFILE = ("mentor set topics: python bio: Backend engineer lengths: 30, 60 "
           "availability: Mon-Sun 08:00-22:00")

#: A value each kind refuses while it is read (TEXT and TOPIC: one character too many).
INVALID: dict[Kind, str] = {
    Kind.NUMBER: "twelve",
    Kind.INT: "lots",
    Kind.CHOICE: "not-a-choice",
    Kind.BOOL: "maybe",
    Kind.MEMBER: "<member:U0NOBODY99>",
    Kind.TIME: "the day after never",
    Kind.TIMES: "never; not at all",
    Kind.DATE: "the twelfth of never",
    Kind.DURATION: "forever and a day",
    Kind.TIMEZONE: "Atlantis/Nowhere",
}

#: Values a handler reads or checks itself, refused there: (verb, parameter) → (value, the
#: other options it needs to get that far).
READ_BY_HANDLERS: list[tuple[str, str, str, dict[str, str]]] = [
    ("mentor set", "topics", " , ; ", {}),
    ("mentor set", "availability", "whenever I can", {}),
    ("mentor set", "lengths", "7", {}),
    ("quiet", "hours", "late evenings", {}),
    ("settings set", "key", "colour", {}),
    ("settings set", "value", "lots", {"key": "request_limit"}),
    ("settings set", "value", "Mars/Olympus", {"key": "default_timezone"}),
    ("repeat", "frequency", "now and then", {}),
    ("followups", "until", "", {"switch": "snooze"}),
    ("request", "context", "help me please", {"topic": "python",
                                              "mentor": "<member:U0GRACE001>"}),
]


def invalid(p: Param) -> str:
    if p.kind in (Kind.TEXT, Kind.TOPIC):
        return "x" * (p.max_length + 1)
    return INVALID[p.kind]


def cases() -> list[tuple[CommandSpec[Any], Param, str, dict[str, str]]]:
    out = [(spec, p, invalid(p), {}) for spec in REGISTRY.commands for p in spec.params]
    for verb, name, value, others in READ_BY_HANDLERS:
        spec = REGISTRY.grammar.spec(verb)
        assert spec is not None, verb
        out.append((spec, spec.param(name), value, others))
    return out

CASES = cases()


@pytest.mark.parametrize(
    ("spec", "p", "value", "others"), CASES,
    ids=[f"{s.verb}.{p.name}={v[:12]}" for s, p, v, _o in CASES],
)
async def test_an_invalid_value_is_refused_naming_its_parameter(
    core: Mentorbot, spec: CommandSpec[Any], p: Param, value: str, others: dict[str, str]
) -> None:
    for mentor in (ORGANIZER, GRACE):
        assert "mentor" in (await core.handle_text(mentor, PROFILE)).plain_text()
    options = {q.name: sample(spec, q.name) for q in spec.params
               if q.need is Need.ALWAYS and q is not p}
    options.update(others)
    options[p.name] = value
    reply = await core.handle_options(ORGANIZER, spec.verb, options)
    assert reply.refusal is not None, (options, reply.plain_text())
    assert reply.refusal.param == p.name, (options, reply.refusal)


def test_every_kind_has_an_invalid_value() -> None:
    kinds = {p.kind for spec in REGISTRY.commands for p in spec.params}
    assert kinds - {Kind.TEXT, Kind.TOPIC} <= set(INVALID)
