"""The Discord adapter as the composition root runs it (``bot.bootstrap.Adapter``).

``login`` points discord.py at ``[discord] api_base_url`` (and ``gateway_url``), checks the
token and asks ``GET /gateway/bot`` where the gateway is and how many shards to run, unless
configured. ``run`` attaches the interaction handler to the core, syncs the app commands (to
``dev_guild_ids`` at once, else globally) and stays connected until ``close``. Gateway drops
are resumed by discord.py; nothing here starts work in ``on_ready`` (the nudge scheduler
belongs to the composition root and is started once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from adapters.discord.buttons import CoreButton, RetryButton
from adapters.discord.client import MentorbotClient, make_client, point_discord_py, use_gateway
from adapters.discord.commands import CommandBook
from adapters.discord.forms import FormMemory
from adapters.discord.interactions import ANSWER_BUDGET, Interactions
from adapters.discord.limits import InvalidRequests
from adapters.discord.messenger import DiscordMessenger
from adapters.discord.render import Renderer
from adapters.discord.replies import Responder
from bot.bootstrap import App, build_registry
from bot.config import Settings
from bot.ports import Messenger
from bot.registry import Registry

log = logging.getLogger(__name__)


class DiscordAdapter:
    def __init__(
        self,
        settings: Settings,
        *,
        token: str,
        registry: Registry | None = None,
        client_class: type[MentorbotClient] = MentorbotClient,
        client_options: Mapping[str, Any] | None = None,
        answer_budget: float = ANSWER_BUDGET,
    ) -> None:
        self.settings = settings
        self._token = token
        self.answer_budget = answer_budget
        self.watch = InvalidRequests()
        self.client = make_client(settings.discord, self.watch, client_class=client_class,
                                  **dict(client_options or {}))
        self.client.add_dynamic_items(CoreButton, RetryButton)
        self.book = CommandBook(registry or build_registry())
        self.renderer = Renderer(self.book)
        self.delivery = DiscordMessenger(self.client, self.renderer, self.watch)
        self.messenger: Messenger = self.delivery
        self.interactions: Interactions | None = None
        self._restore: Callable[[], None] | None = None
        self._logged_in = False

    async def login(self) -> None:
        """Check the token with Discord (``discord.LoginFailure`` when it is rejected)."""
        config = self.settings.discord
        if self._restore is None:
            self._restore = point_discord_py(config.api_base_url, config.gateway_url)
        await self.client.login(self._token)
        self._logged_in = True
        shards, url, _limits = await self.client.http.get_bot_gateway()
        use_gateway(config.gateway_url or url)
        if self.client.shard_count is None:
            self.client.shard_count = shards

    async def sync_commands(self) -> list[str]:
        """Overwrite the app commands with those generated from the core; returns their
        names. To ``dev_guild_ids`` (at once), else globally (Discord may take a while)."""
        application_id = self.client.application_id
        if application_id is None:
            raise RuntimeError("log in before syncing commands")
        payload = self.book.payloads()
        guild_ids = self.settings.discord.dev_guild_ids
        for guild_id in guild_ids:
            synced = await self.client.http.bulk_upsert_guild_commands(
                application_id, guild_id, payload)
            self.book.remember_ids(synced, str(guild_id))
        if not guild_ids:
            synced = await self.client.http.bulk_upsert_global_commands(
                application_id, payload)
            self.book.remember_ids(synced, None)
        names = [str(c["name"]) for c in payload]
        log.info("synced /%s to %s", ", /".join(names),
                 ", ".join(map(str, guild_ids)) if guild_ids else "all servers (global)")
        return names

    def attach(self, app: App) -> Interactions:
        """Answer interactions with ``app``'s core from now on."""
        self.interactions = Interactions(
            app.core, self.book, Responder(self.renderer, FormMemory()),
            budget=self.answer_budget,
        )
        self.client.handler = self.interactions
        return self.interactions

    async def run(self, app: App) -> None:
        if not self._logged_in:
            await self.login()
        self.attach(app)
        await self.sync_commands()
        await self.client.connect(reconnect=True)

    async def close(self) -> None:
        await self.client.close()
        if self._restore is not None:
            self._restore()
            self._restore = None
