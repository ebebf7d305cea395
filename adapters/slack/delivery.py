"""Slack's answers as the delivery errors the nudge engine understands.

The engine decides what to do (wait, retry, fall back, give up and tell organizers); this
module only says which kind of trouble Slack reported:

* 429 (``ratelimited``) → :class:`RateLimited` with Retry-After. Slack limits
  ``chat.postMessage`` per channel, every other method per workspace: the hold is that wide.
* ``cannot_dm_bot``, ``user_not_found``, ``user_disabled``, ``account_inactive``,
  ``channel_not_found``, ``not_in_channel``, ``is_archived`` → :class:`RecipientUnreachable`
  for a private message (the engine falls back to a mention), :class:`PermanentFailure` for a
  channel or space. Never retried.
* 5xx, time-outs, dropped connections, and a refused bot token (which an operator fixes) →
  :class:`TemporaryFailure`: tried again with back-off.
* anything else Slack refuses (a malformed request) → :class:`PermanentFailure`.

Messages name Slack's error code and method only: they are stored and shown to organizers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.ports import (
    DeliveryError,
    HoldScope,
    PermanentFailure,
    RateLimited,
    RecipientUnreachable,
    TemporaryFailure,
)

log = logging.getLogger(__name__)

UNREACHABLE = frozenset({
    "cannot_dm_bot", "user_not_found", "user_disabled", "account_inactive",
    "channel_not_found", "not_in_channel", "is_archived", "messages_tab_disabled",
})
TEMPORARY = frozenset({
    "fatal_error", "internal_error", "service_unavailable", "request_timeout",
    "token_revoked", "invalid_auth", "not_authed", "token_expired",
})
PER_CHANNEL = frozenset({"chat.postMessage", "chat.update"})
DEFAULT_RETRY_AFTER = 1.0


def retry_after(headers: Mapping[str, Any] | None) -> float:
    """Seconds from a Retry-After header (any case), or one second."""
    for key, value in (headers or {}).items():
        if str(key).lower() == "retry-after":
            try:
                return max(float(value), 0.0)
            except (TypeError, ValueError):
                break
    return DEFAULT_RETRY_AFTER


def error_code(exc: SlackApiError) -> str:
    error = exc.response.get("error") if exc.response is not None else None
    return str(error or f"http_{exc.response.status_code}")


def as_delivery_error(exc: BaseException, *, method: str, private: bool) -> DeliveryError:
    """``exc`` (raised by slack_sdk while calling ``method``) as the port's exception.

    ``private`` says the message was a direct message to one person.
    """
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, SlackApiError):
        code = error_code(exc)
        status = exc.response.status_code
        where = f"Slack answered {code} to {method}"
        if status == 429 or code == "ratelimited":
            scope = HoldScope.DESTINATION if method in PER_CHANNEL else HoldScope.COMMUNITY
            return RateLimited(retry_after(exc.response.headers), where, scope)
        if status >= 500 or code in TEMPORARY:
            return TemporaryFailure(where)
        if code in UNREACHABLE:
            return RecipientUnreachable(where) if private else PermanentFailure(where)
        return PermanentFailure(where)
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | OSError | SlackClientError):
        return TemporaryFailure(f"could not reach Slack for {method}: {type(exc).__name__}")
    return TemporaryFailure(f"{method} failed: {type(exc).__name__}")
