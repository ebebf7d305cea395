"""The Discord side of the nudge engine: DMs, channel posts and private intro threads.

Exactly once (the engine claims, sends with a key, records; this module makes the key stick):

* every message part is sent with a ``nonce`` derived from the key (at most 25 characters)
  and ``enforce_nonce``, so a quick resend returns the message Discord already has;
* Discord keeps nonces for minutes and never returns them in history, so the last part of
  every nudge also carries the key where history shows it: **the footer of a small embed**
  (``mentorbot-nudge-42``). :meth:`DiscordMessenger.find_sent` reads the destination's
  history for the bot's own message with that footer: the last 100 messages back to the
  earliest moment it can have been sent (the engine's ``since``), and when more than 100 came
  since then, the first 100 from that moment on too.

Failures as the core knows them: a rate limit longer than discord.py waits out (30 s) is
``RateLimited`` with Discord's ``retry_after`` (a global one holds everything); 50007 (DMs
closed) and unknown users are ``RecipientUnreachable`` (the engine mentions the member in a
channel or the intro thread instead and tells organizers); a missing or unusable channel and
missing permissions are ``PermanentFailure``; 5xx and network trouble ``TemporaryFailure``.
When Discord has answered 401/403/429 too often lately (``limits``), sending pauses as a rate
limit on everything, far below the 10,000 in 10 minutes that get an IP banned.

Private spaces are private threads (type 12, not invitable) in the configured intros channel,
with both members added; the thread's name ends with the space's key, so the thread is found
again (among the server's active threads) instead of opened twice after a crash.

Any instance may deliver any server's nudge, but the gateway cache holds only the servers of
this instance's shards. So every look-up works over REST alone when the server is not in the
cache: a channel by id (``GET /channels/{id}``), by name (``GET /guilds/{id}/channels``, then
the channel), and the threads of a channel (``GET /guilds/{id}/threads/active``). DMs and
intro threads are addressed by id and need no cache at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal
from weakref import WeakValueDictionary

import aiohttp
import discord

from adapters.discord.buttons import view_of
from adapters.discord.limits import InvalidRequests, forget_429_scope, last_429_scope
from adapters.discord.render import Renderer, allowed_mentions, files
from bot.messages import MemberAddress, Message
from bot.ports import (
    Delivered,
    DeliveryError,
    Destination,
    DirectMessage,
    HoldScope,
    PermanentFailure,
    RateLimited,
    RecipientUnreachable,
    SpacePost,
    TemporaryFailure,
)
from bot.text import shorten

log = logging.getLogger(__name__)

HISTORY_LIMIT = 100
THREAD_NAME_LIMIT = 100
THREAD_ARCHIVE_MINUTES: Literal[10080] = 10080
DMS_CLOSED = frozenset({50007, 50278})
UNKNOWN_USER = frozenset({10013, 10007})
PAUSE_SECONDS = 60.0
_CHANNEL_ID = re.compile(r"^(?:<#(\d{1,20})>|(\d{1,20}))$")


def nonce_for(key: str, part: int) -> str:
    """A stable nonce of 24 characters for part ``part`` of the message keyed ``key``."""
    return hashlib.blake2b(f"{key}#{part}".encode(), digest_size=12).hexdigest()


def marker(key: str) -> discord.Embed:
    """What history shows of the key: a small embed whose footer is the key."""
    return discord.Embed().set_footer(text=key)


def has_marker(message: discord.Message, key: str) -> bool:
    return any(embed.footer.text == key for embed in message.embeds)


def space_name(title: str, key: str) -> str:
    """``Intro: Alice & Bob · intro-12``: at most 100 characters, always ending with the key."""
    suffix = f" · {key}"
    return shorten(" ".join(title.split()), THREAD_NAME_LIMIT - len(suffix)) + suffix


class DiscordMessenger:
    """Implements ``bot.ports.Messenger`` over discord.py's REST client."""

    platform = "discord"

    def __init__(self, client: discord.Client, renderer: Renderer, watch: InvalidRequests,
                 *, history_limit: int = HISTORY_LIMIT) -> None:
        self.client = client
        self.renderer = renderer
        self.watch = watch
        self.history_limit = history_limit
        self._spaces: dict[str, int] = {}
        self._opening: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()

    async def send(self, community_external_id: str, destination: Destination,
                   message: Message, idempotency_key: str) -> Delivered:
        self._check_volume()
        with translated(destination):
            target = await self._target(community_external_id, destination)
            parts = self.renderer.parts(message, community_external_id)
            sent: discord.Message | None = None
            for index, part in enumerate(parts):
                final = index == len(parts) - 1
                if not final and not (part.content.strip() or part.choices or part.attachments):
                    continue
                kwargs: dict[str, Any] = {
                    "content": part.content or None,
                    "allowed_mentions": allowed_mentions(part.pinged),
                    "nonce": nonce_for(idempotency_key, index),
                }
                if final:
                    kwargs["embed"] = marker(idempotency_key)
                view = view_of(part.choices)
                if view is not None:
                    kwargs["view"] = view
                if part.attachments:
                    kwargs["files"] = files(part.attachments)
                sent = await target.send(**kwargs)
        assert sent is not None  # the final part is always sent
        return Delivered(str(sent.id))

    async def find_sent(self, community_external_id: str, destination: Destination,
                        idempotency_key: str, *, since: datetime | None = None,
                        ) -> Delivered | None:
        self._check_volume()
        with translated(destination):
            try:
                target = await self._target(community_external_id, destination)
            except RecipientUnreachable:
                return None  # no DM channel: nothing was delivered there
            me = self.client.user

            def ours(message: discord.Message) -> bool:
                return me is not None and message.author.id == me.id and has_marker(
                    message, idempotency_key)

            # Newest first, back to ``since`` at most: one request in the usual case.
            read = 0
            async for found in target.history(limit=self.history_limit, after=since,
                                              oldest_first=False):
                read += 1
                if ours(found):
                    return Delivered(str(found.id))
            if since is not None and read >= self.history_limit:
                # A full page and ``since`` not reached: look from ``since`` forward as well.
                async for found in target.history(limit=self.history_limit, after=since,
                                                  oldest_first=True):
                    if ours(found):
                        return Delivered(str(found.id))
        return None

    async def open_space(self, community_external_id: str, key: str,
                         members: Sequence[MemberAddress], title: str,
                         parent_channel: str | None) -> str:
        self._check_volume()
        lock = self._opening.get(key)
        if lock is None:
            lock = self._opening[key] = asyncio.Lock()
        async with lock:  # one opening per key at a time in this process
            with translated(None):
                return await self._open_space(community_external_id, key, members, title,
                                              parent_channel)

    # -- where ---------------------------------------------------------------------------------

    async def _target(self, community: str, destination: Destination) -> discord.abc.Messageable:
        if isinstance(destination, DirectMessage):
            user_id = destination.member.platform_user_id
            if not user_id.isdigit():
                raise RecipientUnreachable(f"{user_id!r} is not a Discord user id")
            return await self.client.create_dm(discord.Object(int(user_id)))
        if isinstance(destination, SpacePost):
            if not destination.space_ref.isdigit():
                raise PermanentFailure(f"{destination.space_ref!r} is not a Discord thread id")
            return self.client.get_partial_messageable(
                int(destination.space_ref),
                guild_id=int(community) if community.isdigit() else None,
            )
        return await self._channel(community, destination.channel)

    async def _channel(self, community: str, ref: str) -> discord.TextChannel:
        """A text channel of the server by id, ``<#id>`` or name (``intros``, ``#intros``):
        from the gateway cache if this instance's shards have the server, else over REST."""
        if not community.isdigit():
            raise PermanentFailure(f"{community!r} is not a Discord server id")
        guild_id = int(community)
        text = ref.strip().lstrip("#").strip()
        by_id = _CHANNEL_ID.match(text)
        channel_id = int(by_id.group(1) or by_id.group(2)) if by_id else None
        guild = self.client.get_guild(guild_id)
        channel: discord.abc.GuildChannel | discord.Thread | None
        if guild is None:
            channel = await self._fetch_channel(guild_id, channel_id, text)
        elif channel_id is not None:
            channel = guild.get_channel(channel_id)
        else:
            channel = discord.utils.find(lambda c: c.name.lower() == text.lower(),
                                         guild.text_channels)
        if not isinstance(channel, discord.TextChannel):
            raise PermanentFailure(
                f"there is no text channel “{shorten(text, 60)}” the bot can see in "
                f"{guild.name if guild is not None else 'the server'}: organizers can set one "
                "with `settings set`"
            )
        return channel

    async def _fetch_channel(
        self, guild_id: int, channel_id: int | None, name: str
    ) -> discord.abc.GuildChannel | discord.Thread | None:
        """A channel of the server over REST (a server of another shard): by id, or by name
        among the server's channels. None if there is no such channel in that server."""
        if channel_id is None:
            # discord.py's REST client, as the adapter's gateway look-up: Guild.fetch_channels
            # needs a Guild, which for a server outside the cache is a GET /guilds/{id} more.
            try:
                listed = await self.client.http.get_all_guild_channels(guild_id)
            except (discord.Forbidden, discord.NotFound):
                raise PermanentFailure(
                    f"the bot is not in the Discord server {guild_id}") from None
            named = [c for c in listed if c.get("type") == discord.ChannelType.text.value
                     and str(c.get("name", "")).lower() == name.lower()]
            if not named:
                return None
            channel_id = int(named[0]["id"])
        try:
            fetched = await self.client.fetch_channel(channel_id)
        except discord.NotFound:
            return None
        if not isinstance(fetched, discord.abc.GuildChannel | discord.Thread) \
                or fetched.guild.id != guild_id:
            return None  # a channel of another server (or a DM) is not this server's
        return fetched

    # -- private intro threads -----------------------------------------------------------------

    async def _open_space(self, community: str, key: str, members: Sequence[MemberAddress],
                          title: str, parent_channel: str | None) -> str:
        if not parent_channel:
            raise PermanentFailure(
                "no intros channel is set, and private intro threads live there: organizers "
                "can set one with `settings set intros_channel <channel>`"
            )
        parent = await self._channel(community, parent_channel)
        thread = await self._find_space(parent, key)
        if thread is None:
            thread = await parent.create_thread(
                name=space_name(title, key), type=discord.ChannelType.private_thread,
                invitable=False, auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
            log.info("opened private thread %s for %s in #%s", thread.id, key, parent.name)
        self._spaces[key] = thread.id
        for member in members:
            await self._add(thread, member)
        return str(thread.id)

    async def _find_space(self, parent: discord.TextChannel, key: str) -> discord.Thread | None:
        """The thread opened for ``key`` before (in this process, or found by its name among
        the server's active threads after a restart, or when another instance opened it)."""
        known = self._spaces.get(key)
        suffix = f" · {key}"
        if self.client.get_guild(parent.guild.id) is not None:
            threads = parent.threads  # the gateway keeps this shard's servers' threads
        else:
            threads = [t for t in await parent.guild.active_threads()
                       if t.parent_id == parent.id]
        for thread in threads:
            if thread.id == known or thread.name.endswith(suffix):
                return thread
        if known is not None:
            fetched = await self.client.fetch_channel(known)
            if isinstance(fetched, discord.Thread):
                return fetched
        return None

    async def _add(self, thread: discord.Thread, member: MemberAddress) -> None:
        if not member.platform_user_id.isdigit():
            log.warning("cannot add %r to thread %s: not a Discord id", member.platform_user_id,
                        thread.id)
            return
        try:
            await thread.add_user(discord.Object(int(member.platform_user_id)))
        except discord.NotFound:
            log.warning("member %s is not in the server any more: not added to thread %s",
                        member.platform_user_id, thread.id)

    def _check_volume(self) -> None:
        if self.watch.too_many:
            raise RateLimited(
                PAUSE_SECONDS,
                f"paused: {self.watch.recent()} invalid requests to Discord in 10 minutes",
                scope=HoldScope.EVERYTHING,
            )


@contextmanager
def translated(destination: Destination | None) -> Iterator[None]:
    """discord.py's errors as the core's delivery errors."""
    forget_429_scope()
    try:
        yield
    except DeliveryError:
        raise
    except discord.RateLimited as error:
        scope = HoldScope.EVERYTHING if last_429_scope() == "global" else HoldScope.DESTINATION
        raise RateLimited(error.retry_after, f"Discord rate limit for {error.retry_after:.0f}s",
                          scope=scope) from None
    except discord.HTTPException as error:
        raise _delivery_error(error, destination) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        raise TemporaryFailure(f"cannot reach Discord: {type(error).__name__}") from None


def _delivery_error(error: discord.HTTPException, destination: Destination | None) -> Exception:
    said = f"Discord {error.status} {error.code}: {shorten(error.text or '', 200)}".strip()
    to_member = isinstance(destination, DirectMessage)
    if to_member and (error.code in DMS_CLOSED or error.code in UNKNOWN_USER):
        assert isinstance(destination, DirectMessage)
        return RecipientUnreachable(
            f"{destination.member.display_name} does not accept direct messages ({said})")
    if error.status == 429:  # without rate-limit headers: a ban by Cloudflare, stop for a while
        return RateLimited(PAUSE_SECONDS * 10, said, scope=HoldScope.EVERYTHING)
    if error.status >= 500 or error.status == 401:
        return TemporaryFailure(said)
    return PermanentFailure(said)
