"""Where the core gets the time from.

Every rule that depends on "now" (deadlines, nudges, minimum notice) asks a :class:`Clock`, so
tests and the console can move time forward instead of sleeping.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

log = logging.getLogger(__name__)


class Clock(Protocol):
    """A source of the current, timezone-aware UTC time."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ManualClock:
    """A clock that only moves when told to (tests, the console's ``/time``)."""

    current: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.current.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self.current = self.current.astimezone(UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        self.current = self.current + delta
        log.debug("manual clock advanced by %s to %s", delta, self.current.isoformat())
        return self.current

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware time")
        self.current = when.astimezone(UTC)


class OffsetClock:
    """The system clock shifted by an offset that can only grow.

    The console uses it: real time keeps flowing, and ``/time +3d`` jumps ahead.
    """

    def __init__(self, base: Clock | None = None) -> None:
        self._base: Clock = base or SystemClock()
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self._base.now() + self.offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        self.offset += delta
        return self.now()
