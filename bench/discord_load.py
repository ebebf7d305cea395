"""Discord load: a mixed command load as INTERACTION_CREATE events through the real client.

    python -m bench.discord_load                     # 2,000 commands, 200 members, 200 in flight
    python -m bench.discord_load --commands 5000

What runs: the stand-in Discord (``tests/standins/discord.py``: REST and a real gateway, every
request checked against Discord's OpenAPI spec as it goes) and the real Discord adapter
(discord.py's ``AutoShardedClient``, the real core on a SQLite file, the nudge scheduler
running, so request DMs go out meanwhile), in one process and one event loop. Before the clock
starts, 50 of the members become mentors and every member has run one command (member rows
exist, as in a running community).

Then ``commands`` slash commands from ``members`` members, at most ``concurrency`` in flight:
``/mentor find`` 30 %, ``my`` 15 %, ``profile`` 10 %, ``/session sessions`` 10 %,
``/mentor request`` 10 %, ``help`` 5 %, ``notify`` 5 %, ``tz`` 5 %, ``/organizer settings``
5 % (refused: members are not organizers), a mentor's ``accept`` 5 % (often refused). For each,
the stand-in measures dispatch of INTERACTION_CREATE → arrival of the interaction callback
(what Discord's 3-second rule measures). "Deferred" counts the answers that had to say
"thinking…" first (the core took over the 2.5 s budget); "over 3 s" counts callbacks Discord
would have refused (10062) or that never came.

The stand-in shares the process and its CPU: its spec checks are counted in the figures, which
are therefore pessimistic for the bot alone.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from adapters.discord.adapter import DiscordAdapter
from bot.bootstrap import assemble
from bot.caller import Caller
from bot.config import DiscordSettings, Settings, StorageSettings
from tests.standins.discord import (
    GUILD_ID,
    DiscordStandIn,
    InteractionReply,
    SeedMember,
    SeedUser,
    World,
    default_world,
    running_discord,
)

log = logging.getLogger(__name__)

MENTORS = 50
TOPICS = ("python", "rust", "go", "career growth", "public speaking", "kubernetes", "design")
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Singapore", "Europe/London",
         "America/Los_Angeles", "Africa/Lagos")
CONTEXT = "I'm learning this and got stuck; I read the docs and tried a small project."
DEADLINE = 3.0
FIRST_ID = 1187400000000100000


def _user_id(i: int) -> str:
    return str(FIRST_ID + i)


def _world(members: int) -> World:
    """The default server with ``members`` more members (load0, load1, …)."""
    base = default_world()
    users = tuple(SeedUser(_user_id(i), f"load{i}", f"Member {i}") for i in range(members))
    (guild,) = base.guilds
    guild = replace(guild, members=(*guild.members, *(SeedMember(u.id) for u in users)))
    return replace(base, users=(*base.users, *users), guilds=(guild,))


def _command(rng: random.Random, members: int) -> tuple[str, dict[str, Any]]:
    mentor = _user_id(rng.randrange(MENTORS))
    topic = rng.choice(TOPICS)
    table: Sequence[tuple[float, str, dict[str, Any]]] = (
        (0.30, "mentor find", {"topic": topic}),
        (0.45, "mentor my", {}),
        (0.55, "mentor profile", {"of": mentor}),
        (0.65, "session sessions", {}),
        (0.75, "mentor request", {"mentor": f"<member:{mentor}>", "topic": topic,
                                  "context": CONTEXT}),
        (0.80, "mentor help", {}),
        (0.85, "mentor notify", {"topic": topic}),
        (0.90, "mentor tz", {"zone": rng.choice(ZONES)}),
        (0.95, "organizer settings", {}),
        (1.00, "mentor accept", {"request": rng.randrange(1, members)}),
    )
    roll = rng.random()
    return next((command, options) for limit, command, options in table if roll < limit)


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_discord_load(commands: int, members: int, concurrency: int) -> dict[str, float]:
    """The figures (milliseconds, commands/s, counts); prints nothing."""
    logging.getLogger().setLevel(logging.CRITICAL)
    async with running_discord(world=_world(members), point_discord_py=False,
                               check_answers=False) as sd:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                storage=StorageSettings(url=f"sqlite+aiosqlite:///{Path(tmp) / 'load.db'}"),
                discord=DiscordSettings(api_base_url=sd.api_base, gateway_url=sd.gateway_url(),
                                        dev_guild_ids=(int(GUILD_ID),)),
            )
            adapter = DiscordAdapter(settings, token=sd.token,
                                     client_options={"guild_ready_timeout": 0.01})
            try:
                await adapter.login()
                async with assemble(settings, adapter.messenger, platform="discord") as app:
                    await _seed(app.core, members)
                    running = asyncio.create_task(adapter.run(app))
                    await asyncio.wait_for(adapter.client.wait_until_ready(), 30)
                    figures = await _load(sd, commands, members, concurrency)
                    await _settled(sd)
                    await adapter.close()
                    await running
            finally:
                await adapter.close()
    return figures


def _caller(i: int) -> Caller:
    return Caller("discord", GUILD_ID, "Mentor Circle", _user_id(i), f"Member {i}")


async def _seed(core: Any, members: int) -> None:
    """Mentors with profiles; every member known (one command each) before the clock starts."""
    for i in range(members):
        await core.handle_options(_caller(i), "tz", {"zone": ZONES[i % len(ZONES)]})
    for i in range(min(MENTORS, members)):
        topics = ", ".join(TOPICS[(i + k) % len(TOPICS)] for k in range(3))
        await core.handle_options(_caller(i), "mentor set", {
            "topics": topics, "bio": f"mentor {i}",
            "availability": "Tue 18:00-20:00, Sat 10:00-12:00"})


async def _one(sd: DiscordStandIn, member: int, command: str,
               options: Mapping[str, Any]) -> InteractionReply | None:
    handle = await sd.slash(command, options, user=_user_id(member))
    try:
        return await handle.reply(timeout=10)
    except TimeoutError:
        return None


async def _load(
    sd: DiscordStandIn, commands: int, members: int, concurrency: int
) -> dict[str, float]:
    rng = random.Random(2026)
    plan = [(rng.randrange(members), *_command(rng, members)) for _ in range(commands)]
    gate = asyncio.Semaphore(concurrency)
    replies: list[InteractionReply | None] = []

    async def run(member: int, command: str, options: dict[str, Any]) -> None:
        async with gate:
            replies.append(await _one(sd, member, command, options))

    started = time.monotonic()
    await asyncio.gather(*(run(*step) for step in plan))
    elapsed = time.monotonic() - started
    answered = [r.elapsed for r in replies if r is not None and r.accepted]
    late = sum(1 for r in replies
               if r is None or not r.accepted or r.elapsed > DEADLINE)
    return {
        "callback_p50_ms": 1000 * statistics.median(answered),
        "callback_p99_ms": 1000 * _percentile(answered, 0.99),
        "callback_max_ms": 1000 * max(answered),
        "commands_per_s": commands / elapsed,
        "deferred": float(sum(1 for r in replies if r is not None and r.type == 5)),
        "over_3s": float(late),
    }


async def _settled(sd: DiscordStandIn) -> None:
    """Let the follow-ups still on their way arrive before closing (a figure, not a test)."""
    while True:
        seen = len(sd.requests)
        await asyncio.sleep(0.2)
        if len(sd.requests) == seen:
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    figures = asyncio.run(run_discord_load(args.commands, args.members, args.concurrency))
    print(f"Discord load: {args.commands} commands from {args.members} members, "
          f"{args.concurrency} in flight (gateway + REST stand-in, SQLite)")
    for key, value in figures.items():
        print(f"  {key:<16} {value:8.1f}")


if __name__ == "__main__":
    main()
