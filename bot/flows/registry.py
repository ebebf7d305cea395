"""Which flow handles which command, and the sections features add to `my` and `report`.

Why a registry: a feature (sessions, say) adds its commands and sections in its own module,
and the dispatcher does not change.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot import commands as c
from bot.context import FlowContext
from bot.messages import Message, Reply

log = logging.getLogger(__name__)

Handler = Callable[[Any, FlowContext], Awaitable[Reply]]
HANDLERS: dict[type[c.Command], Handler] = {}
MINE_SECTIONS: list[Callable[[FlowContext], Awaitable[list[Message]]]] = []
REPORT_SECTIONS: list[Callable[[FlowContext], Awaitable[list[str]]]] = []

C = TypeVar("C", bound=c.Command)

#: Feature modules that register their own commands, handlers and nudge renderers on import.
FEATURE_MODULES = ("bot.flows.sessions", "bot.flows.followups")


def handles(command: type[C]) -> Callable[[Callable[[C, FlowContext], Awaitable[Reply]]],
                                          Callable[[C, FlowContext], Awaitable[Reply]]]:
    def register(func: Callable[[C, FlowContext], Awaitable[Reply]]) -> Callable[
        [C, FlowContext], Awaitable[Reply]
    ]:
        if command in HANDLERS:
            raise ValueError(f"{command.__name__} handled twice")
        HANDLERS[command] = func
        return func

    return register


def load_all() -> dict[type[c.Command], Handler]:
    """Import every flow module so each registers its handlers; return the table."""
    from bot.flows import community, intros, profiles

    table: dict[type[c.Command], Handler] = {
        c.Help: community.show_help,
        c.ShowMine: community.show_mine,
        c.ShowSettings: community.show_settings,
        c.ChangeSetting: community.change_setting,
        c.ShowReport: community.show_report,
        c.ShowNudges: community.show_nudges,
        c.SetTimezone: profiles.set_timezone,
        c.SetQuietHours: profiles.set_quiet_hours,
        c.ShowProfile: profiles.show_profile,
        c.EditMentorProfile: profiles.edit_profile,
        c.OpenProfileForm: profiles.edit_form,
        c.PauseMentoring: profiles.pause,
        c.ResumeMentoring: profiles.resume,
        c.DeleteMentorProfile: profiles.delete,
        c.FindMentors: intros.find,
        c.WaitForMentor: intros.wait_for_mentor,
        c.RequestIntro: intros.request_intro,
        c.AnswerIntro: intros.answer_intro,
        c.AddIntroInfo: intros.add_info,
        c.WithdrawIntro: intros.withdraw,
    }
    for command, handler in table.items():
        HANDLERS.setdefault(command, handler)
    for module in FEATURE_MODULES:
        try:
            importlib.import_module(module)  # registers its own verbs, handlers and renderers
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return HANDLERS
