"""Autocomplete: up to 25 choices for a parameter as a person types (Discord, Slack menus).

Read-only queries, one per source, filtered by what was typed so far: topics mentors list,
mentors by name, the caller's own sessions and requests, the settings organizers can change.
Timezones come from the cached zone list (``bot.zones``) without touching the database.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.command import Source
from bot.config import CommunityDefaults
from bot.domain import Community, IntroState, Member, SessionState
from bot.messages import Moment, MomentStyle
from bot.repositories import Tx
from bot.text import shorten

log = logging.getLogger(__name__)

LIMIT = 25


def _matches(label: str, prefix: str) -> int | None:
    """0 for a prefix match, 1 for a match inside, None for none (case-insensitive)."""
    wanted = prefix.strip().casefold()
    found = label.casefold()
    if not wanted or found.startswith(wanted):
        return 0
    return 1 if wanted in found else None


def _best(items: list[tuple[str, str]], prefix: str) -> list[tuple[str, str]]:
    ranked = [(rank, label, value) for label, value in items
              if (rank := _matches(label, prefix)) is not None]
    ranked.sort(key=lambda r: (r[0], r[1].casefold()))
    return [(label, value) for _rank, label, value in ranked[:LIMIT]]


async def suggestions(
    tx: Tx,
    community: Community,
    me: Member | None,
    source: Source,
    prefix: str,
    now: datetime,
    settings: CommunityDefaults,
) -> list[tuple[str, str]]:
    """(label, value) pairs for ``source``, best first."""
    if source is Source.TOPICS:
        topics = sorted(set(await tx.profiles.topics(community.id)))
        return _best([(t, t) for t in topics], prefix)
    if source in (Source.MENTORS, Source.MEMBERS):
        if source is Source.MENTORS:
            profiles = await tx.profiles.all(community.id)
            people = list((await tx.members.by_ids(
                community.id, (p.member_id for p in profiles))).values())
        else:
            people = await tx.members.search(community.id, prefix, LIMIT * 2)
        return _best([(shorten(m.display_name, 100), f"<member:{m.platform_user_id}>")
                      for m in people if me is None or m.id != me.id], prefix)
    if source is Source.SETTINGS:
        from bot.community.commands import EDITABLE_SETTINGS

        return _best([(k, k) for k in EDITABLE_SETTINGS], prefix)
    if me is None:
        return []
    zone = me.zone(settings.default_timezone)
    if source is Source.MY_SESSIONS:
        sessions = await tx.sessions.of(
            community.id, me.id,
            states=[SessionState.PROPOSED, SessionState.CONFIRMED, SessionState.HELD], limit=50,
        )
        items = []
        for s in sorted(sessions, key=lambda s: s.start_at or s.created_at, reverse=True):
            when = (Moment(s.start_at, zone, MomentStyle.DATE_TIME).fallback_text()
                    if s.start_at else "times to pick from")
            items.append((shorten(f"#{s.id} {when} · {s.topic}", 100), str(s.id)))
        return _best(items, prefix)
    mine = source is Source.MY_REQUESTS
    intros = await tx.intros.of(
        community.id, member_id=me.id if mine else None, mentor_id=None if mine else me.id,
        states=[IntroState.PENDING, IntroState.INFO_REQUESTED], limit=50,
    )
    return _best([(shorten(f"#{r.id} · {r.topic} ({r.state.label})", 100), str(r.id))
                  for r in intros], prefix)
