"""Answering the person who acted: ephemeral replies, files to their DM, forms as modals.

Where a reply goes, and why:

* a command or click in a channel is answered ephemerally through its ``response_url``
  (works where the bot is not a member, and in DMs between people), else
  ``chat.postEphemeral``;
* in the DM with the bot (a typed message) the answer is a normal message there;
* a message with a file (a calendar invite) goes to the person's DM with the bot, since
  ephemeral messages carry no files; the ephemeral reply says so;
* a form opens as a modal with the interaction's ``trigger_id``, which Slack honours for
  3 seconds. When that moment has passed (or Slack refuses the trigger), the person gets a
  button that opens it: the button is the form's own id, and clicking it asks the core again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.messenger import SlackMessenger
from adapters.slack.modals import ModalMeta, modal
from adapters.slack.render import Post, posts
from bot.caller import Caller
from bot.messages import Choice, ChoiceStyle, Form, Message, Notice, Reply, Visibility, text

log = logging.getLogger(__name__)

TRIGGER_SECONDS = 2.5
"""Slack honours a trigger_id for 3 s after it sent it; past 2.5 s here, a button is safer."""
FILE_NOTE = "I sent this to our direct messages, with the file attached."


@dataclass
class Actor:
    """Who acted and how to reach them for this one interaction."""

    caller: Caller
    channel: str
    trigger_id: str = ""
    response_url: str = ""
    in_bot_dm: bool = False
    """They wrote to the bot in its DM: answer there, in plain sight."""
    received: float = field(default_factory=time.monotonic)

    @property
    def trigger_fresh(self) -> bool:
        return bool(self.trigger_id) and time.monotonic() - self.received < TRIGGER_SECONDS


class Replier:
    """Delivers a core :class:`~bot.messages.Reply` to the actor."""

    def __init__(
        self, client: AsyncWebClient, messenger: SlackMessenger,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.client = client
        self.messenger = messenger
        self.session = session

    def webhook(self, url: str) -> AsyncWebhookClient:
        """A client for one response_url, on the shared connection pool."""
        return AsyncWebhookClient(url, session=self.session)

    async def answer(self, actor: Actor, reply: Reply) -> None:
        shown: list[Message] = []
        form: Form | None = None
        for message in reply.messages:
            form = form or message.form
            if message.attachments:
                await self._to_dm(actor, message)
                if not actor.in_bot_dm:  # there, the message with its file is the answer
                    shown.append(text(FILE_NOTE))
            else:
                shown.append(replace(message, form=None))
        if form is not None and not await self.open_form(actor, form):
            shown.append(form_button(form))
        await self.show(actor, shown)

    async def show(self, actor: Actor, messages: list[Message]) -> None:
        """Messages only the actor sees (or all, for a public reply), in order."""
        public = any(m.visibility is Visibility.PUBLIC for m in messages)
        for post in posts(messages):
            await self.post(actor, post, public=public)

    async def open_form(self, actor: Actor, form: Form) -> bool:
        """Open ``form`` as a modal while the trigger is valid; False if that moment passed."""
        if not actor.trigger_fresh:
            return False
        meta = ModalMeta(form_id=form.id, channel=actor.channel,
                         response_url=actor.response_url)
        try:
            await self.client.views_open(trigger_id=actor.trigger_id, view=modal(form, meta))
        except SlackApiError as exc:
            log.info("views.open refused (%s): offering a button instead",
                     exc.response.get("error"))
            return False
        actor.trigger_id = ""  # a trigger opens one modal
        return True

    async def _to_dm(self, actor: Actor, message: Message) -> None:
        channel = await self.messenger.dm_channel(actor.caller.user_id)
        await self.messenger.post(channel, replace(message, form=None))

    async def post(self, actor: Actor, post: Post, *, public: bool = False) -> None:
        """One rendered post to the actor: in the bot's DM, through the response_url, as an
        ephemeral message in the channel, or (no channel: a modal opened from the Home tab)
        in the bot's DM."""
        if actor.in_bot_dm:
            await self._to_channel(actor.channel, post)
            return
        if actor.response_url and await self._respond(actor.response_url, post, public):
            return
        if actor.channel:
            try:
                await self.client.chat_postEphemeral(
                    channel=actor.channel, user=actor.caller.user_id, text=post.text,
                    blocks=post.blocks or None,
                )
                return
            except SlackApiError as exc:
                log.info("chat.postEphemeral refused (%s); answering in the DM",
                         exc.response.get("error"))
        await self._to_channel(await self.messenger.dm_channel(actor.caller.user_id), post)

    async def _to_channel(self, channel: str, post: Post) -> None:
        await self.client.chat_postMessage(
            channel=channel, text=post.text, blocks=post.blocks or None,
            unfurl_links=False, unfurl_media=False,
        )

    async def _respond(self, url: str, post: Post, public: bool) -> bool:
        body: dict[str, Any] = {
            "text": post.text,
            "response_type": "in_channel" if public else "ephemeral",
            "replace_original": False,
        }
        if post.blocks:
            body["blocks"] = post.blocks
        try:
            answer = await self.webhook(url).send_dict(body)
        except (SlackClientError, OSError) as exc:
            log.warning("response_url post failed (%s); posting ephemerally",
                        type(exc).__name__)
            return False
        if answer.status_code != 200:
            log.info("response_url answered %s (%s); posting ephemerally",
                     answer.status_code, answer.body[:40])
            return False
        return True


def form_button(form: Form) -> Message:
    """A button that opens ``form``: clicking it runs the form's command, which asks for the
    form again, this time with a fresh trigger."""
    choice = Choice(f"Open “{form.title}”", form.command, ChoiceStyle.PRIMARY, form.id)
    return Message((Notice("There's a form to fill in:"),), (choice,))
