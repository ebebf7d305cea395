"""Commands the bot mentions are ``Hint`` segments, never backticked text.

Each platform shows a hint its own way (the console ``accept 12``, Slack ``/mentor accept 12``,
Discord a clickable command mention), which only works when the core says "this is a command"
with a :class:`~bot.messages.Hint`. These tests run console journeys (``tests/worlds.py``: the
real core, SQLite and the nudge engine) through every command, the help, refusals, and months
of nudges, and look at every segment of every message: no text may carry a known verb in
backticks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import timedelta

import pytest

from bot.caller import Caller
from bot.clock import ManualClock
from bot.messages import Hint, Message, Notice, Plain, Quote, Strong, with_hints
from bot.registry import Registry
from bot.repositories import Store
from tests.test_declarations import REGISTRY, typed_line
from tests.worlds import World

log = logging.getLogger(__name__)

BACKTICKED = re.compile(r"`([^`\n]+)`")


def person(user_id: str, name: str, zone: str, *, admin: bool = False) -> Caller:
    return Caller("console", "T0HINTS001", "Hints", user_id, name, zone, is_platform_admin=admin)


GRACE = person("U0GRACE001", "Grace", "Europe/Berlin")
MAYA = person("U0MAYA0001", "Maya", "Europe/London")
NEO = person("U0NEO00001", "Neo", "")  # no zone from the platform: asked once
ORG = person("U0ORG00001", "Org", "UTC", admin=True)

CONTEXT = "context: I am learning python and got stuck on asyncio, I tried the docs"
PROFILE = ("mentor set topics: python, career bio: I build compilers lengths: 30, 60 "
           "availability: Mon-Sun 08:00-22:00 mentees: 3")

#: A mentorship's life, typed; what each line answers does not matter here, only its words.
JOURNEY: tuple[tuple[Caller, str], ...] = (
    (NEO, "help"),
    (GRACE, PROFILE),
    (MAYA, f"request Grace topic: python {CONTEXT}"),
    (MAYA, "request Grace"),
    (GRACE, "ask 1 Which Python version?"),
    (MAYA, "answer 1 Python 3.12, on Linux"),
    (GRACE, "accept 1"),
    (MAYA, "goals 1 goal1: Ship a PR goal2: Give a talk feedback: direct"),
    (GRACE, "rhythm 1 every: two weeks length: 30 where: video call"),
    (MAYA, "book Grace"),
    (MAYA, "book Grace when: 2026-11-26 18:00 Europe/Berlin"),
    (GRACE, "confirm 1"),
    (MAYA, "agenda 1"),
    (MAYA, "agenda 1 asyncio questions"),
    (MAYA, "followups off"),
    (MAYA, "followups on"),
    (MAYA, "sessions"),
    (MAYA, "my"),
    (GRACE, "my"),
    (GRACE, "mentorships"),
    (ORG, "settings"),
    (ORG, "report"),
    (ORG, "nudges"),
    (ORG, "feedback"),
    (MAYA, "mentor pause 2026-12-20"),
    (MAYA, "propose Grace slots: Tue 18:00; Wed 19:00 length: 30"),
    (NEO, "find rust"),
    (NEO, "notify rust"),
    (NEO, "tz Nowhere/City"),
    (NEO, "nonsense words"),
    (NEO, "withdraw"),
    (NEO, "quiet late"),
    (NEO, "followups snooze"),
)
AFTER_THE_SESSION: tuple[tuple[Caller, str], ...] = (
    (MAYA, "met 1"),
    (MAYA, "thanks 1 Thank you, that helped"),
    (MAYA, "rate 1 5"),
    (MAYA, "checkin 1 goal: 1 status: moving changed: found an issue"),
    (GRACE, "note 1 text: keep it small next: comment first"),
    (MAYA, "feedback-ask 1 Could you read my PR description?"),
    (MAYA, "goal 1 done"),
    (MAYA, "progress 1"),
    (MAYA, "mentorship end 1 Thank you"),
    (MAYA, "reflect 1 I learned to ask earlier"),
)


def backticked_commands(messages: Iterable[Message], registry: Registry) -> list[str]:
    """Text segments that write a known command in backticks, as ``"`text`" in "message"``."""
    found = []
    for message in messages:
        for seg in message.segments:
            if isinstance(seg, Notice | Strong | Plain | Quote):
                for span in BACKTICKED.findall(seg.text):
                    if registry.is_command(span):
                        found.append(f"`{span}` in {message.plain_text()[:120]!r}")
    return sorted(set(found))


async def test_no_message_of_a_journey_writes_a_command_as_backticked_text(
    store: Store, clock: ManualClock
) -> None:
    w = World.start(store, clock)
    seen: list[Message] = []

    async def run(lines: Iterable[tuple[Caller, str]]) -> None:
        for who, line in lines:
            seen.extend((await w.reply(who, line)).messages)
        await w.deliver()

    await run(JOURNEY)
    await w.at(clock.now() + timedelta(days=4))  # reminders, the session, "did it happen?"
    await run(AFTER_THE_SESSION)
    await w.at(clock.now() + timedelta(days=60))  # follow-ups, check-ins, reflection asks
    # Every command with every parameter, its help, and with nothing at all (its usage).
    for spec in REGISTRY.commands:
        line, _values = typed_line(spec)
        await run([(GRACE, line), (NEO, f"help {spec.verb}"), (NEO, spec.verb)])
    seen.extend(s.message for s in w.messenger.sent)
    assert len(seen) > 200 and any(isinstance(s, Hint) for m in seen for s in m.segments)
    found = backticked_commands(seen, REGISTRY)
    assert found == [], "\n".join(found)


def test_with_hints_turns_only_commands_into_hints() -> None:
    segments = with_hints("Type `my` to see them, or `topics: python` for `tz Europe/Paris`.",
                          REGISTRY.is_command)
    assert segments == [Notice("Type "), Hint("my"), Notice(" to see them, or `topics: python`"
                                                            " for "), Hint("tz Europe/Paris"),
                        Notice(".")]
    assert with_hints("No commands here.", REGISTRY.is_command) == [Notice("No commands here.")]


@pytest.mark.parametrize("line", ["settings set request_limit 5", "mentor", "/help tz"])
def test_known_verbs_are_commands(line: str) -> None:
    assert REGISTRY.is_command(line)
    assert not REGISTRY.is_command("2 weeks") and not REGISTRY.is_command("")
