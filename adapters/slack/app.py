"""The Bolt app: Slack's slash command, clicks, modals and events, translated for the core.

Translation only. Each listener turns a payload into a ``Caller`` and a line, click, form or
options, asks the core, and hands the reply to :class:`~adapters.slack.actor.Replier`.

Slack's 3-second rule shapes the order: slash commands, clicks and events are acknowledged
first (an empty ack) and the work runs after, in a task of its own. With
``process_before_response`` Bolt answers as soon as the listener returns, instead of polling
for the ack every 10 ms while the work already runs (a reply could then reach Slack before the
ack). A modal submission runs the core *before* its ack, since a refusal must come
back in the ack (``response_action: errors``) to show under its field.

Slack retries an event (same ``event_id``) that got no ack in time. A command typed in the DM
passes its event id to the core, which records it in the command's own transaction: a retry
of a command that ran is answered ``Reply.duplicate`` and shows nothing (whichever instance
gets it), and a retry of one that never committed (the process died, the database was busy)
runs it. Opening the Home tab and an empty message (the menu) are simply answered again:
publishing a home is idempotent, and a second menu is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.actor import Actor, Replier
from adapters.slack.home import HomeKeeper
from adapters.slack.identity import Directory
from adapters.slack.menu import MENU_ACTION, menu_post, menu_verb, needs_input
from adapters.slack.messenger import SlackMessenger
from adapters.slack.modals import (
    CALLBACK_ID,
    ModalMeta,
    field_errors,
    modal,
    options_form,
    submitted,
)
from adapters.slack.render import CHOICE_ACTION, Post, chosen
from adapters.slack.text_in import from_slack
from bot.bootstrap import App
from bot.messages import Reply, text

log = logging.getLogger(__name__)

COMMAND = "/mentor"
_OURS = re.compile(rf"^({re.escape(CHOICE_ACTION)}|{re.escape(MENU_ACTION)})\.")
_TYPED_COMMAND = re.compile(rf"^\s*{re.escape(COMMAND)}\b", re.IGNORECASE)


class SlackBot:
    """What the listeners do; one instance per running adapter."""

    def __init__(
        self, app: App, client: AsyncWebClient, messenger: SlackMessenger, directory: Directory,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.app = app
        self.core = app.core
        self.client = client
        self.directory = directory
        self.replier = Replier(client, messenger, session)
        self.homes = HomeKeeper(client, app.core.home)
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Awaitable[None]) -> None:
        """Run ``work`` (one interaction) in its own task; failures are logged."""
        task = asyncio.ensure_future(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:
            log.exception("handling a Slack interaction failed")

    async def settled(self) -> None:
        """Until every interaction under way has finished (new ones started meanwhile too):
        the adapter acks first and works afterwards, so this is when its answers are out."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def close(self, grace: float = 5.0) -> None:
        """Let interactions under way finish (up to ``grace`` seconds), then the homes."""
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.homes.close()

    # -- /mentor ---------------------------------------------------------------------------------

    async def on_command(self, body: dict[str, Any]) -> None:
        actor = await self._actor(
            body.get("team_id"), body.get("user_id"), body.get("channel_id"),
            trigger_id=body.get("trigger_id"), response_url=body.get("response_url"),
            name_hint=body.get("user_name"),
        )
        line = from_slack(str(body.get("text") or ""))
        if not line.strip():
            await self._menu(actor)
            return
        reply = await self.core.handle_text(actor.caller, line)
        await self.replier.answer(actor, reply)
        self._after(actor, reply)

    # -- buttons ---------------------------------------------------------------------------------

    async def on_action(self, body: dict[str, Any]) -> None:
        action = (body.get("actions") or [{}])[0]
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
        user = body.get("user") or {}
        actor = await self._actor(
            (body.get("team") or {}).get("id") or user.get("team_id"), user.get("id"), channel,
            trigger_id=body.get("trigger_id"), response_url=body.get("response_url"),
            name_hint=user.get("username"), in_bot_dm=channel.startswith("D"),
        )
        value = str(action.get("value") or "")
        if str(action.get("action_id", "")).startswith(MENU_ACTION):
            await self._menu_choice(actor, value)
            return
        reply = await self.core.handle_click(actor.caller, value)
        if container.get("type") == "view":
            self.homes.watching(actor.caller.user_id)  # a click in the Home tab itself
        if not reply.refused and reply.form is None:
            label = str((action.get("text") or {}).get("text") or "that")
            await self._mark_chosen(body, container, str(action.get("block_id") or ""), label)
        await self.replier.answer(actor, reply)
        self._after(actor, reply)

    async def _menu(self, actor: Actor) -> None:
        fallback, blocks = menu_post()
        await self.replier.post(actor, Post(fallback, blocks))

    async def _menu_choice(self, actor: Actor, value: str) -> None:
        verb = menu_verb(value)
        if verb is None:
            await self.replier.show(actor, [text("That button isn't one of mine any more.")])
            return
        spec = needs_input(self.app.registry, verb)
        if spec is None:
            reply = await self.core.handle_text(actor.caller, verb)
            await self.replier.answer(actor, reply)
            self._after(actor, reply)
            return
        meta = ModalMeta(verb=spec.verb, channel=actor.channel, response_url=actor.response_url)
        try:
            await self.client.views_open(trigger_id=actor.trigger_id,
                                         view=modal(options_form(spec), meta))
        except SlackApiError as exc:
            log.info("views.open for the menu refused (%s)", exc.response.get("error"))
            await self.replier.show(actor, [text(f"Type {COMMAND} {spec.usage()}")])

    async def _mark_chosen(
        self, body: dict[str, Any], container: dict[str, Any], block_id: str, label: str
    ) -> None:
        """The clicked buttons no longer act: they become a line saying what was chosen."""
        try:
            if container.get("type") != "message":
                return  # the Home tab: republished after the command
            if container.get("is_ephemeral"):
                url = body.get("response_url")
                if url:
                    await self.replier.webhook(url).send_dict({
                        "replace_original": True, "text": f"✅ You chose “{label}”.",
                    })
                return
            message = body.get("message") or {}
            blocks = chosen(message.get("blocks") or [], block_id, label)
            await self.client.chat_update(
                channel=str(container.get("channel_id")), ts=str(container.get("message_ts")),
                text=str(message.get("text") or "") or "(mentorbot)", blocks=blocks,
            )
        except Exception:
            log.warning("could not mark the clicked buttons as used", exc_info=True)

    # -- modals ----------------------------------------------------------------------------------

    async def on_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = ModalMeta.decode(view.get("private_metadata"))
        if meta is None:
            await ack()
            return
        user = body.get("user") or {}
        actor = await self._actor(
            (body.get("team") or {}).get("id") or user.get("team_id"), user.get("id"),
            meta.channel, response_url=meta.response_url, name_hint=user.get("username"),
        )
        values = submitted(view)
        if meta.form_id:
            reply = await self.core.handle_form(actor.caller, meta.form_id, values)
        else:
            reply = await self.core.handle_options(actor.caller, meta.verb, values)
        errors = field_errors(reply, view) if reply.refused else {}
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        form = reply.form
        if form is not None and not reply.refused:
            next_meta = ModalMeta(form_id=form.id, channel=meta.channel,
                                  response_url=meta.response_url)
            await ack(response_action="update", view=modal(form, next_meta))
            reply = Reply(tuple(m for m in reply.messages if m.form is None), reply.refusal)
        else:
            await ack()
        await self.replier.answer(actor, reply)
        self._after(actor, reply)

    # -- events ----------------------------------------------------------------------------------

    async def on_home_opened(self, body: dict[str, Any]) -> None:
        event = body.get("event") or {}
        if event.get("tab") != "home":
            return
        actor = await self._actor(_team_of(body, event), event.get("user"), "")
        self.homes.watching(actor.caller.user_id)
        await self.homes.publish(actor.caller)

    async def on_message(self, body: dict[str, Any]) -> None:
        """A person writes to the bot in its DM: plain text commands (``find python``)."""
        event = body.get("event") or {}
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        actor = await self._actor(_team_of(body, event), event.get("user"),
                                  event.get("channel"), in_bot_dm=True)
        line = _TYPED_COMMAND.sub("", from_slack(str(event.get("text") or "")), count=1)
        if not line.strip():
            await self._menu(actor)
            return
        event_id = str(body.get("event_id") or "") or None
        reply = await self.core.handle_text(actor.caller, line, event_id=event_id)
        if reply.duplicate:
            log.info("event %s was handled already: skipping the retry", event_id)
            return
        await self.replier.answer(actor, reply)
        self._after(actor, reply)

    async def on_user_change(self, body: dict[str, Any]) -> None:
        user = (body.get("event") or {}).get("user") or {}
        if isinstance(user, dict) and user.get("id"):
            self.directory.forget(str(user["id"]))

    # -- helpers ---------------------------------------------------------------------------------

    async def _actor(
        self, team_id: Any, user_id: Any, channel: Any, *, trigger_id: Any = "",
        response_url: Any = "", name_hint: Any = "", in_bot_dm: bool = False,
    ) -> Actor:
        caller = await self.directory.caller(
            str(team_id or ""), str(user_id or ""), channel=str(channel or "") or None,
            name_hint=str(name_hint or ""),
        )
        return Actor(caller, str(channel or ""), trigger_id=str(trigger_id or ""),
                     response_url=str(response_url or ""), in_bot_dm=in_bot_dm)

    def _after(self, actor: Actor, reply: Reply) -> None:
        """After the member's own command: their Home tab shows its effect."""
        if not reply.refused:
            self.homes.refresh(actor.caller)
            if actor.caller.is_platform_admin or actor.caller.groups:
                self.directory.organizer_may_have_changed(actor.caller.community_id or "")


