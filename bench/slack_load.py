"""Slack load: a mixed command load through Socket Mode envelopes into the real Bolt app.

    python -m bench.slack_load                    # 2,000 commands, 200 members, 200 in flight
    python -m bench.slack_load --commands 5000

What runs: the stand-in Slack (``tests/standins/slack.py``, which checks every Web API call
against Slack's spec as it goes) and the real Slack adapter (``AsyncApp`` over Socket Mode,
the real core on a SQLite file, the nudge scheduler running, so request DMs go out meanwhile),
in one process and one event loop. Before the clock starts, 50 of the members become mentors
and every member has sent one command (the people are known, caches are warm, as in a
running community).

Then ``commands`` slash commands from ``members`` members, at most ``concurrency`` in flight:
``find`` 30 %, ``my`` 15 %, ``profile`` 10 %, ``sessions`` 10 %, ``request`` 10 %, ``help``
5 %, ``notify`` 5 %, ``tz`` 5 %, ``settings`` 5 % (refused: members are not organizers), a
mentor's ``accept`` 5 % (often refused: not their request). For each: envelope → ack (the
stand-in's own measure) and envelope → the reply's arrival at the ``response_url``.

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.slack.adapter import SlackAdapter
from bot.bootstrap import assemble
from bot.caller import Caller
from bot.config import Settings, SlackSettings, StorageSettings
from tests.standins.slack import GENERAL, TEAM_ID, SlackStandin, SlackUser

log = logging.getLogger(__name__)

MENTORS = 50
TOPICS = ("python", "rust", "go", "career growth", "public speaking", "kubernetes", "design")
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Singapore", "Europe/London",
         "America/Los_Angeles", "Africa/Lagos")
CONTEXT = "I'm learning this and got stuck; I read the docs and tried a small project."


class _Standin(SlackStandin):
    """The stand-in, telling the benchmark the moment each response_url post arrives."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.arrivals: dict[str, asyncio.Future[float]] = {}

    async def _response_url(self, request: web.Request) -> web.StreamResponse:
        answer = await super()._response_url(request)
        post = self.response_posts[-1]
        waiter = self.arrivals.get(post.url)
        if waiter is not None and not waiter.done():
            waiter.set_result(post.at)
        return answer


def _user_id(i: int) -> str:
    return f"U0LOAD{i:04d}"


def _command(rng: random.Random, members: int) -> str:
    mentor = rng.randrange(MENTORS)
    roll = rng.random()
    topic = rng.choice(TOPICS)
    table: Sequence[tuple[float, str]] = (
        (0.30, f"find {topic}"),
        (0.45, "my"),
        (0.55, f"profile <@{_user_id(mentor)}>"),
        (0.65, "sessions"),
        (0.75, f"request <@{_user_id(mentor)}> topic: {topic} context: {CONTEXT}"),
        (0.80, "help"),
        (0.85, f"notify {topic}"),
        (0.90, f"tz {rng.choice(ZONES)}"),
        (0.95, "settings"),
        (1.00, f"accept {rng.randrange(1, members)}"),
    )
    return next(line for limit, line in table if roll < limit)


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_slack_load(commands: int, members: int, concurrency: int) -> dict[str, float]:
    """The figures (milliseconds and commands/s); prints nothing."""
    logging.getLogger().setLevel(logging.WARNING)
    slack = _Standin(users=[
        SlackUser(_user_id(i), f"member{i}", f"Member {i}", f"Member {i}", ZONES[i % len(ZONES)])
        for i in range(members)
    ])
    await slack.start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            storage=StorageSettings(url=f"sqlite+aiosqlite:///{Path(tmp) / 'load.db'}"),
            slack=SlackSettings(mode="socket", api_base_url=slack.api_url),
            slack_bot_token=slack.bot_token,  # type: ignore[arg-type]
            slack_app_token=slack.app_token,  # type: ignore[arg-type]
        )
        adapter = SlackAdapter(settings)
        try:
            async with assemble(settings, adapter.messenger, platform="slack") as app:
                await _seed(app.core, members)
                await adapter.start(app)
                await slack.socket.wait_connected()
                await _warm(slack, members)
                figures = await _load(slack, commands, members, concurrency)
                await adapter.close()  # stop listening before the database closes
        finally:
            await adapter.close()
            await slack.close()
    slack.assert_clean()
    return figures


async def _seed(core: Any, members: int) -> None:
    for i in range(min(MENTORS, members)):
        caller = Caller("slack", TEAM_ID, "Load", _user_id(i), f"Member {i}", ZONES[i % 6])
        topics = ", ".join(TOPICS[(i + k) % len(TOPICS)] for k in range(3))
        await core.handle_text(caller, f"mentor set topics: {topics} bio: mentor {i} "
                                       "availability: Tue 18:00-20:00, Sat 10:00-12:00")


async def _warm(slack: _Standin, members: int) -> None:
    """Every member once (users.info cached, member rows exist), sequentially."""
    for i in range(members):
        await _one(slack, i, "help")


async def _one(slack: _Standin, member: int, text: str) -> tuple[float, float]:
    inbound = slack.payloads.slash_command("/mentor", text, user=_user_id(member),
                                           channel=GENERAL)
    url = inbound.body["response_url"]
    arrival: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    slack.arrivals[url] = arrival
    started = time.monotonic()
    ack = await slack.socket.deliver(inbound, timeout=30)
    at = await asyncio.wait_for(arrival, 30)
    del slack.arrivals[url]
    return ack.elapsed, at - started


async def _load(
    slack: _Standin, commands: int, members: int, concurrency: int
) -> dict[str, float]:
    rng = random.Random(2026)
    plan = [(rng.randrange(members), _command(rng, members)) for _ in range(commands)]
    gate = asyncio.Semaphore(concurrency)
    acks: list[float] = []
    replies: list[float] = []

    async def run(member: int, text: str) -> None:
        async with gate:
            ack, reply = await _one(slack, member, text)
        acks.append(ack)
        replies.append(reply)

    started = time.monotonic()
    await asyncio.gather(*(run(m, t) for m, t in plan))
    elapsed = time.monotonic() - started
    return {
        "ack_p50_ms": 1000 * statistics.median(acks),
        "ack_p99_ms": 1000 * _percentile(acks, 0.99),
        "reply_p50_ms": 1000 * statistics.median(replies),
        "reply_p99_ms": 1000 * _percentile(replies, 0.99),
        "commands_per_s": commands / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    figures = asyncio.run(run_slack_load(args.commands, args.members, args.concurrency))
    print(f"Slack load: {args.commands} commands from {args.members} members, "
          f"{args.concurrency} in flight (Socket Mode, SQLite)")
    for key, value in figures.items():
        print(f"  {key:<16} {value:8.1f}")


if __name__ == "__main__":
    main()
