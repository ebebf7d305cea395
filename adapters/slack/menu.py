"""``/mentor`` alone: a menu of the commonest actions as buttons (also atop the App Home).

A menu button carries a verb the person could type. One that needs nothing more runs as if
typed; one that needs a value (``find`` needs a topic) opens a modal generated from the
command's declaration and submitted as typed options. A forged click can do no more than
typing the same word would.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.command import CommandSpec, Need
from bot.registry import Registry

log = logging.getLogger(__name__)

MENU_ACTION = "mentorbot.menu"
MENU: tuple[tuple[str, str], ...] = (
    ("Find a mentor", "find"),
    ("My requests and sessions", "my"),
    ("Offer to mentor", "mentor"),
    ("Upcoming sessions", "sessions"),
    ("Set my timezone", "tz"),
    ("Help", "help"),
)
INTRO = "What would you like to do? (Or type `/mentor help` for every command.)"


def menu_blocks(intro: str = INTRO) -> list[Block]:
    return [
        SectionBlock(text=MarkdownTextObject(text=intro, verbatim=True)),
        ActionsBlock(
            block_id=MENU_ACTION,
            elements=[
                ButtonElement(
                    text=PlainTextObject(text=label), action_id=f"{MENU_ACTION}.{verb}",
                    value=verb, style="primary" if i == 0 else None,
                )
                for i, (label, verb) in enumerate(MENU)
            ],
        ),
    ]


def menu_post() -> tuple[str, list[dict[str, Any]]]:
    """The menu as a message: fallback text and blocks."""
    return "What would you like to do?", [b.to_dict() for b in menu_blocks()]


def menu_verb(value: str) -> str | None:
    """The verb a menu button stands for, if it is one of the menu's."""
    return value if any(value == verb for _, verb in MENU) else None


def needs_input(registry: Registry, verb: str) -> CommandSpec[Any] | None:
    """The command's declaration if it must be asked for values first, else None."""
    spec = registry.grammar.spec(verb)
    if spec is None or not any(p.need is Need.ALWAYS and p.in_form for p in spec.params):
        return None
    return spec
