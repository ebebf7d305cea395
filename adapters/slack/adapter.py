"""The Slack adapter's lifecycle: clients, ``auth.test``, then Socket Mode or HTTP mode.

Two Web API clients share one HTTP session (one connection pool, not one per call):

* ``interactive`` answers people; it may retry a 429 once and a 5xx once, because a person
  is waiting and a duplicate ephemeral reply is harmless;
* ``nudges`` has no retry handler at all: a nudge's 429 goes back to the engine with its
  Retry-After, and a time-out is the engine's to retry after asking ``find_sent``.

Bolt itself gets a client without a token and an ``authorize`` that returns what our own
``auth.test`` said at start: no request waits for Bolt to call ``auth.test`` lazily.

Pointing ``[slack] api_base_url`` at another server is all it takes to run against a
stand-in: the Socket Mode URL comes from ``apps.connections.open`` at that base.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_server import AsyncSlackAppServer
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.app import SlackBot, build_bolt
from adapters.slack.delivery import error_code
from adapters.slack.identity import Directory, organizer_group_reader
from adapters.slack.messenger import SlackMessenger
from adapters.slack.pacing import Pacer
from bot.bootstrap import App
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.ports import Messenger

log = logging.getLogger(__name__)

NUDGE_TIMEOUT = 10
INTERACTIVE_TIMEOUT = 10


class TokenRefused(Exception):
    """Slack refused the bot token at start (revoked, invalid, app uninstalled)."""


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is, per ``auth.test``."""

    team_id: str
    team_name: str
    bot_user_id: str
    bot_id: str


class SlackAdapter:
    """Implements ``bot.bootstrap.Adapter`` (``messenger``, ``run``, ``close``); tests use
    :meth:`start` and :meth:`close` around their own assembled app."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        if settings.slack_bot_token is None:
            raise ValueError("MENTORBOT_SLACK_BOT_TOKEN is not set")
        self.settings = settings
        self._token = settings.slack_bot_token.get_secret_value()
        self.session = aiohttp.ClientSession()
        base = settings.slack.api_base_url
        self.interactive = AsyncWebClient(
            token=self._token, base_url=base, session=self.session, timeout=INTERACTIVE_TIMEOUT,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(),
                AsyncRateLimitErrorRetryHandler(max_retry_count=1),
                AsyncServerErrorRetryHandler(max_retry_count=1),
            ],
        )
        self.nudges = AsyncWebClient(
            token=self._token, base_url=base, session=self.session, timeout=NUDGE_TIMEOUT,
            retry_handlers=[],
        )
        wall = clock or SystemClock()

        def seconds() -> float:
            return wall.now().timestamp()

        self.slack_messenger = SlackMessenger(
            self.nudges, pacer=Pacer(now=seconds), wall_clock=seconds
        )
        self.messenger: Messenger = self.slack_messenger
        self.identity: BotIdentity | None = None
        self.bot: SlackBot | None = None
        self.url: str | None = None
        """HTTP mode: where Slack must POST (known once started; the port may be 0)."""
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._stopped = asyncio.Event()

    async def identify(self) -> BotIdentity:
        """``auth.test``: the team and the bot's ids, or :class:`TokenRefused`."""
        try:
            answer = await self.nudges.auth_test()
        except SlackApiError as exc:
            raise TokenRefused(error_code(exc)) from None
        self.identity = BotIdentity(
            str(answer.get("team_id") or ""), str(answer.get("team") or ""),
            str(answer.get("user_id") or ""), str(answer.get("bot_id") or ""),
        )
        return self.identity

    async def start(self, app: App) -> None:
        identity = self.identity or await self.identify()
        slack = self.settings.slack
        directory = Directory(
            self.interactive, team_name=identity.team_name,
            cache_seconds=slack.organizer_cache_seconds,
            organizer_group=organizer_group_reader(app),
        )
        self.bot = SlackBot(app, self.interactive, self.slack_messenger, directory, self.session)
        http = slack.mode == "http"
        secret = self.settings.slack_signing_secret
        bolt = build_bolt(
            self.bot,
            # No shared session here: Bolt deep-copies its client into each lazy listener's
            # request, and our listeners use ``interactive`` anyway.
            client=AsyncWebClient(base_url=slack.api_base_url),
            authorization=AuthorizeResult(
                enterprise_id=None, team_id=identity.team_id, bot_user_id=identity.bot_user_id,
                bot_id=identity.bot_id, bot_token=self._token,
            ),
            signing_secret=secret.get_secret_value() if http and secret else None,
        )
        if http:
            server = AsyncSlackAppServer(port=slack.http_port, path=slack.http_path, app=bolt,
                                         host=slack.http_host)
            self._runner = web.AppRunner(server.web_app, access_log=None, shutdown_timeout=2.0)
            await self._runner.setup()
            site = web.TCPSite(self._runner, slack.http_host, slack.http_port)
            await site.start()
            port = self._runner.addresses[0][1]
            self.url = f"http://{slack.http_host}:{port}{slack.http_path}"
            log.info("Slack HTTP mode: listening on %s", self.url)
        else:
            app_token = self.settings.slack_app_token
            assert app_token is not None, "checked at start-up"
            self._socket = AsyncSocketModeHandler(bolt, app_token.get_secret_value())
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("Slack Socket Mode: connected as %s in %s", identity.bot_user_id,
                     identity.team_name)

    async def run(self, app: App) -> None:
        """Serve until cancelled (Ctrl-C) or :meth:`stop`."""
        await self.start(app)
        await self._stopped.wait()

    def stop(self) -> None:
        self._stopped.set()

    async def close(self) -> None:
        """Stop listening first (no new work), then let interactions under way finish, then
        the HTTP session. Closing twice does nothing more."""
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.bot is not None:
            await self.bot.close()
            self.bot = None
        await self.session.close()
