"""Starting the Discord adapter as ``mentorbot discord`` does: token checks, exit codes, sync,
and a whole run through the composition root, against the stand-in Discord.

``serve`` runs in this process here (the CLI tests run it as its own process); the stand-in is
never pointed at by the test: ``[discord] api_base_url`` and ``gateway_url`` are all it takes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import discord.gateway
import discord.http
import pytest
from pydantic import SecretStr

from adapters.discord.adapter import DiscordAdapter
from adapters.discord.main import serve, settings_problem, token_problem
from bot.config import DiscordSettings
from tests.discord_harness import SAFETY, QuickBot, db_url, settings_for
from tests.standins.discord import GUILD_ID, TOKEN, running_discord
from tests.template_db import sqlite_url

WRONG_TOKEN = "MTE4NzQwMDAwMDAwMDAwMDAwMQ.GwrOng.this-token-was-reset-long-ago-000"


@pytest.mark.parametrize(("token", "says"), [
    (None, "MENTORBOT_DISCORD_TOKEN is not set"),
    ("   ", "MENTORBOT_DISCORD_TOKEN is not set"),
    (f"Bot {TOKEN}", "starts with “Bot ”"),
    ("xoxb-SECRET-MARKER-4242", "does not look like a Discord bot token"),
    (TOKEN[:-20], "does not look like a Discord bot token"),
])
def test_a_token_that_cannot_be_right_is_named_without_showing_it(
        token: str | None, says: str) -> None:
    problem = token_problem(SecretStr(token) if token is not None else None)
    assert problem is not None and says in problem
    assert token is None or token.strip() == "" or token not in problem


def test_a_plausible_token_passes_the_shape_check() -> None:
    assert token_problem(SecretStr(TOKEN)) is None
    assert token_problem(SecretStr(WRONG_TOKEN)) is None


def test_shards_must_add_up(tmp_path: Path) -> None:
    from bot.config import Settings

    def problem(**discord_settings: Any) -> str | None:
        return settings_problem(Settings(discord=DiscordSettings(**discord_settings),
                                         discord_token=SecretStr(TOKEN)))

    assert problem(shard_count=2, shard_ids=(0, 1)) is None
    assert "needs discord.shard_count" in (problem(shard_ids=(0,)) or "")
    assert "outside 0..1" in (problem(shard_count=2, shard_ids=(2,)) or "")


async def test_a_rejected_token_exits_2_with_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = discord.http.Route.BASE
    async with running_discord(point_discord_py=False) as sd:
        # An empty path, not a migrated copy: nothing may create the database.
        settings = settings_for(sd, sqlite_url(tmp_path / "mentorbot.db"))
        assert await serve(settings, WRONG_TOKEN, sync_only=False) == 2
        (me,) = sd.requests_to("/users/@me")
        assert me.status == 401
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Discord rejected the token in MENTORBOT_DISCORD_TOKEN" in err
    assert WRONG_TOKEN not in err
    assert base == discord.http.Route.BASE, "discord.py is pointed back where it was"
    assert not (tmp_path / "mentorbot.db").exists(), "nothing was started"


async def test_an_unreachable_discord_exits_1(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    async with running_discord(point_discord_py=False) as sd:
        settings = settings_for(sd, db_url(tmp_path))
    # The stand-in is gone: nothing answers at its address any more.
    assert await serve(settings, TOKEN, sync_only=True) == 1
    assert "cannot reach Discord at http://127.0.0.1:" in capsys.readouterr().err


async def test_sync_only_syncs_the_commands_and_exits_0(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with running_discord(point_discord_py=False) as sd:
        settings = settings_for(sd, db_url(tmp_path))
        assert await serve(settings, TOKEN, sync_only=True) == 0
        synced = {c["name"]: c for c in sd.synced_commands(GUILD_ID)}
        assert {"mentor", "session", "after", "organizer"} <= set(synced)
        # Sent as the spec wants a request, answered as Discord answers: a string.
        assert synced["organizer"]["default_member_permissions"] == str(1 << 5)
        assert sd.gateway.connections == [], "sync never connects to the gateway"
    assert f"to server(s) {GUILD_ID}" in capsys.readouterr().out


async def test_serve_runs_the_bot_until_it_is_closed(tmp_path: Path) -> None:
    async with running_discord(point_discord_py=False) as sd:
        settings = settings_for(sd, db_url(tmp_path))
        made: list[DiscordAdapter] = []

        def make_adapter(settings: Any, *, token: str) -> DiscordAdapter:
            adapter = DiscordAdapter(settings, token=token, client_class=QuickBot,
                                     client_options={"guild_ready_timeout": 0.01})
            made.append(adapter)
            return adapter

        gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        running = asyncio.create_task(
            serve(settings, TOKEN, sync_only=False, make_adapter=make_adapter))
        await sd.wait_until(lambda: bool(sd.requests_to("/gateway/bot")), SAFETY)
        await asyncio.wait_for(made[0].client.wait_until_ready(), SAFETY)
        handle = await sd.slash("mentor help", user="bob")
        assert (await handle.reply(timeout=SAFETY)).accepted
        await made[0].client.close()
        assert await asyncio.wait_for(running, SAFETY) == 0
        assert gateway == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


async def test_a_database_that_cannot_be_opened_exits_2_with_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with running_discord(point_discord_py=False) as sd:
        settings = settings_for(sd, f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'bot.db'}")
        assert await serve(settings, TOKEN, sync_only=False) == 2
        assert sd.gateway.connections == [], "nothing connected without a database"
    err = capsys.readouterr().err
    assert err.startswith("mentorbot: database unavailable:") and err.count("\n") == 1
