"""Putting a core ``Reply`` on Discord for one interaction.

The first response is the only moment a modal can open, so a reply asking for a form opens it
then: the words of the message carrying the form are shown at the top of the modal (when the
form leaves room: a modal holds five items), and the reply's other messages wait until the form
is submitted. Otherwise the reply's
messages go out as the interaction's response and follow-ups, private ones ephemeral, each cut
to Discord's limits by ``render``. Where a form cannot open any more (after a deferral, or in
answer to a modal), the message carries a button that opens it: the button's id is the form's
id, and clicking it runs the form's command, which answers with the form again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import discord

from adapters.discord.buttons import view_of
from adapters.discord.forms import FormMemory, modal_for
from adapters.discord.render import Part, Renderer, allowed_mentions, files, pack
from bot.messages import Choice, ChoiceStyle, Message, Notice, Reply

log = logging.getLogger(__name__)

DONE = "Done."
#: Items a modal holds (discord.py's limit): the fields, and the words above them if room.
MAX_MODAL_ITEMS = 5


def guild_of(interaction: discord.Interaction) -> str | None:
    return str(interaction.guild_id) if interaction.guild_id is not None else None


def form_button(message: Message) -> Message:
    """``message`` with its form turned into a button that opens it."""
    form = message.form
    if form is None:
        return message
    opener = Choice(f"Open the form: {form.title}"[:80], form.command, ChoiceStyle.PRIMARY,
                    id=form.id)
    return replace(message, form=None, choices=(*message.choices, opener))


class Responder:
    """Answers one interaction at a time with a core reply (stateless but for ``forms``)."""

    def __init__(self, renderer: Renderer, forms: FormMemory) -> None:
        self.renderer = renderer
        self.forms = forms

    async def answer(
        self, interaction: discord.Interaction, reply: Reply, *, extra: Sequence[Choice] = ()
    ) -> None:
        """Answer ``interaction`` with ``reply`` (plus ``extra`` buttons on its last message)."""
        form = reply.form
        if form is not None and self.can_open_modal(interaction):
            carrier = next(m for m in reply.messages if m.form is form)
            notes = [m for m in reply.messages if m.form is None]
            intro = ""
            if len(form.fields) < MAX_MODAL_ITEMS:
                intro = self.modal_text(carrier, guild_of(interaction))
            else:  # no room above the fields: its words come after the form, with the rest
                notes.insert(0, replace(carrier, form=None))
            self.forms.opened(interaction.user.id, form, notes)
            await interaction.response.send_modal(modal_for(form, intro=intro))
            return
        messages = [form_button(m) for m in reply.messages]
        if extra:
            if messages:
                last = messages[-1]
                messages[-1] = replace(last, choices=(*last.choices, *extra))
            else:
                messages.append(Message((Notice(""),), tuple(extra)))
        await self.send(interaction, messages)

    def modal_text(self, message: Message, guild: str | None) -> str:
        """The words of the message that carries a form, shown at the top of its modal (a
        modal is all Discord shows in answer, so they would be lost otherwise)."""
        bare = replace(message, form=None, choices=())
        return "\n".join(p.content for p in self.renderer.parts(bare, guild)
                         if p.content.strip())

    @staticmethod
    def can_open_modal(interaction: discord.Interaction) -> bool:
        return not interaction.response.is_done() and interaction.type in (
            discord.InteractionType.application_command, discord.InteractionType.component,
        )

    async def send(self, interaction: discord.Interaction, messages: Sequence[Message]) -> None:
        guild = guild_of(interaction)
        parts = [part for message in pack(messages)
                 for part in self.renderer.parts(message, guild)
                 if part.content.strip() or part.choices or part.attachments]
        for part in parts or [Part(DONE)]:
            await self._send(interaction, part)

    async def say(self, interaction: discord.Interaction, text: str) -> None:
        """A short private line from the adapter itself."""
        await self.send(interaction, [Message((Notice(text),))])

    async def _send(self, interaction: discord.Interaction, part: Part) -> None:
        kwargs: dict[str, Any] = {
            "content": part.content or None,
            "allowed_mentions": allowed_mentions(part.pinged),
            "ephemeral": part.private,
        }
        view = view_of(part.choices)
        if view is not None:
            kwargs["view"] = view
        if part.attachments:
            kwargs["files"] = files(part.attachments)
        if interaction.response.is_done():
            await interaction.followup.send(**kwargs)
        else:
            await interaction.response.send_message(**kwargs)
