"""A running Discord bot for the Discord tests: the real adapter, the real discord.py client,
the real core and nudge engine on a real SQLite file, against the stand-in Discord.

The stand-in is started WITHOUT pointing discord.py at it (``point_discord_py=False``): the
adapter must get there from ``[discord] api_base_url`` and ``gateway_url`` alone, as it would
in its own process. Nudges are delivered by ``engine.run_due()`` as the test's ManualClock
moves (no scheduler, no sleeps). The one change to the client: discord.py's 5-second courtesy
wait before identifying again after an invalid session is skipped (``QuickBot``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.discord.adapter import DiscordAdapter
from adapters.discord.client import MentorbotClient
from adapters.discord.interactions import ANSWER_BUDGET
from bot.bootstrap import App, assemble
from bot.clock import ManualClock
from bot.config import CommunityDefaults, DiscordSettings, Settings, StorageSettings
from bot.nudges.engine import RunStats
from tests.standins.discord import (
    GUILD_ID,
    DiscordStandIn,
    InteractionHandle,
    InteractionReply,
    StoredMessage,
    running_discord,
)
from tests.template_db import migrated_sqlite_url

log = logging.getLogger(__name__)

SAFETY = 5.0  # seconds: a safety net for awaits, never a wait


class QuickBot(MentorbotClient):
    """The adapter's client without the 5 s wait before a second IDENTIFY (tests only)."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


def settings_for(sd: DiscordStandIn, db_url: str, *, global_commands: bool = False,
                 **community: Any) -> Settings:
    """Settings for the bot against ``sd``: commands synced to its server at once, or with
    ``global_commands`` globally (the only ones Discord offers in DMs too)."""
    community.setdefault("intros_channel", "intros")
    return Settings(
        storage=StorageSettings(url=db_url),
        discord=DiscordSettings(api_base_url=sd.api_base, gateway_url=sd.gateway_url(),
                                dev_guild_ids=() if global_commands else (int(GUILD_ID),)),
        community=CommunityDefaults(**community),
    )


@dataclass
class Bot:
    """The bot as the tests drive it."""

    sd: DiscordStandIn
    adapter: DiscordAdapter
    app: App
    clock: ManualClock

    async def slash(self, command: str, options: Mapping[str, Any] | None = None, *,
                    user: str = "alice", **where: Any) -> InteractionHandle:
        handle = await self.sd.slash(command, options, user=user, **where)
        await handle.reply(timeout=SAFETY)
        return handle

    async def say(self, command: str, options: Mapping[str, Any] | None = None, *,
                  user: str = "alice", expect: str = "", **where: Any) -> str:
        """Run a slash command; everything the person saw, as one text (once it holds
        ``expect``: the answer may come in several messages)."""
        handle = await self.slash(command, options, user=user, **where)
        return await self.seen(handle, expect)

    async def seen(self, handle: InteractionHandle, expect: str = "") -> str:
        """The text of an interaction's answer and follow-ups, once it holds ``expect``."""
        reply = await handle.reply(timeout=SAFETY)
        await self.sd.wait_until(lambda: expect in self._text(handle, reply), SAFETY)
        return self._text(handle, reply)

    @staticmethod
    def _text(handle: InteractionHandle, reply: InteractionReply) -> str:
        texts = []
        if reply.type == 4 and isinstance(reply.data, dict):
            texts.append(reply.data.get("content") or "")
        elif reply.type == 5 and handle.original is not None:
            texts.append(handle.original.content)
        texts += [m.content for m in handle.followups]
        return shown("\n".join(texts))

    async def click(self, message: StoredMessage, label: str, *,
                    user: str | None = None) -> InteractionHandle:
        """Click the button labelled ``label`` on ``message``."""
        custom_id = button(message, label)["custom_id"]
        handle = await self.sd.click(message.id, custom_id, user=user)
        await handle.reply(timeout=SAFETY)
        return handle

    async def deliver(self) -> RunStats:
        return await self.app.engine.run_due()

    async def advance(self, delta: timedelta) -> RunStats:
        """Move the clock, delivering every nudge due on the way at its own moment."""
        return await self.walk_to(self.clock.now() + delta)

    async def walk_to(self, when: datetime) -> RunStats:
        total = RunStats()
        while True:
            due = await self.app.engine.next_due()
            if due is None or due > when:
                break
            if due > self.clock.now():
                self.clock.set(due)
            total.add(await self.deliver())
        if when > self.clock.now():
            self.clock.set(when)
        total.add(await self.deliver())
        return total


