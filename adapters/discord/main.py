"""``mentorbot discord [sync]``: check the configuration, log in, serve (or only sync).

A missing, malformed or rejected token ends with one line on stderr and exit code 2 (never the
token itself, never a trace); so does an impossible shard setting. A Discord that cannot be
reached ends with one line and exit code 1; a database that cannot be used (or was upgraded by
a newer mentorbot) with one line and exit code 2, as ``mentorbot db`` says it. The settings
are checked before discord.py and the database layer are even imported, so a wrong setting
says only what is wrong.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import SecretStr

from bot.config import Settings

if TYPE_CHECKING:
    from adapters.discord.adapter import DiscordAdapter

log = logging.getLogger(__name__)

TOKEN_VARIABLE = "MENTORBOT_DISCORD_TOKEN"
#: A bot token is three base64url parts joined by dots (user id, timestamp, HMAC).
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{18,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$")
USAGE_ERROR = 2
UNREACHABLE = 1


def token_problem(token: SecretStr | None) -> str | None:
    """Why ``token`` cannot be a bot token, in one line without the token; None if it can."""
    value = token.get_secret_value().strip() if token is not None else ""
    if not value:
        return (f"{TOKEN_VARIABLE} is not set: copy your bot's token from the Discord Developer "
                "Portal (your application → Bot → Reset Token)")
    if value.lower().startswith("bot "):
        return f"{TOKEN_VARIABLE} starts with “Bot ”: set only the token itself"
    if not TOKEN_SHAPE.match(value):
        return (f"{TOKEN_VARIABLE} does not look like a Discord bot token (three parts "
                "separated by dots): check that it was copied whole")
    return None


def settings_problem(settings: Settings) -> str | None:
    config = settings.discord
    if config.shard_ids is not None:
        if config.shard_count is None:
            return "discord.shard_ids needs discord.shard_count (the total number of shards)"
        wrong = [i for i in config.shard_ids if not 0 <= i < config.shard_count]
        if wrong:
            return f"discord.shard_ids {wrong} are outside 0..{config.shard_count - 1}"
    return token_problem(settings.discord_token)


def run_discord(settings: Settings, *, sync_only: bool) -> int:
    """Run the Discord adapter until stopped (or only sync its commands); the exit code."""
    problem = settings_problem(settings)
    if problem is not None:
        return fail(problem)
    assert settings.discord_token is not None
    token = settings.discord_token.get_secret_value().strip()
    return asyncio.run(serve(settings, token, sync_only=sync_only))


async def serve(
    settings: Settings,
    token: str,
    *,
    sync_only: bool,
    make_adapter: Callable[..., DiscordAdapter] | None = None,
) -> int:
    import aiohttp
    import discord

    from adapters.discord.adapter import DiscordAdapter
    from bot.bootstrap import run
    from bot.errors import StorageUnavailable

    adapter = (make_adapter or DiscordAdapter)(settings, token=token)
    try:
        try:
            await adapter.login()
        except discord.LoginFailure:
            return fail(f"Discord rejected the token in {TOKEN_VARIABLE}: reset it in the "
                        "Developer Portal (your application → Bot) and set the new one")
        except (aiohttp.ClientError, OSError, TimeoutError, discord.DiscordException) as error:
            return fail(f"cannot reach Discord at {settings.discord.api_base_url} "
                        f"({type(error).__name__})", UNREACHABLE)
        if sync_only:
            names = await adapter.sync_commands()
            where = settings.discord.dev_guild_ids
            print(f"Synced /{', /'.join(names)} "
                  + (f"to server(s) {', '.join(map(str, where))}." if where else
                     "globally (Discord may take up to an hour to show them everywhere)."))
            return 0
        _close_on_sigterm(adapter)
        try:
            await run(settings, lambda _settings: adapter)
        except StorageUnavailable as error:  # as `mentorbot db` says it
            return fail(f"database unavailable: {error}", USAGE_ERROR)
        return 0
    finally:
        await adapter.close()


def _close_on_sigterm(adapter: DiscordAdapter) -> None:
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGTERM,
                                lambda: loop.create_task(adapter.client.close()))
    except (NotImplementedError, RuntimeError):  # not on the main thread, or Windows
        log.debug("SIGTERM is not handled here")


def fail(message: str, code: int = USAGE_ERROR) -> int:
    print(f"mentorbot: {message}", file=sys.stderr)
    return code
