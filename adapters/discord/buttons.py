"""Buttons: the core's choices as ``DynamicItem``s, so a click works after any restart.

A button's custom id IS the core's ``Choice.id`` (``mb:<community key>:<command>``, at most
100 characters): discord.py matches it against :class:`CoreButton`'s template whatever
process sent the message, and the core reads the community and the command from it, also in a
DM where Discord sends no server id. No view is ever kept in memory: views are stopped before
they are sent, so discord.py's view store stays empty and only the templates dispatch.

:class:`RetryButton` (``mbfix:<token>``) reopens a refused form with what was typed; those
values live in memory for a while only (``forms.FormMemory``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, cast

import discord

from adapters.discord.render import MAX_CHARS, escape_text
from bot.messages import Choice, ChoiceStyle

log = logging.getLogger(__name__)

_STYLES = {
    ChoiceStyle.PRIMARY: discord.ButtonStyle.primary,
    ChoiceStyle.DANGER: discord.ButtonStyle.danger,
    ChoiceStyle.DEFAULT: discord.ButtonStyle.secondary,
}
RETRY_PREFIX = "mbfix:"
MAX_LABEL = 80


def _handler(interaction: discord.Interaction) -> Any:
    return getattr(interaction.client, "handler", None)


class CoreButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?s)mb:[0-9a-z]{1,12}:.+"
):
    """A button standing for a core command; its callback runs ``Mentorbot.handle_click``."""

    def __init__(self, custom_id: str, label: str = "…",
                 style: discord.ButtonStyle = discord.ButtonStyle.secondary) -> None:
        super().__init__(discord.ui.Button(label=label, custom_id=custom_id, style=style))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> CoreButton:
        button = cast(discord.ui.Button[Any], item)
        return cls(match.group(0), button.label or "…", button.style)

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = _handler(interaction)
        if handler is not None:
            await handler.on_click(interaction, self.item.custom_id or "")


class RetryButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"mbfix:(?P<token>[0-9a-f]{16})"
):
    """"Fix and send again": reopens a refused form with the values typed so far."""

    def __init__(self, token: str) -> None:
        super().__init__(discord.ui.Button(
            label="Fix and send again", custom_id=RETRY_PREFIX + token,
            style=discord.ButtonStyle.primary,
        ))
        self.token = token

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> RetryButton:
        return cls(match["token"])

    async def callback(self, interaction: discord.Interaction) -> None:
        handler = _handler(interaction)
        if handler is not None:
            await handler.on_retry(interaction, self.token)


def is_ours(custom_id: str) -> bool:
    return any(item.__discord_ui_compiled_template__.fullmatch(custom_id)
               for item in (CoreButton, RetryButton))


def view_of(choices: Sequence[Choice]) -> discord.ui.View | None:
    """Buttons for ``choices`` (at most 25: 5 rows of 5), never kept in discord.py's store."""
    if not choices:
        return None
    view = discord.ui.View(timeout=None)
    for choice in choices:
        if choice.id.startswith(RETRY_PREFIX):
            view.add_item(RetryButton(choice.id[len(RETRY_PREFIX):]))
            continue
        view.add_item(CoreButton(choice.id, _label(choice.label), _STYLES[choice.style]))
    view.stop()
    return view


def chosen(
    message: discord.Message, custom_id: str, who: str | None
) -> tuple[str, discord.ui.View]:
    """``message``'s new content and buttons after a successful click: every button disabled,
    the clicked one marked, and a line saying what was chosen (and by whom, in a channel)."""
    view = discord.ui.View.from_message(message, timeout=None)
    label = "your choice"
    for item in view.children:
        if isinstance(item, discord.ui.Button):
            item.disabled = True
            if item.custom_id == custom_id:
                label = item.label or label
                item.style = discord.ButtonStyle.success
    view.stop()
    line = f"✅ {escape_text(who)} chose: **{escape_text(label)}**" if who else \
        f"✅ You chose: **{escape_text(label)}**"
    room = MAX_CHARS - len(line) - 1
    content = message.content
    if len(content) > room:
        content = content[: max(room - 1, 0)] + "…"
    return (f"{content}\n{line}" if content else line), view


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"