_ESCAPED = re.compile(r"\\([^A-Za-z0-9\s])")


def shown(content: str) -> str:
    """Content as Discord shows it: markdown escapes and zero-width spaces are invisible."""
    return _ESCAPED.sub(r"\1", content).replace("\u200b", "")


def buttons(message: StoredMessage | Mapping[str, Any]) -> list[dict[str, Any]]:
    components = message.components if isinstance(message, StoredMessage) else \
        message.get("components") or []
    return [c for row in components for c in row.get("components", []) if c.get("type") == 2]


def button(message: StoredMessage | Mapping[str, Any], label: str) -> dict[str, Any]:
    found = [b for b in buttons(message) if b.get("label") == label]
    assert found, f"no button {label!r}; there are {[b.get('label') for b in buttons(message)]}"
    return found[0]


@asynccontextmanager
async def running_bot(
    sd: DiscordStandIn,
    settings: Settings,
    clock: ManualClock,
    *,
    budget: float = ANSWER_BUDGET,
) -> AsyncIterator[Bot]:
    """The bot connected to ``sd`` (commands synced, READY seen) until the block ends."""
    adapter = DiscordAdapter(settings, token=sd.token, client_class=QuickBot,
                             client_options={"guild_ready_timeout": 0.01},
                             answer_budget=budget)
    try:
        await adapter.login()
        async with assemble(settings, adapter.messenger, clock, start_scheduler=False,
                            platform="discord") as app:
            task = asyncio.create_task(adapter.run(app))
            try:
                await asyncio.wait_for(adapter.client.wait_until_ready(), SAFETY)
                yield Bot(sd, adapter, app, clock)
            finally:
                await adapter.close()
                await asyncio.wait_for(task, SAFETY)
    finally:
        await adapter.close()


def db_url(tmp_path: Path) -> str:
    return migrated_sqlite_url(tmp_path / "mentorbot.db")


@asynccontextmanager
async def discord_bot(tmp_path: Path, clock: ManualClock, *, budget: float = ANSWER_BUDGET,
                      global_commands: bool = False, **community: Any) -> AsyncIterator[Bot]:
    """A stand-in Discord and the bot connected to it, on a fresh database."""
    async with running_discord(point_discord_py=False) as sd:
        settings = settings_for(sd, db_url(tmp_path), global_commands=global_commands,
                                **community)
        async with running_bot(sd, settings, clock, budget=budget) as bot:
            yield bot


MENTOR_PROFILE = {"topics": "python, rust", "bio": "I build compilers and like teaching",
                  "availability": "Mon-Fri 17:00-21:00"}
CONTEXT = "I want to learn asyncio and got stuck on cancellation; I tried the docs"


async def introduce(bot: Bot, *, mentor: str = "alice", mentee: str = "bob") -> StoredMessage:
    """``mentor`` (Berlin) mentors python; ``mentee`` (New York) asks and is accepted by button.
    Everything that sends is delivered; returns the request DM the mentor clicked."""
    await bot.say("mentor tz", {"zone": "Europe/Berlin"}, user=mentor, expect="Berlin")
    await bot.say("mentor tz", {"zone": "America/New_York"}, user=mentee, expect="York")
    await bot.say("mentor set", MENTOR_PROFILE, user=mentor, expect="You're now a mentor")
    mentor_id = bot.sd.user_id(mentor)
    await bot.say("mentor request", {"mentor": f"<member:{mentor_id}>", "topic": "python",
                                     "context": CONTEXT}, user=mentee, expect="sent")
    await bot.deliver()
    request = bot.sd.dms_to(mentor)[-1]
    await bot.seen(await bot.click(request, "Accept"), "Accepted")
    await bot.deliver()
    return request