def _team_of(body: dict[str, Any], event: dict[str, Any]) -> str:
    return str(body.get("team_id") or event.get("team") or "")


def build_bolt(
    bot: SlackBot,
    *,
    client: AsyncWebClient,
    authorization: AuthorizeResult,
    signing_secret: str | None,
) -> AsyncApp:
    """The Bolt app with the bot's listeners. ``client`` carries no token: Bolt takes it from
    ``authorization`` (from our own ``auth.test`` at start), so no request waits for one."""

    async def authorize(**_: Any) -> AuthorizeResult:
        return authorization

    def acked_then(work: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        """Ack at once; the work runs as its own task once Bolt has answered Slack."""

        async def listener(ack: Any, body: dict[str, Any]) -> None:
            await ack()
            bot.spawn(work(body))

        return listener

    bolt = AsyncApp(
        client=client,
        authorize=authorize,
        signing_secret=signing_secret or "",
        request_verification_enabled=signing_secret is not None,
        process_before_response=True,
        raise_error_for_unhandled_request=False,
        logger=logging.getLogger("slack_bolt.mentorbot"),
    )
    bolt.command(COMMAND)(acked_then(bot.on_command))
    bolt.action(_OURS)(acked_then(bot.on_action))
    bolt.view(CALLBACK_ID)(bot.on_submit)  # the core first: a refusal goes in the ack
    bolt.event("app_home_opened")(acked_then(bot.on_home_opened))
    bolt.event("message")(acked_then(bot.on_message))
    bolt.event("user_change")(acked_then(bot.on_user_change))

    @bolt.error
    async def on_error(error: Exception) -> None:
        log.error("a Slack request failed: %s", type(error).__name__, exc_info=error)

    return bolt
