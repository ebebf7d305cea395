"""Quiet hours: when a member would rather not get follow-ups, in their own local time.

Why a module of its own: the same rule is applied when a follow-up is planned (its due time is
moved to the next allowed moment) and again when it is sent (the member may have changed zone or
quiet hours meanwhile). All arithmetic is done on local wall-clock times with zoneinfo, so a
window such as 22:00-08:00 stays 22:00-08:00 across daylight-saving changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import QUIET_HOURS
from bot.domain import Member
from bot.zones import zone_info

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuietHours:
    """A daily window ``start``-``end`` in a zone; it wraps midnight when start > end."""

    start: time
    end: time
    zone: str

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(zone_info(self.zone)).time().replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, at: datetime) -> datetime:
        """``at`` if it is outside the window, else the window's end (aware, UTC)."""
        if not self.contains(at):
            return at.astimezone(UTC)
        zone = zone_info(self.zone)
        local = at.astimezone(zone)
        day = local.date()
        if self.start > self.end and local.time().replace(tzinfo=None) >= self.start:
            day = day + timedelta(days=1)  # evening part of a window that wraps midnight
        return _wall_clock(day, self.end, zone)


def _wall_clock(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant the clocks in ``zone`` show ``at`` on ``day``.

    In a spring-forward gap the time does not exist; zoneinfo then reads it with the offset
    before the change, which lands just after the gap: still outside the window, as wanted.
    """
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def parse(spec: str | None, zone: str) -> QuietHours | None:
    """``"22:00-08:00"`` in ``zone``; None for no quiet hours (empty, "off", or malformed)."""
    if not spec or not QUIET_HOURS.match(spec):
        if spec and spec.lower() != "off":
            log.warning("ignoring malformed quiet hours %r", spec)
        return None
    first, second = spec.split("-")
    start = time.fromisoformat(first)
    end = time.fromisoformat(second)
    if start == end:
        return None
    return QuietHours(start, end, zone)


def of_member(member: Member, default_spec: str, default_zone: str) -> QuietHours | None:
    """The member's own quiet hours, or the community's default, in the member's zone."""
    spec = member.quiet_hours if member.quiet_hours is not None else default_spec
    return parse(spec, member.zone(default_zone))


def next_allowed(at: datetime, quiet: QuietHours | None) -> datetime:
    return at if quiet is None else quiet.next_allowed(at)
