"""Nothing a person types can ping, mention or link on Slack; no token is ever printed; the
app manifest declares what the adapter listens to; ``mentorbot slack`` runs as a process.

Injection strings go in the way Slack sends them (``should_escape``: literal ``<`` arrives as
``&lt;``, a typed ``@here`` as ``<!here>``), through the real Bolt app and core; then every
piece of mrkdwn the bot sent anywhere (replies, DMs, group DMs, modals, the Home tab) is
searched for markup Slack would act on.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.slack_harness import slack_world
from tests.standins.slack import ALICE, BOB, SlackStandin, SlackUser, running_slack
from tests.test_bad_input import INJECTIONS
from tests.test_slack_render import MASKED_LINKS, mrkdwn_texts

EVE = "U0EVE00001"
ACTIVE = re.compile(r"<(?:!(?!date\^)|@|#|https?:|mailto:)")
CONTEXT = "I'm learning asyncio and got stuck on task groups; I tried the docs"
MANIFEST = Path(__file__).resolve().parents[1] / "adapters" / "slack" / "manifest.yml"


def as_slack_sends(typed: str) -> str:
    """What Slack delivers for text a person typed (``should_escape: true``)."""
    text = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for special in ("here", "channel", "everyone"):
        text = text.replace(f"@{special}", f"<!{special}>")
    return text


def everything_sent(slack: SlackStandin) -> list[str]:
    """All text the bot sent that Slack would parse as mrkdwn."""
    out: list[str] = []
    for post in slack.response_posts:
        out += [str(post.body.get("text") or ""), *mrkdwn_texts(post.body.get("blocks"))]
    for user in (ALICE, BOB, EVE):
        for message in slack.dm_messages_to(user):
            out += [message.text, *mrkdwn_texts(message.blocks)]
    space = slack.group_dm_of([ALICE, BOB])
    for message in slack.messages_in(space) if space else []:
        out += [message.text, *mrkdwn_texts(message.blocks)]
    for opened in slack.views_opened:
        out += mrkdwn_texts(opened.view)
    for home in slack.homes_published.values():
        out += mrkdwn_texts(home)
    return out


async def test_injection_strings_stay_inert_everywhere(tmp_path: Path) -> None:
    # Typed text arrives escaped; links and group mentions made in Slack's composer arrive as
    # Slack's own markup.
    needles = [as_slack_sends(n) for n in INJECTIONS] + [
        *MASKED_LINKS, "<!subteam^S0ORGANIZE|@organizers>", "<@U0BOB00001|bob>"]
    async with slack_world(tmp_path) as world:
        world.slack.add_user(SlackUser(EVE, "eve", "Eve", "<!channel> @here Eve", "UTC"))
        assert "now a mentor" in await world.say(
            "mentor set topics: python bio: hi availability: Tue 18:00-20:00", user=ALICE)
        await world.deliver(world.slack.payloads.app_home_opened(ALICE))
        for sent in needles:
            await world.say(f"find {sent}", user=BOB)
            await world.say(f"notify {sent}", user=BOB)
            await world.say(f"profile {sent}", user=BOB)
        await world.say(f"request <@{ALICE}> topic: python context: {CONTEXT} "
                        + " ".join(needles), user=BOB)
        await world.say(f"request <@{ALICE}> topic: python context: {CONTEXT}", user=EVE)
        await world.deliver_due()
        assert "Accepted" in await world.say("accept 1", user=ALICE)
        await world.say(f"decline 2 Not now {needles[0]}", user=ALICE)
        await world.deliver_due()
        await world.slack.wait_for_call("views.publish", count=2)

        sent_text = everything_sent(world.slack)
        shown = "\n".join(sent_text)
        assert "&lt;!channel&gt;" in shown and "[link](https://evil)" in shown  # shown...
        assert "your calendar (https://evil.example)" in shown
        intended = f"<@{ALICE}>, meet <@{BOB}>!"  # the one ping the core asks for: the intro
        assert sum(intended in text for text in sent_text) == 2  # its text and its blocks
        for text in sent_text:
            assert not ACTIVE.search(text.replace(intended, "")), text  # ...never acted on
        assert not any(c.args.get("link_names") for c in world.slack.calls("chat.postMessage"))


def test_the_manifest_declares_what_the_adapter_listens_to() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/mentor" and command["should_escape"] is True
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_home_opened", "message.im", "user_change"}
    assert settings["interactivity"]["is_enabled"] and settings["socket_mode_enabled"]
    assert manifest["features"]["app_home"]["home_tab_enabled"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "im:write", "im:history", "mpim:write", "mpim:history",
            "files:write", "users:read", "usergroups:read"} <= scopes


MARKER_BOT = "xoxb-3333333333-PROCESSMARKER4242"
MARKER_APP = "xapp-1-A0MENTORBT-4444-PROCESSMARKER4242"


async def test_mentorbot_slack_runs_as_a_process_and_prints_no_token(tmp_path: Path) -> None:
    async with running_slack(bot_token=MARKER_BOT, app_token=MARKER_APP) as slack:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MENTORBOT_")}
        env.update(
            MENTORBOT_SLACK_BOT_TOKEN=MARKER_BOT, MENTORBOT_SLACK_APP_TOKEN=MARKER_APP,
            MENTORBOT_SLACK__API_BASE_URL=slack.api_url,
            MENTORBOT_STORAGE__URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "adapters.cli", "--log-level", "DEBUG", "slack",
            cwd=tmp_path, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        output: Any = asyncio.ensure_future(process.communicate())
        try:
            await slack.socket.wait_connected(timeout=30)
            inbound = slack.payloads.slash_command("/mentor", "help", user=BOB)
            await slack.socket.deliver(inbound, timeout=10)
            reply = await slack.wait_for_response_post(timeout=10)
            assert "Here's what I can do" in str(reply.body)
        finally:
            process.send_signal(signal.SIGINT)
            stdout, stderr = await asyncio.wait_for(output, 30)
    printed = (stdout + stderr).decode()
    assert process.returncode == 0, printed[-2000:]
    assert "Socket Mode: connected" in printed and "DEBUG" in printed
    assert MARKER_BOT not in printed and MARKER_APP not in printed
    assert "PROCESSMARKER" not in printed
