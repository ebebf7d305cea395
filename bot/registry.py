"""The registries: every command and every nudge kind, built once from an explicit feature list.

Why a class built at start and not tables filled on import: a process that imports only part
of the code (a worker that only sends nudges) must still know every kind, and a missing
feature must be an error, not a silent gap. The composition root (``bot.bootstrap``) builds one
:class:`Registry` from its list of features and hands it to the core and the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from bot.command import CommandSpec, Role
from bot.feature import Feature, HomeSection, ReportSection
from bot.nudges.kinds import NudgeKinds
from bot.syntax import Grammar

log = logging.getLogger(__name__)


class Registry:
    def __init__(self, features: Sequence[Feature]) -> None:
        names = [f.name for f in features]
        if len(set(names)) != len(names):
            raise ValueError(f"a feature is listed twice: {names}")
        self.features = tuple(features)
        self.commands: tuple[CommandSpec[Any], ...] = tuple(
            spec for f in features for spec in f.commands
        )
        self.grammar = Grammar(self.commands)
        self.nudges = NudgeKinds(kind for f in features for kind in f.nudges)
        self.home_sections: tuple[HomeSection, ...] = tuple(
            s for f in features for s in f.home_sections
        )
        self.report_sections: tuple[ReportSection, ...] = tuple(
            s for f in features for s in f.report_sections
        )
        self._by_type: dict[type[Any], CommandSpec[Any]] = {}
        for spec in self.commands:
            if spec.type in self._by_type:
                raise ValueError(f"{spec.type.__name__} is declared by two commands")
            self._by_type[spec.type] = spec

    def spec_of(self, command_type: type[Any]) -> CommandSpec[Any]:
        return self._by_type[command_type]

    def is_command(self, line: str) -> bool:
        """Whether ``line`` starts with a verb (``accept 12``, ``settings set key value``), so
        text written as a string can show it as a :class:`~bot.messages.Hint`."""
        words = line.strip().lstrip("/").split(maxsplit=2)
        if not words:
            return False
        if len(words) >= 2 and self.grammar.spec(f"{words[0]} {words[1]}") is not None:
            return True
        return self.grammar.spec(words[0]) is not None

    def groups(self) -> dict[str, list[CommandSpec[Any]]]:
        """Commands by group, in declaration order (help, README, Discord's top commands)."""
        out: dict[str, list[CommandSpec[Any]]] = {}
        for spec in self.commands:
            out.setdefault(spec.group, []).append(spec)
        return out

    def visible_to(self, organizer: bool) -> list[CommandSpec[Any]]:
        return [s for s in self.commands if organizer or s.who is not Role.ORGANIZER]
