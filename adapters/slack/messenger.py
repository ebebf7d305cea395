"""The core's ``Messenger`` port on Slack: nudges, private spaces, and files, exactly once.

Slack has no idempotency key, so every nudge carries one in its message ``metadata``
(``event_type: mentorbot_nudge``, the key in the payload) and :meth:`SlackMessenger.find_sent`
looks for it in the conversation's history (``include_all_metadata``) before the engine sends
anything whose fate is unknown: from the earliest moment it can have been sent (the engine's
``since``), at most ``lookback`` (7 days) back. A message with a calendar invite is sent file
first, tagged message last, so "found" means all of it arrived. If the process dies in
between, the retry finds the file already shared (its name carries a short tag of the key) and
posts only the message: the person sees one invite and one message.

Nudges never use slack_sdk's automatic retries (this client has none): a 429 goes back to the
engine with its Retry-After, and a time-out is a :class:`~bot.ports.TemporaryFailure` the
engine retries after asking ``find_sent``. Messages are paced to about one a second per
channel (:mod:`adapters.slack.pacing`), never by sleeping.

Direct messages go through ``conversations.open``; an intro's private space is the group DM of
both members (``conversations.open`` with both ids), which Slack keeps one per set of people:
opening it again after a restart returns the same conversation, so a space is never doubled.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

from slack_sdk.models.metadata import Metadata
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.delivery import as_delivery_error
from adapters.slack.pacing import Pacer
from adapters.slack.render import Post, posts
from bot.messages import Attachment, MemberAddress, Message
from bot.ports import (
    ChannelPost,
    Delivered,
    DeliveryError,
    Destination,
    DirectMessage,
    PermanentFailure,
    SpacePost,
)

log = logging.getLogger(__name__)

NUDGE_EVENT = "mentorbot_nudge"
HISTORY_PAGE = 200
HISTORY_PAGES_MAX = 25
DEFAULT_LOOKBACK = timedelta(days=7)


def file_tag(key: str) -> str:
    """A short, stable tag of an idempotency key, carried in an uploaded file's name."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def tagged_filename(filename: str, key: str | None) -> str:
    """``session-12.ics`` → ``session-12-1a2b3c4d.ics`` for a nudge; unchanged otherwise."""
    if not key:
        return filename
    path = PurePosixPath(filename or "invite.ics")
    return f"{path.stem}-{file_tag(key)}{path.suffix}"


