"""The real Slack adapter, the real core and a real SQLite file, against the stand-in Slack.

Only the far side is replaced: Bolt's ``AsyncApp`` runs unchanged behind Socket Mode or a
signed HTTP endpoint, the core runs on a SQLite file, and time is a ``ManualClock`` that the
stand-in shares (its message timestamps and trigger expiry follow it; Bolt checks signatures
against the wall clock, so the stand-in signs with ``time.time``). Nudges are delivered when a
test says so (``deliver_due``), as the clock moves (``advance``).

What a person sees of a reply is read from what reached the stand-in: the ``response_url``
posts of their command or click (``replies``), the messages in their DM (``dms``), the modals
opened for them (``modal``), their Home tab.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from adapters.slack.adapter import SlackAdapter
from bot.bootstrap import App, assemble
from bot.clock import ManualClock
from bot.config import Settings, SlackSettings, StorageSettings
from tests.standins.slack import (
    GENERAL,
    Ack,
    EphemeralMessage,
    HttpReply,
    Inbound,
    ResponsePost,
    SlackMessage,
    SlackStandin,
    running_slack,
)
from tests.template_db import fresh_sqlite

log = logging.getLogger(__name__)

#: A Monday morning, so "Tue 18:00" is tomorrow evening and booking rules are easy to read.
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(
    slack: SlackStandin, db: Path, mode: Literal["socket", "http"] = "socket",
    busy_timeout_seconds: float = 2.0, **slack_options: Any
) -> Settings:
    return Settings(
        storage=StorageSettings(url=f"sqlite+aiosqlite:///{db}",
                                busy_timeout_seconds=busy_timeout_seconds),
        slack=SlackSettings(mode=mode, api_base_url=slack.api_url, http_host="127.0.0.1",
                            http_port=free_port(), **slack_options),
        slack_bot_token=slack.bot_token,  # type: ignore[arg-type]
        slack_app_token=slack.app_token,  # type: ignore[arg-type]
        slack_signing_secret=slack.signing_secret,  # type: ignore[arg-type]
    )


def shown(body: dict[str, Any] | None) -> str:
    """What a person reads in a message: its sections' text and its buttons' labels."""
    if not body:
        return ""
    out: list[str] = []
    for block in body.get("blocks") or []:
        if block.get("type") == "section":
            out.append(block["text"]["text"])
        elif block.get("type") == "actions":
            out.append(" | ".join(f"[{e['text']['text']}]" for e in block["elements"]))
        elif block.get("type") == "context":
            out.append(" ".join(e.get("text", "") for e in block["elements"]))
    return "\n".join(out) if out else str(body.get("text") or "")


def buttons(body: dict[str, Any] | SlackMessage | None) -> dict[str, str]:
    """label → action_id of every button shown."""
    blocks = body.blocks if isinstance(body, SlackMessage) else (body or {}).get("blocks")
    return {
        e["text"]["text"]: e["action_id"]
        for b in blocks or [] if b.get("type") == "actions"
        for e in b["elements"] if e.get("type") == "button"
    }


@dataclass
class SlackWorld:
    slack: SlackStandin
    app: App
    adapter: SlackAdapter
    clock: ManualClock
    settings: Settings
    mode: Literal["socket", "http"]

    # -- what Slack sends ---------------------------------------------------------------------

    async def deliver(self, inbound: Inbound, **retry: Any) -> Ack | HttpReply:
        if self.mode == "socket":
            return await self.slack.socket.deliver(inbound, **retry)
        assert self.adapter.url is not None
        if retry:
            retry = {"retry_num": retry.get("retry_attempt"),
                     "retry_reason": retry.get("retry_reason")}
        return await self.slack.http.deliver(self.adapter.url, inbound, **retry)

    async def command(self, text: str, *, user: str, channel: str = GENERAL) -> Inbound:
        inbound = self.slack.payloads.slash_command("/mentor", text, user=user, channel=channel)
        await self.deliver(inbound)
        return inbound

    async def say(self, text: str, *, user: str, channel: str = GENERAL) -> str:
        """``/mentor text``; what the person then sees (the first reply)."""
        inbound = await self.command(text, user=user, channel=channel)
        return shown((await self.replies(inbound))[0].body)

    async def replies(self, inbound: Inbound, count: int = 1) -> list[ResponsePost]:
        """The ``count`` first posts to this command's or click's response_url."""
        url = inbound.body["response_url"]

        def found() -> list[ResponsePost] | None:
            posts = [p for p in self.slack.response_posts if p.url == url]
            return posts if len(posts) >= count else None

        return (await self.slack.wait_until(found, 5.0, f"{count} reply(ies) to {url}"))[:count]

    async def click(
        self, label: str, *, user: str, on: SlackMessage | ResponsePost, channel: str = GENERAL
    ) -> Inbound:
        """``user`` clicks the button ``label`` on a message (a DM, a channel post) or on an
        ephemeral reply (a response_url post)."""
        if isinstance(on, ResponsePost):
            message: SlackMessage | EphemeralMessage = EphemeralMessage(
                channel, user, self.slack.next_ts(), str(on.body.get("text") or ""),
                on.body.get("blocks"),
            )
            action = buttons(on.body)[label]
        else:
            message = on
            action = buttons(on)[label]
        inbound = self.slack.payloads.block_action(action, user=user, message=message)
        await self.deliver(inbound)
        return inbound

    async def submit(self, view_id: str, **inputs: str) -> Ack | HttpReply:
        """The person submits the modal with these values, by field name."""
        view = self.slack.view(view_id)
        values = {
            b["block_id"]: {"value": _state(b, inputs.get(b["block_id"]))}
            for b in view["blocks"] if b.get("type") == "input"
        }
        return await self.deliver(self.slack.payloads.view_submission(view_id, values=values))

    async def modal(self, count: int = 1) -> dict[str, Any]:
        """The ``count``-th modal opened, as Slack holds it."""
        await self.slack.wait_for_call("views.open", where=lambda c: c.ok, count=count)
        return self.slack.view(self.slack.views_opened[count - 1].view_id)

    # -- what the bot sends on its own ------------------------------------------------------------

    async def deliver_due(self) -> None:
        await self.app.engine.run_due()

    async def advance(self, delta: timedelta) -> None:
        """Move the clock, delivering every nudge at its moment on the way."""
        target = self.clock.now() + delta
        while True:
            due = await self.app.engine.next_due()
            if due is None or due > target:
                break
            if due > self.clock.now():
                self.clock.set(due)
            await self.deliver_due()
        self.clock.set(target)
        await self.deliver_due()

    def dms(self, user: str) -> list[SlackMessage]:
        return self.slack.dm_messages_to(user)

    async def dm(self, user: str, containing: str, timeout: float = 5.0) -> SlackMessage:
        """The latest DM to ``user`` that shows ``containing`` (awaited if not there yet)."""

        def found() -> SlackMessage | None:
            hits = [m for m in self.dms(user) if containing in shown(_as_body(m))]
            return hits[-1] if hits else None

        return await self.slack.wait_until(found, timeout, f"a DM to {user} with {containing!r}")


def _as_body(message: SlackMessage) -> dict[str, Any]:
    return {"text": message.text, "blocks": message.blocks}


def _state(block: dict[str, Any], value: str | None) -> dict[str, Any]:
    element = block["element"]
    if element["type"] == "static_select":
        option = next((o for o in element["options"] if o["value"] == value), None)
        return {"type": "static_select", "selected_option": option}
    return {"type": element["type"], "value": value}


def shared_slack(clock: ManualClock, **options: Any) -> Any:
    """A stand-in Slack that outlives one bot (for restarts): ``async with shared_slack(clock)``."""
    return running_slack(clock=clock, signing_clock=time.time, **options)


@asynccontextmanager
async def slack_world(
    tmp_path: Path,
    *,
    mode: Literal["socket", "http"] = "socket",
    clock: ManualClock | None = None,
    db_name: str = "slack.db",
    standin: SlackStandin | None = None,
    busy_timeout_seconds: float = 2.0,
    **standin_options: Any,
) -> AsyncIterator[SlackWorld]:
    """A running world; ``standin`` reuses a running stand-in (a restart of the bot)."""
    clock = clock or ManualClock(START)
    db = fresh_sqlite(tmp_path / db_name)
    if standin is None:
        async with (
            shared_slack(clock, **standin_options) as slack,
            _bot(slack, db, mode, clock, busy_timeout_seconds) as world,
        ):
            yield world
    else:
        async with _bot(standin, db, mode, clock, busy_timeout_seconds) as world:
            yield world


@asynccontextmanager
async def _bot(
    slack: SlackStandin, db: Path, mode: Literal["socket", "http"], clock: ManualClock,
    busy_timeout_seconds: float = 2.0,
) -> AsyncIterator[SlackWorld]:
    settings = settings_for(slack, db, mode, busy_timeout_seconds)
    adapter = SlackAdapter(settings, clock)
    closed = False
    try:
        async with assemble(settings, adapter.messenger, clock, start_scheduler=False,
                            platform="slack") as app:
            try:
                before = len(slack.socket.connections)
                await adapter.start(app)
                if mode == "socket":
                    await slack.socket.wait_connected(before + 1)
                yield SlackWorld(slack, app, adapter, clock, settings, mode)
            finally:
                closed = True
                await adapter.close()  # stop listening before the database closes
    finally:
        if not closed:
            await adapter.close()


def texts(messages: Sequence[SlackMessage]) -> list[str]:
    return [shown(_as_body(m)) for m in messages]
