"""The App Home: the member's home view from the core, published with ``views.publish``.

Published when the member opens the Home tab, and after their own commands once they use it,
so it never lags what they just did. A member who never opened it gets none of those (it would
be built for nobody, and is published fresh the moment they open it). Publishes for one member
never overlap: a refresh asked for while one runs is done once, right after it, with the
latest state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
)
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.menu import menu_blocks
from adapters.slack.render import Numbering, message_blocks
from bot.caller import Caller
from bot.messages import Reply

log = logging.getLogger(__name__)

HOME_BLOCKS_MAX = 100
WATCHERS_MAX = 50_000
TITLE = "Your mentorship"


def home_view(reply: Reply) -> dict[str, Any]:
    """The home view: the menu, then the core's sections (at most 100 blocks)."""
    blocks: list[Block] = [HeaderBlock(text=TITLE), *menu_blocks("Start here:")]
    room = HOME_BLOCKS_MAX - len(blocks) - 2
    body: list[Block] = []
    numbers = Numbering()
    for message in reply.messages:
        mine = message_blocks(message, numbers)
        if not mine:
            continue
        if body:
            mine = [DividerBlock(), *mine]
        if len(body) + len(mine) > room:
            body.append(ContextBlock(elements=[MarkdownTextObject(
                text="More with `/mentor my`.", verbatim=True)]))
            break
        body.extend(mine)
    blocks += [DividerBlock(), *body]
    return View(type="home", blocks=blocks).to_dict()


class HomeKeeper:
    """Publishes members' homes in the background, one publish per member at a time."""

    def __init__(
        self, client: AsyncWebClient, home: Callable[[Caller], Awaitable[Reply]]
    ) -> None:
        self.client = client
        self.home = home
        self._running: dict[str, asyncio.Task[None]] = {}
        self._again: dict[str, Caller] = {}
        self._watchers: dict[str, None] = {}

    def watching(self, user_id: str) -> None:
        """This member uses the Home tab: keep it current after their commands."""
        self._watchers.pop(user_id, None)
        self._watchers[user_id] = None
        if len(self._watchers) > WATCHERS_MAX:  # forget the longest quiet
            del self._watchers[next(iter(self._watchers))]

    def refresh(self, caller: Caller) -> None:
        """Publish ``caller``'s home soon, if they use it (coalesced with one under way)."""
        if caller.user_id not in self._watchers:
            return
        if caller.user_id in self._running:
            self._again[caller.user_id] = caller
            return
        task = asyncio.create_task(self._publish_until_current(caller))
        self._running[caller.user_id] = task

    async def publish(self, caller: Caller) -> None:
        reply = await self.home(caller)
        await self.client.views_publish(user_id=caller.user_id, view=home_view(reply))

    async def _publish_until_current(self, caller: Caller) -> None:
        try:
            while True:
                try:
                    await self.publish(caller)
                except Exception:
                    log.exception("publishing the home of %s failed", caller.user_id)
                next_caller = self._again.pop(caller.user_id, None)
                if next_caller is None:
                    return
                caller = next_caller
        finally:
            self._running.pop(caller.user_id, None)

    async def close(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