class SlackMessenger:
    """Sends the core's messages to Slack. ``client`` must have no retry handlers."""

    platform = "slack"

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        pacer: Pacer | None = None,
        lookback: timedelta = DEFAULT_LOOKBACK,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.pacer = pacer or Pacer()
        self.lookback = lookback
        self.wall_clock = wall_clock
        self._dm_channels: dict[str, str] = {}

    # -- the port ----------------------------------------------------------------------------

    async def send(
        self,
        community_external_id: str,
        destination: Destination,
        message: Message,
        idempotency_key: str,
    ) -> Delivered:
        private = isinstance(destination, DirectMessage)
        channel = await self.channel_of(destination)
        self.pacer.take(channel)
        try:
            ts = await self.post(channel, message, key=idempotency_key)
        except Exception as exc:
            if isinstance(destination, DirectMessage):
                self._dm_channels.pop(destination.member.platform_user_id, None)
            raise _failure(exc, private) from exc
        return Delivered(f"{channel}:{ts}")

    async def find_sent(
        self, community_external_id: str, destination: Destination, idempotency_key: str,
        *, since: datetime | None = None,
    ) -> Delivered | None:
        channel = await self.channel_of(destination)
        try:
            async for message in self._history(channel, since):
                if _tagged(message, idempotency_key):
                    return Delivered(f"{channel}:{message.get('ts')}")
        except Exception as exc:
            raise _failure(exc, isinstance(destination, DirectMessage)) from exc
        return None

    async def open_space(
        self,
        community_external_id: str,
        key: str,
        members: Sequence[MemberAddress],
        title: str,
        parent_channel: str | None,
    ) -> str:
        users = sorted({m.platform_user_id for m in members})
        if not 2 <= len(users) <= 8:
            raise PermanentFailure(f"a Slack group DM holds 2 to 8 people, not {len(users)}")
        try:
            answer = await self.client.conversations_open(users=",".join(users))
        except Exception as exc:
            raise as_delivery_error(exc, method="conversations.open", private=False) from exc
        channel = answer["channel"]["id"]
        log.info("private space for %s is %s", key, channel)
        return str(channel)

    # -- what replies to a person use too --------------------------------------------------------

    async def channel_of(self, destination: Destination) -> str:
        """The Slack conversation id of a destination (a DM is opened once, then remembered)."""
        if isinstance(destination, ChannelPost):
            return destination.channel
        if isinstance(destination, SpacePost):
            return destination.space_ref
        return await self.dm_channel(destination.member.platform_user_id)

    async def dm_channel(self, user_id: str) -> str:
        known = self._dm_channels.get(user_id)
        if known is not None:
            return known
        try:
            answer = await self.client.conversations_open(users=user_id)
        except Exception as exc:
            raise as_delivery_error(exc, method="conversations.open", private=True) from exc
        channel = str(answer["channel"]["id"])
        self._dm_channels[user_id] = channel
        return channel

    async def post(self, channel: str, message: Message, *, key: str | None = None) -> str:
        """Files first, then the text (tagged with ``key`` on its last part); the last ts."""
        for attachment in message.attachments:
            await self._upload(channel, attachment, key)
        rendered = posts([message]) or [
            Post(" ".join(a.filename for a in message.attachments) or "(mentorbot)", [])
        ]  # a message of files only still needs a line to carry the tag
        ts = ""
        for i, part in enumerate(rendered):
            last = i == len(rendered) - 1
            metadata = (
                Metadata(event_type=NUDGE_EVENT, event_payload={"key": key})
                if key and last else None
            )
            answer = await _call(
                "chat.postMessage",
                self.client.chat_postMessage(
                    channel=channel, text=part.text, blocks=part.blocks or None,
                    metadata=metadata, unfurl_links=False, unfurl_media=False,
                ),
            )
            ts = str(answer.get("ts") or "")
        return ts

    # -- helpers -----------------------------------------------------------------------------

    async def _upload(self, channel: str, attachment: Attachment, key: str | None) -> None:
        filename = tagged_filename(attachment.filename, key)
        if key and await self._already_shared(channel, filename):
            log.info("%s is already in %s (an interrupted send): not uploading it again",
                     filename, channel)
            return
        await _call("files.completeUploadExternal", self.client.files_upload_v2(
            channel=channel, content=attachment.data, filename=filename,
            title=attachment.filename or filename,
        ))

    async def _already_shared(self, channel: str, filename: str) -> bool:
        async for message in self._history(channel):
            for shared in message.get("files") or []:
                if isinstance(shared, dict) and shared.get("name") == filename:
                    return True
        return False

    async def _history(
        self, channel: str, since: datetime | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The conversation's messages since ``since`` (never further back than the lookback),
        newest first, with metadata."""
        oldest_seconds = self.wall_clock() - self.lookback.total_seconds()
        if since is not None:
            oldest_seconds = max(oldest_seconds, since.timestamp())
        oldest = f"{Decimal(oldest_seconds):.6f}"
        cursor: str | None = None
        for _ in range(HISTORY_PAGES_MAX):
            answer = await _call("conversations.history", self.client.conversations_history(
                channel=channel, oldest=oldest, limit=HISTORY_PAGE, include_all_metadata=True,
                cursor=cursor,
            ))
            for message in answer.get("messages") or []:
                if isinstance(message, dict):
                    yield message
            cursor = (answer.get("response_metadata") or {}).get("next_cursor") or None
            if not answer.get("has_more") or not cursor:
                return


class _CallFailed(Exception):
    """Remembers which Web API method failed, for the error's wording."""

    def __init__(self, method: str, cause: BaseException) -> None:
        super().__init__(method)
        self.method = method
        self.cause = cause


async def _call(method: str, pending: Any) -> Any:
    try:
        return await pending
    except Exception as exc:
        raise _CallFailed(method, exc) from exc


def _failure(exc: BaseException, private: bool) -> DeliveryError:
    if isinstance(exc, _CallFailed):
        return as_delivery_error(exc.cause, method=exc.method, private=private)
    return as_delivery_error(exc, method="chat.postMessage", private=private)


def _tagged(message: dict[str, Any], key: str) -> bool:
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != NUDGE_EVENT:
        return False
    payload = metadata.get("event_payload")
    return isinstance(payload, dict) and payload.get("key") == key
