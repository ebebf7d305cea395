"""``mentorbot slack``: check the tokens, ask Slack who we are, then serve until stopped.

Tokens come from the environment only (``bot.config``). A missing or malformed one ends the
start with one line naming the variable and exit code 2; so does a token Slack refuses at
``auth.test`` (revoked, invalid, app uninstalled), and so does a database that cannot be used
(down, not there, or upgraded by a newer mentorbot), as ``mentorbot db`` says it. The token
itself is never printed, and every log handler redacts it (:mod:`adapters.slack.logs`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from typing import TYPE_CHECKING

from pydantic import SecretStr

from adapters.slack.logs import install_redaction
from bot.config import Settings

if TYPE_CHECKING:
    from bot.clock import Clock

log = logging.getLogger(__name__)

BOT_TOKEN = "MENTORBOT_SLACK_BOT_TOKEN"
APP_TOKEN = "MENTORBOT_SLACK_APP_TOKEN"
SIGNING_SECRET = "MENTORBOT_SLACK_SIGNING_SECRET"
_TOKEN = re.compile(r"^(xoxb|xapp)-[A-Za-z0-9-]{8,}$")
_SECRET = re.compile(r"^[A-Za-z0-9-]{16,}$")


def _value(secret: SecretStr | None) -> str:
    return secret.get_secret_value() if secret is not None else ""


def token_problem(settings: Settings) -> str | None:
    """What is wrong with the Slack tokens for the configured mode, naming the variable."""
    bot = _value(settings.slack_bot_token)
    if not bot:
        return f"{BOT_TOKEN} is not set: give the bot token (xoxb-…) from your app's OAuth page"
    if not bot.startswith("xoxb-") or not _TOKEN.match(bot):
        return f"{BOT_TOKEN} is malformed: it must be a bot token starting with xoxb-"
    if settings.slack.mode == "socket":
        app = _value(settings.slack_app_token)
        if not app:
            return (f"{APP_TOKEN} is not set: Socket Mode needs an app-level token (xapp-…) "
                    "with connections:write, or set [slack] mode = \"http\"")
        if not app.startswith("xapp-") or not _TOKEN.match(app):
            return f"{APP_TOKEN} is malformed: it must be an app-level token starting with xapp-"
    else:
        secret = _value(settings.slack_signing_secret)
        if not secret:
            return (f"{SIGNING_SECRET} is not set: HTTP mode needs the signing secret from "
                    "your app's Basic Information page")
        if not _SECRET.match(secret):
            return f"{SIGNING_SECRET} is malformed: copy it again from Basic Information"
    return None


def secrets_of(settings: Settings) -> list[str]:
    return [_value(s) for s in (settings.slack_bot_token, settings.slack_app_token,
                                settings.slack_signing_secret)]


async def serve(settings: Settings, clock: Clock | None = None) -> int:
    """Run the Slack adapter until stopped; 2 if Slack refuses the token at start."""
    # Imported here: the token checks above answer at once, before the SDKs and the database
    # layer load (and log).
    from adapters.slack.adapter import SlackAdapter, TokenRefused
    from bot.bootstrap import run
    from bot.errors import StorageUnavailable

    adapter = SlackAdapter(settings, clock)
    try:
        identity = await adapter.identify()
    except TokenRefused as refused:
        await adapter.close()
        print(f"mentorbot: Slack refused {BOT_TOKEN} ({refused}): the token was revoked or the "
              "app uninstalled; reinstall the app and copy the new token", file=sys.stderr)
        return 2
    except Exception as exc:
        await adapter.close()
        print(f"mentorbot: could not reach Slack at {settings.slack.api_base_url} "
              f"({type(exc).__name__})", file=sys.stderr)
        return 1
    log.info("Slack says this is %s in %s", identity.bot_user_id, identity.team_name)
    try:
        await run(settings, lambda _settings: adapter, clock)
    except StorageUnavailable as error:  # SchemaTooNew too; `run` closed the adapter
        print(f"mentorbot: database unavailable: {error}", file=sys.stderr)
        return 2
    return 0


def run_slack(settings: Settings) -> int:
    """The CLI's entry point: the exit code."""
    problem = token_problem(settings)
    if problem is not None:
        print(f"mentorbot: {problem}", file=sys.stderr)
        return 2
    install_redaction(secrets_of(settings))
    return asyncio.run(serve(settings))
