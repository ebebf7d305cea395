"""Every command declaration can be typed, clicked and submitted as a form; the registries are
built from the explicit feature list, and every process knows every nudge kind.

These walk the declarations themselves (``bot.bootstrap.features()``), so a command added
tomorrow is checked without touching this file.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.bootstrap import build_registry, features
from bot.choice_ids import decode, encode, id_length
from bot.command import CommandSpec, Kind, MemberRef, Need, Role
from bot.feature import Feature
from bot.messages import Choice, Message
from bot.registry import Registry
from bot.syntax import derive_form, missing_required

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = build_registry()
SPECS = REGISTRY.commands

#: A value of each kind that reads back without the database or the clock.
SAMPLE = {
    Kind.TEXT: "a few words of text",
    Kind.TOPIC: "python",
    Kind.NUMBER: "12",
    Kind.MEMBER: "<member:U0ADA00001>",
    Kind.TIME: "tomorrow 18:00",
    Kind.TIMES: "Tue 18:00; Wed 19:00",
    Kind.DATE: "2027-01-10",
    Kind.DURATION: "2 weeks",
    Kind.TIMEZONE: "Europe/Berlin",
}


def sample(spec: CommandSpec[Any], name: str) -> str:
    """A valid value; one word for a positional parameter that is not the last one."""
    p = spec.param(name)
    if p.positional and p is not spec.positional[-1] and p.kind is Kind.TEXT:
        return "word"
    if p.choices:
        return p.choices[-1]
    if p.kind is Kind.INT:
        return str(p.low)
    if p.kind is Kind.BOOL:
        return "yes"
    if p.kind is Kind.TEXT and p.min_length > len(SAMPLE[Kind.TEXT]):
        return "x " * p.min_length
    return SAMPLE[p.kind]


def typed_line(spec: CommandSpec[Any]) -> tuple[str, dict[str, str]]:
    """A line giving every parameter (positional ones in order, the others labelled)."""
    values = {p.name: sample(spec, p.name) for p in spec.params}
    parts = [spec.verb]
    for p in spec.positional:
        parts.append(values[p.name])
    for p in spec.params:
        if not p.positional:
            parts.append(f"{p.name}: {values[p.name]}")
    return " ".join(parts), values


def ids(specs: tuple[CommandSpec[Any], ...]) -> list[str]:
    return [s.verb for s in specs]


@pytest.mark.parametrize("spec", SPECS, ids=ids(SPECS))
def test_each_command_can_be_typed_with_every_parameter(spec: CommandSpec[Any]) -> None:
    line, values = typed_line(spec)
    parsed = REGISTRY.grammar.parse(line)
    assert parsed.spec is spec
    for name, value in values.items():
        assert parsed.raw[name].strip() == value.strip(), (line, name)


@pytest.mark.parametrize("spec", SPECS, ids=ids(SPECS))
def test_each_command_can_be_clicked(spec: CommandSpec[Any]) -> None:
    line, _values = typed_line(spec)

    async def no_stash(command: str) -> int:
        raise AssertionError(f"a plain command should fit an id: {command!r}")

    import asyncio

    custom_id = asyncio.run(encode(7, line if id_length(line) < 90 else spec.verb, no_stash))
    assert id_length(custom_id) <= 100
    decoded = decode(custom_id)
    assert decoded is not None and decoded.community_id == 7
    assert decoded.command is not None
    assert REGISTRY.grammar.parse(decoded.command).spec is spec


WITH_FIELDS = tuple(s for s in SPECS
                    if any(p.need is not Need.ALWAYS and p.in_form for p in s.params))


@pytest.mark.parametrize("spec", WITH_FIELDS, ids=ids(WITH_FIELDS))
def test_each_command_with_fields_can_be_submitted_as_a_form(spec: CommandSpec[Any]) -> None:
    fixed = {p.name: _typed(spec, p.name) for p in spec.params if p.need is Need.ALWAYS}
    cmd = spec.type(**fixed, **{p.name: None for p in spec.params
                               if p.need is not Need.ALWAYS and p.kind is not Kind.BOOL})
    form = derive_form(spec, cmd)
    assert 1 <= len(form.fields) <= 5 and len(form.title) <= 24
    assert all(len(f.label) <= 45 for f in form.fields)
    values = {f.name: sample(spec, f.name) for f in form.fields}
    parsed = REGISTRY.grammar.parse(form.command, values)
    assert parsed.spec is spec
    assert missing_required(spec, parsed.raw) is None
    for name, value in values.items():
        assert parsed.raw[name] == value


def _typed(spec: CommandSpec[Any], name: str) -> Any:
    p = spec.param(name)
    raw = sample(spec, name)
    if p.kind is Kind.MEMBER:
        return MemberRef(raw)
    if p.kind in (Kind.NUMBER, Kind.INT):
        return int(raw)
    return raw


def test_every_declaration_is_complete_and_its_examples_parse() -> None:
    verbs: set[str] = set()
    for spec in SPECS:
        assert spec.summary and spec.group, spec.verb
        assert dataclasses.is_dataclass(spec.type)
        assert spec.type.__dataclass_params__.frozen, f"{spec.type.__name__} is not frozen"
        for example in spec.examples:
            parsed = REGISTRY.grammar.parse(example)
            assert parsed.spec is spec, example
            assert missing_required(spec, parsed.raw) is None, example
        verbs.update(spec.verbs)
    assert len(verbs) == sum(len(s.verbs) for s in SPECS), "a verb is declared twice"


def test_help_and_the_readme_come_from_the_declarations() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for spec in SPECS:
        assert spec.usage().replace("|", "\\|") in readme, spec.verb


def test_organizer_commands_are_declared_so() -> None:
    organizer_verbs = {s.verb for s in SPECS if s.who is Role.ORGANIZER}
    assert {"settings", "settings set", "report", "nudges", "feedback"} <= organizer_verbs


def test_registries_refuse_a_feature_listed_twice_or_a_verb_declared_twice() -> None:
    listed = features()
    with pytest.raises(ValueError, match="listed twice"):
        Registry((*listed, listed[0]))
    clash = Feature("clash", commands=(listed[0].commands[0],))
    with pytest.raises(ValueError, match="declared twice"):
        Registry((*listed, clash))


def test_registries_are_not_filled_by_importing() -> None:
    """Importing every module of the bot registers nothing: only the composition root's
    explicit list builds a registry, and two registries are independent."""
    first, second = build_registry(), build_registry()
    assert first is not second
    assert first.commands == second.commands
    assert len(first.nudges) == len(second.nudges) > 30


_ENGINE_ONLY = """
import asyncio, json, sys
from bot.bootstrap import build_engine, open_store
from bot.clock import ManualClock
from bot.config import CommunityDefaults, NudgeSettings, StorageSettings
from datetime import datetime, UTC
from tests.recording_port import RecordingMessenger

