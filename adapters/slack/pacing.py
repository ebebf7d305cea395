"""About one message a second per channel, without waiting on the event loop.

Slack allows ``chat.postMessage`` about once a second per channel, with short bursts. Each
channel gets a small token bucket: a burst goes out at once, and a message over the pace is
not slept on. It is refused with :class:`~bot.ports.RateLimited` for that destination only,
so the nudge engine holds just that channel and sends everything else meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.ports import HoldScope, RateLimited

log = logging.getLogger(__name__)


@dataclass
class _Bucket:
    tokens: float
    at: float


class Pacer:
    """``take(channel)`` returns at once, or raises RateLimited with the wait left."""

    def __init__(
        self, *, per_second: float = 1.0, burst: int = 4,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_second
        self.burst = burst
        self.now = now
        self._buckets: dict[str, _Bucket] = {}

    def take(self, channel: str) -> None:
        now = self.now()
        bucket = self._buckets.get(channel)
        if bucket is None:
            bucket = self._buckets[channel] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst),
                            bucket.tokens + (now - bucket.at) * self.per_second)
        bucket.at = now
        if bucket.tokens < 1.0:
            wait = (1.0 - bucket.tokens) / self.per_second
            raise RateLimited(wait, f"pacing {channel} to {self.per_second:g} a second",
                              HoldScope.DESTINATION)
        bucket.tokens -= 1.0
        if len(self._buckets) > 10_000:  # forget channels quiet for a while
            self._buckets = {k: b for k, b in self._buckets.items() if now - b.at < 60}
