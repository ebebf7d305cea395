"""A feature: the commands, nudge kinds and view sections one part of mentorship brings.

Each feature package (``bot.profiles``, ``bot.intros``, ``bot.sessions``, …) exports one
``FEATURE`` value; the composition root lists the features explicitly and builds the registries
from that list (``bot.registry``). Nothing registers itself on import.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.command import CommandSpec

if TYPE_CHECKING:
    from bot.context import CommandContext
    from bot.messages import Message
    from bot.nudges.kinds import NudgeKind

log = logging.getLogger(__name__)

HomeSection = Callable[["CommandContext"], Awaitable[list["Message"]]]
"""A part of a member's home view (`my`, Slack's App Home): read-only."""
ReportSection = Callable[["CommandContext"], Awaitable[list[str]]]
"""Lines of the organizers' report: counts only, never private content."""


@dataclass(frozen=True)
class Feature:
    name: str
    commands: tuple[CommandSpec[Any], ...] = ()
    nudges: tuple[NudgeKind, ...] = ()
    home_sections: tuple[HomeSection, ...] = ()
    report_sections: tuple[ReportSection, ...] = ()
