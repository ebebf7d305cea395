"""What Discord says about our request volume: invalid requests, and the scope of a 429.

Why a trace on discord.py's HTTP session: Discord bans an IP for a while after 10,000 invalid
requests (401, 403 and 429 answers) in 10 minutes, and discord.py retries short 429s on its
own, so the adapter would never see them. The trace sees every answer, retries included: it
counts and logs the invalid ones, and the messenger stops sending (as a rate limit on
everything) long before the ban line. It also remembers, in the task that made the request, the
scope of the last 429 (``user``, ``global``, ``shared``): ``discord.RateLimited`` carries only
``retry_after``, and a global limit must hold everything, not one channel.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from types import SimpleNamespace
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

WINDOW_SECONDS = 600.0
BAN_LINE = 10_000
SAFE_LIMIT = 1_000
"""Invalid requests in the window after which the messenger pauses all sending."""
INVALID_STATUSES = frozenset({401, 403, 429})

_last_429_scope: ContextVar[str | None] = ContextVar("mentorbot_discord_429_scope", default=None)


def last_429_scope() -> str | None:
    """The ``X-RateLimit-Scope`` of the last 429 answered to a request of this task."""
    return _last_429_scope.get()


def forget_429_scope() -> None:
    """Start a new delivery: an earlier 429's scope must not colour a later rate limit."""
    _last_429_scope.set(None)


class InvalidRequests:
    """Counts 401/403/429 answers over a sliding 10-minute window (shared 429s excepted: Discord
    does not count them)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: deque[float] = deque()
        self.total = 0

    def note(self, status: int, scope: str | None, method: str, url: str) -> None:
        if status == 429:
            _last_429_scope.set(scope or "user")
        if status not in INVALID_STATUSES or (status == 429 and scope == "shared"):
            return
        now = self._clock()
        self._seen.append(now)
        self.total += 1
        count = self.recent()
        level = logging.ERROR if count >= SAFE_LIMIT else logging.WARNING
        log.log(level, "Discord answered %s to %s %s: %d invalid request(s) in the last 10 "
                "minutes (Discord bans at %d)", status, method, _path(url), count, BAN_LINE)

    def recent(self) -> int:
        cutoff = self._clock() - WINDOW_SECONDS
        while self._seen and self._seen[0] < cutoff:
            self._seen.popleft()
        return len(self._seen)

    @property
    def too_many(self) -> bool:
        return self.recent() >= SAFE_LIMIT

    def trace(self) -> aiohttp.TraceConfig:
        """An aiohttp trace for ``discord.Client(http_trace=...)``."""
        config = aiohttp.TraceConfig()

        async def on_end(
            session: aiohttp.ClientSession, context: SimpleNamespace, params: Any
        ) -> None:
            response = params.response
            self.note(response.status, response.headers.get("X-RateLimit-Scope"),
                      params.method, str(params.url))

        config.on_request_end.append(on_end)
        return config


def _path(url: str) -> str:
    """The URL without its query (never a token: interaction tokens sit in webhook paths)."""
    path = url.split("?", 1)[0]
    for marker in ("/webhooks/", "/interactions/"):
        if marker in path:
            return path.split(marker, 1)[0] + marker + "…"
    return path