async def main(url, at):
    store = await open_store(StorageSettings(url=url))
    clock = ManualClock(datetime.fromisoformat(at))
    engine = build_engine(store, RecordingMessenger(), clock, NudgeSettings(),
                          CommunityDefaults())
    await engine.run_due()
    loaded = sorted(m for m in sys.modules if m.startswith("bot."))
    await store.close()
    print(json.dumps({"kinds": list(engine.kinds.names), "loaded": loaded}))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_a_process_that_only_runs_the_engine_renders_every_kind(
    tmp_path: Path,
) -> None:
    """Nudges of many kinds are queued by the real core; a separate process that starts only
    the nudge engine delivers them all: none is skipped as an unknown kind."""
    from datetime import timedelta

    from sqlalchemy import select

    from bot.bootstrap import open_store
    from bot.caller import Caller
    from bot.clock import ManualClock
    from bot.config import StorageSettings
    from storage import schema as t
    from tests.conftest import START
    from tests.worlds import World

    url = f"sqlite+aiosqlite:///{tmp_path / 'kinds.db'}"
    store = await open_store(StorageSettings(url=url))
    clock = ManualClock(START)
    try:
        w = World.start(store, clock)
        ada = Caller("test", "c1", "C", "U0ADA00001", "Ada", "Europe/Berlin")
        bob = Caller("test", "c1", "C", "U0BOB00001", "Bob", "Europe/Berlin")
        await w.say(ada, "mentor set topics: python bio: hi availability: Mon-Sun 08:00-22:00")
        await w.say(bob, "request Ada topic: python context: I am stuck on asyncio, tried docs")
        await w.say(ada, "accept 1")
        await w.say(bob, "book Ada when: 2026-11-26 18:00 length: 30")
        await w.say(ada, "confirm 1")
        clock.advance(timedelta(days=40))
        async with store.reading() as tx:
            kinds = {k for (k,) in await tx.conn.execute(  # type: ignore[attr-defined]
                select(t.nudges.c.kind).distinct())}
    finally:
        await store.close()
    assert len(kinds) >= 8, kinds
    result = subprocess.run(
        [sys.executable, "-c", _ENGINE_ONLY, url, clock.now().isoformat()],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert kinds <= set(report["kinds"])
    assert not any(m.startswith("adapters") for m in report["loaded"])
    store = await open_store(StorageSettings(url=url))
    try:
        async with store.reading() as tx:
            outcomes = [o for (o,) in await tx.conn.execute(  # type: ignore[attr-defined]
                select(t.nudges.c.outcome))]
    finally:
        await store.close()
    assert not [o for o in outcomes if o and "unknown nudge kind" in o]


def test_every_choice_the_core_emits_fits_an_id_even_with_long_topics() -> None:
    """Ids are measured as Discord measures them; a command that does not fit is stashed."""
    import asyncio

    stashed: list[str] = []

    async def stash(command: str) -> int:
        stashed.append(command)
        return len(stashed)

    topic = "🐍" * 80
    message = Message((), (Choice("Tell me", f"notify {topic}"), Choice("Ok", "accept 1")))
    from bot.choice_ids import seal

    sealed = asyncio.run(seal(message, 123456, stash))
    for choice in sealed.choices:
        assert id_length(choice.id) <= 100
    assert stashed == [f"notify {topic}"]  # kept whole, never cut
    decoded = decode(sealed.choices[0].id)
    assert decoded is not None and decoded.stash_id == 1 and decoded.command is None
    assert decode(sealed.choices[1].id) == decode("mb:2n9c:accept 1")
