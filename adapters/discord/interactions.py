"""Answering interactions within Discord's 3 seconds: commands, autocomplete, clicks, modals.

Every interaction runs the core with a budget of about 2.5 seconds. Answered in time, the
reply goes out as the first response (ephemeral to the person who acted, or a modal); not in
time, the interaction is deferred and the reply follows when the core is done (follow-ups work
for 15 minutes). Whatever happens, something answers: a bug or a Discord error is logged and
the person reads a short apology, never "This interaction failed".

* Slash commands: options go to ``Mentorbot.handle_options`` as typed values. In the DM with
  the bot, which names no server, the command acts for the one server among the bot's where
  the person already uses mentorbot (``Mentorbot.only_community``); with none or several,
  they are asked to use it in their server.
* Autocomplete: ``Mentorbot.suggest``; an autocomplete cannot be deferred, so a late one
  answers with no choices.
* Buttons (``buttons.CoreButton``): ``Mentorbot.handle_click``. After a click that did
  something, the message is edited: its buttons disabled, the chosen one marked. A refused
  click leaves them as they were; a click that asks for a form opens it.
* Modal submits: ``Mentorbot.handle_form``; a refusal answers with the error and a button that
  reopens the modal with what was typed (``buttons.RetryButton``). A modal opened before a
  restart (or by another instance) is rebuilt by ``Mentorbot.form`` from its id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import replace
from typing import Any, TypeVar, cast

import discord
from discord import app_commands

from adapters.discord.buttons import RETRY_PREFIX, chosen, is_ours
from adapters.discord.commands import INTEGER, CommandBook
from adapters.discord.forms import FormMemory, Retry, modal_for, submitted_values
from adapters.discord.identity import caller_of
from adapters.discord.replies import Responder, guild_of
from bot.caller import Caller
from bot.core import BUSY, Mentorbot, Suggestion
from bot.errors import StorageBusy, StorageUnavailable
from bot.messages import Choice, ChoiceStyle, Reply

log = logging.getLogger(__name__)

ANSWER_BUDGET = 2.5
"""Seconds the core may take before the interaction is deferred (Discord allows 3)."""
SORRY = "Sorry, something went wrong on my side. Please try again in a moment."
NOT_MINE = "That button isn't one of mine any more. Type the command instead."
UNKNOWN_COMMAND = "I don't know that command (yet): the bot's commands may need a sync."
WHICH_SERVER = ("I can't tell which server you mean here: in our DM I act for the one server "
                "where you use mentorbot. Please use this command in your server.")
EXPIRED = "That form has expired (I keep what you typed for 15 minutes). Please run the " \
          "command again."

T = TypeVar("T")


class Interactions:
    """The adapter's answer to every interaction (``client.MentorbotClient.handler``)."""

    def __init__(
        self,
        core: Mentorbot,
        book: CommandBook,
        responder: Responder,
        *,
        budget: float = ANSWER_BUDGET,
    ) -> None:
        self.core = core
        self.book = book
        self.responder = responder
        self.forms: FormMemory = responder.forms
        self.budget = budget

    # -- entry points ------------------------------------------------------------------------

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        kind = interaction.type
        if kind is discord.InteractionType.application_command:
            await self._guarded(interaction, self._command)
        elif kind is discord.InteractionType.autocomplete:
            await self._guarded(interaction, self._autocomplete)
        elif kind is discord.InteractionType.modal_submit:
            await self._guarded(interaction, self._submit)
        elif kind is discord.InteractionType.component:
            custom_id = str(_data(interaction).get("custom_id", ""))
            if not is_ours(custom_id):  # ours are answered by their DynamicItem
                await self._guarded(interaction, self._not_mine)

    async def on_click(self, interaction: discord.Interaction, custom_id: str) -> None:
        async def click(i: discord.Interaction) -> None:
            await self._click(i, custom_id)

        await self._guarded(interaction, click)

    async def on_retry(self, interaction: discord.Interaction, token: str) -> None:
        async def retry(i: discord.Interaction) -> None:
            await self._retry(i, token)

        await self._guarded(interaction, retry)

    # -- the kinds of interaction ------------------------------------------------------------

    async def _command(self, interaction: discord.Interaction) -> None:
        invocation = self.book.invocation(_data(interaction))
        if invocation is None:
            await self.responder.say(interaction, UNKNOWN_COMMAND)
            return
        try:
            caller = await self._caller(interaction)
        except (StorageBusy, StorageUnavailable) as exc:
            log.warning("no community for a DM command: %s", type(exc).__name__)
            await self.responder.say(interaction, BUSY)
            return
        if caller is None:
            await self.responder.say(interaction, WHICH_SERVER)
            return
        reply = await self._in_time(
            self.core.handle_options(caller, invocation.verb, invocation.options),
            defer=lambda: interaction.response.defer(ephemeral=True, thinking=True),
        )
        await self.responder.answer(interaction, reply)

    async def _autocomplete(self, interaction: discord.Interaction) -> None:
        invocation = self.book.invocation(_data(interaction))
        if invocation is None or invocation.focused is None:
            await interaction.response.autocomplete([])
            return
        focused = invocation.focused

        async def suggest() -> list[Suggestion]:
            caller = await self._caller(interaction)
            if caller is None:
                return []
            return await self.core.suggest(caller, invocation.verb, focused.param.name,
                                           invocation.partial)

        try:
            found = await asyncio.wait_for(suggest(), self.budget)
        except TimeoutError:
            log.warning("autocomplete for /%s %s took over %.1fs", invocation.subcommand.slash,
                        focused.name, self.budget)
            found = []
        choices: list[app_commands.Choice[Any]] = []
        for suggestion in found[:25]:
            value: str | int = suggestion.value[:100]
            if focused.type == INTEGER:
                if not suggestion.value.isdigit():
                    continue
                value = int(suggestion.value)
            choices.append(app_commands.Choice(name=suggestion.label[:100] or str(value),
                                               value=value))
        await interaction.response.autocomplete(choices)

    async def _click(self, interaction: discord.Interaction, custom_id: str) -> None:
        caller = caller_of(interaction)
        deferred = False

        async def defer() -> None:
            nonlocal deferred
            deferred = True
            await interaction.response.defer()

        reply = await self._in_time(self.core.handle_click(caller, custom_id), defer=defer)
        if reply.refused or reply.form is not None or interaction.message is None:
            await self.responder.answer(interaction, reply)
            return
        private = interaction.guild_id is None or interaction.message.flags.ephemeral
        who = None if private else interaction.user.display_name
        content, view = chosen(interaction.message, custom_id, who)
        if deferred:
            await interaction.edit_original_response(content=content, view=view)
        else:
            await interaction.response.edit_message(content=content, view=view)
        await self.responder.send(interaction, reply.messages)

    async def _submit(self, interaction: discord.Interaction) -> None:
        data = _data(interaction)
        form_id = str(data.get("custom_id", ""))
        if not form_id.startswith("mb:"):
            await self.responder.say(interaction, NOT_MINE)
            return
        values = submitted_values(data)
        caller = caller_of(interaction)
        reply = await self._in_time(
            self.core.handle_form(caller, form_id, values),
            defer=lambda: interaction.response.defer(ephemeral=True, thinking=True),
        )
        user_id = interaction.user.id
        if reply.refusal is None:
            notes = self.forms.notes(user_id, form_id)
            await self.responder.answer(interaction, Reply((*reply.messages, *notes)))
            return
        # Opened by this process, or else (a restart, another instance) rebuilt by the core.
        form = self.forms.form(user_id, form_id) or await self.core.form(caller, form_id)
        if form is None:  # not rebuildable: offer a fresh form
            again = Choice("Open the form again", "", ChoiceStyle.PRIMARY, id=form_id)
        else:
            token = self.forms.refused(Retry(user_id, form, values, reply.refusal))
            again = Choice("Fix and send again", "", ChoiceStyle.PRIMARY,
                           id=RETRY_PREFIX + token)
        await self.responder.answer(interaction, reply, extra=(again,))

    async def _retry(self, interaction: discord.Interaction, token: str) -> None:
        retry = self.forms.retry(token, interaction.user.id)
        if retry is None:
            await self.responder.say(interaction, EXPIRED)
            return
        self.forms.opened(interaction.user.id, retry.form)
        await interaction.response.send_modal(modal_for(retry.form, retry.values, retry.refusal))

    async def _not_mine(self, interaction: discord.Interaction) -> None:
        await self.responder.say(interaction, NOT_MINE)

    # -- who is acting ----------------------------------------------------------------------

    async def _caller(self, interaction: discord.Interaction) -> Caller | None:
        """The caller, with their community: the server, or in a DM the one server among the
        bot's where they already use mentorbot (None when there is none or several)."""
        caller = caller_of(interaction)
        if caller.community_id is not None:
            return caller
        servers = {str(g.id): g.name for g in interaction.client.guilds}
        community = await self.core.only_community(caller.platform, caller.user_id, servers)
        if community is None:
            return None
        return replace(caller, community_id=community,
                       community_name=servers.get(community) or community)

    # -- time and trouble --------------------------------------------------------------------

    async def _in_time(
        self, work: Coroutine[Any, Any, T], *, defer: Callable[[], Awaitable[Any]]
    ) -> T:
        """``work``'s result; if it takes longer than the budget, ``defer`` first.

        The budget counts from when the handler starts, not from the time in the
        interaction's id: a skewed clock (or a stand-in's) would turn every answer into a
        deferral."""
        task = asyncio.ensure_future(work)
        budget = self.budget
        try:
            return await asyncio.wait_for(asyncio.shield(task), budget)
        except TimeoutError:
            log.info("the core took over %.2fs: deferring the interaction", budget)
            await defer()
            return await task

    async def _guarded(
        self,
        interaction: discord.Interaction,
        handle: Callable[[discord.Interaction], Awaitable[None]],
    ) -> None:
        try:
            await handle(interaction)
        except Exception:
            log.exception("answering a %s interaction failed", interaction.type)
            await self._apologize(interaction)

    async def _apologize(self, interaction: discord.Interaction) -> None:
        try:
            if interaction.type is discord.InteractionType.autocomplete:
                if not interaction.response.is_done():
                    await interaction.response.autocomplete([])
                return
            await self.responder.say(interaction, SORRY)
        except discord.HTTPException as error:
            log.warning("could not even apologize (%s): the interaction is gone", error)


def _data(interaction: discord.Interaction) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], interaction.data or {})


__all__ = ["ANSWER_BUDGET", "Interactions", "guild_of"]
