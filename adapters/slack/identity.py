"""Who is speaking: a ``Caller`` from Slack's ids, with the facts the core decides on.

Facts, not rules: the display name and zone Slack reports (``users.info``; the core follows
a zone change unless the member set one by hand), whether the person is a workspace admin or
owner, and whether they are in the community's organizer user group
(``usergroups.users.list``). The core decides what an organizer may do.

These lookups, and which group the community configured, are cached for
``organizer_cache_seconds`` (they change rarely; Slack rate-limits these methods per
workspace). A ``user_change`` event drops a person's entry at once, and an organizer's command
drops the configured group (only an organizer can change it). Concurrent lookups of the same
person share one call. When Slack cannot answer, the last known facts are used, or the name from the
payload: a command never fails because a lookup did.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import App
from bot.caller import Caller
from bot.errors import StorageBusy, StorageUnavailable

log = logging.getLogger(__name__)

PLATFORM = "slack"
GROUP_ID = re.compile(r"^S[A-Z0-9]{2,40}$")
T = TypeVar("T")


@dataclass(frozen=True)
class Person:
    """What ``users.info`` says about someone, as far as the bot needs it."""

    user_id: str
    display_name: str
    timezone: str | None
    is_admin: bool


class _Cache(Generic[T]):
    """Values kept for ``ttl`` seconds; concurrent misses of one key share one lookup."""

    def __init__(self, ttl: float, now: Callable[[], float]) -> None:
        self.ttl = ttl
        self.now = now
        self._values: dict[str, tuple[float, T]] = {}
        self._pending: dict[str, asyncio.Future[T]] = {}

    def stale(self, key: str) -> T | None:
        found = self._values.get(key)
        return found[1] if found else None

    def forget(self, key: str) -> None:
        self._values.pop(key, None)

    async def get(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        found = self._values.get(key)
        if found is not None and self.now() < found[0]:
            return found[1]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            self._pending.pop(key, None)
        self._values[key] = (self.now() + self.ttl, value)
        future.set_result(value)
        return value


def person_of(user: dict[str, object]) -> Person:
    """A ``users.info`` user object as a :class:`Person` (display name, else real name)."""
    profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
    assert isinstance(profile, dict)
    name = (
        str(profile.get("display_name") or "").strip()
        or str(profile.get("real_name") or user.get("real_name") or "").strip()
        or str(user.get("name") or user.get("id") or "")
    )
    tz = user.get("tz")
    return Person(
        str(user.get("id")), name, tz if isinstance(tz, str) and tz else None,
        bool(user.get("is_admin") or user.get("is_owner")),
    )


class Directory:
    """Builds callers, looking people and the organizer group up through the Web API."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        team_name: str,
        cache_seconds: float,
        organizer_group: Callable[[str], Awaitable[str]],
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.team_name = team_name
        self._organizer_group = organizer_group
        self._people: _Cache[Person] = _Cache(cache_seconds, now)
        self._groups: _Cache[frozenset[str]] = _Cache(cache_seconds, now)
        self._configured: _Cache[str] = _Cache(cache_seconds, now)

    def forget(self, user_id: str) -> None:
        """Slack said this person changed (``user_change``): look them up again next time."""
        self._people.forget(user_id)

    def organizer_may_have_changed(self, team_id: str) -> None:
        """Only an organizer can change which group organizes: after one of their commands,
        the setting is read again (another instance's change counts after the cache time)."""
        self._configured.forget(team_id)

    async def caller(
        self, team_id: str, user_id: str, *, channel: str | None = None, name_hint: str = ""
    ) -> Caller:
        person = await self.person(user_id, name_hint)
        groups = await self._groups_of(team_id, user_id)
        return Caller(
            platform=PLATFORM,
            community_id=team_id,
            community_name=self.team_name,
            user_id=user_id,
            display_name=person.display_name,
            timezone=person.timezone,
            is_platform_admin=person.is_admin,
            groups=groups,
            channel=channel,
        )

    async def person(self, user_id: str, name_hint: str = "") -> Person:
        async def load() -> Person:
            answer = await self.client.users_info(user=user_id)
            user = answer.get("user")
            if not isinstance(user, dict):
                raise LookupError(f"users.info gave no user for {user_id}")
            return person_of(user)

        try:
            return await self._people.get(user_id, load)
        except (SlackClientError, aiohttp.ClientError, LookupError, OSError) as exc:
            log.warning("users.info for %s failed (%s); using what I know", user_id,
                        _error_of(exc))
            return self._people.stale(user_id) or Person(user_id, name_hint or user_id, None,
                                                         False)

    async def _groups_of(self, team_id: str, user_id: str) -> frozenset[str]:
        """The configured organizer group's id, if this person is in it."""
        try:
            group = await self._configured.get(team_id, lambda: self._organizer_group(team_id))
        except (StorageBusy, StorageUnavailable) as exc:
            # The command itself will be answered "try again"; the caller is still built.
            log.warning("organizer_group of %s unreadable (%s)", team_id, type(exc).__name__)
            group = self._configured.stale(team_id) or ""
        if not group:
            return frozenset()
        if not GROUP_ID.match(group):
            log.warning("organizer_group %r is not a Slack user group id; pick the group with "
                        "`/mentor settings set organizer_group @group`", group[:40])
            return frozenset()

        async def load() -> frozenset[str]:
            answer = await self.client.usergroups_users_list(usergroup=group)
            users = answer.get("users")
            return frozenset(u for u in users if isinstance(u, str)) if isinstance(
                users, list) else frozenset()

        try:
            members = await self._groups.get(group, load)
        except (SlackClientError, aiohttp.ClientError, OSError) as exc:
            log.warning("usergroups.users.list for %s failed (%s)", group, _error_of(exc))
            members = self._groups.stale(group) or frozenset()
        return frozenset({group}) if user_id in members else frozenset()


def _error_of(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return type(exc).__name__


def organizer_group_reader(app: App) -> Callable[[str], Awaitable[str]]:
    """Reads a community's ``organizer_group`` setting (an organizer may change it with
    ``settings set``; the file's value is the default) through the core, read-only."""

    async def read(team_id: str) -> str:
        settings = await app.core.community_settings(PLATFORM, team_id)
        return settings.organizer_group.strip()

    return read
