"""Who is speaking, where, as the adapter knows it: facts from the platform, not rules.

The core decides what a caller may do from these facts (``is_platform_admin``, ``groups``);
an adapter never decides it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    platform: str
    community_id: str | None
    """The platform's id of the community (Slack team, Discord guild); None in a DM, where
    only a button's or form's id says which community it is about."""
    community_name: str
    user_id: str
    display_name: str
    timezone: str | None = None
    """The zone the platform reports for this person (Slack does; Discord doesn't)."""
    is_platform_admin: bool = False
    groups: frozenset[str] = field(default_factory=frozenset)
    """User groups (Slack) or roles (Discord), by id and by name."""
    channel: str | None = None
