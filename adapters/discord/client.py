"""The discord.py client, set up as the adapter needs it, and where it connects to.

* Intents: ``guilds`` only. Interactions arrive without any intent; the guilds intent gives the
  server's roles (a member's roles by name), channels (``intros`` by name) and threads (a
  private intro thread found again after a restart). No members intent, no message content.
* ``AllowedMentions.none()`` for everything: a send that should ping says whom, explicitly.
* ``max_ratelimit_timeout``: a rate limit longer than that raises instead of sleeping inside a
  nudge batch (the messenger turns it into the core's ``RateLimited``). 30 s is discord.py's
  floor; shorter 429s are waited out and retried by discord.py, as Discord asks.
* Always an ``AutoShardedClient``: one shard or many, and the gateway URL and shard count come
  from ``GET /gateway/bot`` at the configured API base, unless configured.
* Nothing long-lived starts in ``on_ready``: discord.py fires it again after every session that
  could not be resumed. The nudge scheduler is started once by the composition root.

Where it connects: discord.py reads its REST base and gateway URL from two class attributes
(``discord.http.Route.BASE``, ``DiscordWebSocket.DEFAULT_GATEWAY``), so pointing the bot at
another server (a stand-in, a proxy) means setting both from ``[discord]`` settings before the
first request; :func:`point_discord_py` does that and returns how to undo it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import discord
import discord.gateway
import discord.http
import yarl

from adapters.discord.limits import InvalidRequests
from bot.config import DiscordSettings

log = logging.getLogger(__name__)

MAX_RATELIMIT_WAIT = 30.0


class InteractionHandler(Protocol):
    """What answers interactions (``adapters.discord.interactions.Interactions``)."""

    async def on_interaction(self, interaction: discord.Interaction) -> None: ...

    async def on_click(self, interaction: discord.Interaction, custom_id: str) -> None: ...

    async def on_retry(self, interaction: discord.Interaction, token: str) -> None: ...


def intents() -> discord.Intents:
    chosen = discord.Intents.none()
    chosen.guilds = True
    return chosen


class MentorbotClient(discord.AutoShardedClient):
    """discord.py's client with the adapter's interaction handler attached."""

    handler: InteractionHandler | None = None

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if self.handler is not None:
            await self.handler.on_interaction(interaction)

    async def on_ready(self) -> None:
        # Fires again after every session that could not be resumed: log only.
        log.info("connected to Discord as %s in %d server(s)", self.user, len(self.guilds))


def make_client(
    settings: DiscordSettings,
    watch: InvalidRequests,
    *,
    client_class: type[MentorbotClient] = MentorbotClient,
    **options: Any,
) -> MentorbotClient:
    if settings.shard_ids is not None:
        options["shard_ids"] = list(settings.shard_ids)
    # The bot never joins voice: discord.py's warnings about voice libraries would only worry.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    return client_class(
        intents=intents(),
        allowed_mentions=discord.AllowedMentions.none(),
        max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
        http_trace=watch.trace(),
        shard_count=settings.shard_count,
        **options,
    )


def point_discord_py(api_base_url: str, gateway_url: str | None) -> Callable[[], None]:
    """Make discord.py talk to ``api_base_url`` (and ``gateway_url``); returns the undo."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = api_base_url.rstrip("/")
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)

    def restore() -> None:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    return restore


def use_gateway(gateway_url: str) -> None:
    """The gateway discord.py reconnects to after a session it cannot resume."""
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
