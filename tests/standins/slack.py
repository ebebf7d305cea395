"""A stand-in Slack on 127.0.0.1: the real slack-bolt / slack-sdk talk to it unchanged.

Use it in five lines (the bot under test builds ``app`` with its own listeners)::

    async with running_slack() as slack:                  # fails the test on a bad call
        app = AsyncApp(client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url))
        handler = AsyncSocketModeHandler(app, slack.app_token); await handler.connect_async()
        ack = await slack.socket.deliver(slack.payloads.slash_command("/mentor", user=ALICE))
        posted = await slack.wait_for_call("chat.postMessage")  # finally: handler.close_async()

Close the bot's handler before the stand-in (fixture order does it), or its client keeps
reconnecting to a closed port. HTTP mode: ``await slack.http.deliver(bot_url, inbound)``.

What it is: an aiohttp server inside the test's event loop (ephemeral port) that serves the Web
API at ``api_url`` (JSON, form and query arguments alike), Socket Mode (``apps.connections.open``
hands out a ``ws://`` URL; envelopes go out, acks come back), upload URLs and ``response_url``s;
plus helpers that sign and POST requests to a bot in HTTP mode (``slack.http``).

Why it is strict: every call is checked against Slack's own spec and documented limits
(``slack_spec.py``). A call Slack would refuse is answered as Slack would (``ok: false``) AND
recorded as a violation; :func:`running_slack` then fails the test at teardown unless the test
said it expected it (``slack.expect_violation(method, error)``).

What tests read: ``calls(method)``, ``messages_in(channel)``, ``dm_messages_to(user)``,
``dm_channel_of(user)``, ``ephemerals``, ``uploads``, ``views_opened``, ``homes_published``,
``response_posts``, ``violations``; and they await ``wait_for_call(...)`` instead of sleeping.
Faults on demand: ``rate_limit_next``, ``fail_next``, ``server_error_next``, ``revoke_bot_token``.

``latency`` (seconds, default 0) delays each Web API answer. About 0.05 s avoids a race in Bolt
1.30 (``slack_bolt/listener/asyncio_runner.py``): a listener that acks and then raises within
~10 ms gets a 404 "unhandled request" after 3 s. Set it when a test hangs for 3 s.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from tests.standins.slack_spec import (
    Problem,
    SlackWebSpec,
    check_blocks,
    check_message_body,
    check_view,
    decode_args,
    messages_of,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
JSON = dict[str, Any]

# ---------------------------------------------------------------------------------------------
# The default workspace: realistic ids (the spec's patterns reject short ones like C123).
# ---------------------------------------------------------------------------------------------

TEAM_ID = "T0TEAM0001"
TEAM_NAME = "Mentorbot Community"
TEAM_DOMAIN = "mentorbot-community"
APP_ID = "A0MENTORBT"
BOT_ID = "B0MENTORBT"
BOT_USER = "U0MENTORBT"
ALICE = "U0ALICE001"
BOB = "U0BOB00001"
CAROL = "U0CAROL001"  # workspace admin and owner
DAVE = "U0DAVE0001"  # deactivated
HELPER_BOT = "U0HELPBOT1"  # another app's bot user: Slack refuses DMs to it (cannot_dm_bot)
GENERAL = "C0GENERAL1"
MENTORS = "C0MENTORS1"
RANDOM = "C0RANDOM01"  # the bot is not a member: posting answers not_in_channel
ORGANIZERS = "S0ORGANIZE"  # a user group

#: A fixed "created"/"updated" stamp for canned objects (2025-12-01).
_CREATED = 1764547200


@dataclass(frozen=True)
class SlackUser:
    """A workspace member as ``users.info`` describes them. ``tz_offset`` is computed from
    ``tz`` at the stand-in's clock when left ``None`` (so DST is right)."""

    id: str
    name: str
    real_name: str
    display_name: str = ""
    tz: str = "Europe/London"
    tz_offset: int | None = None
    is_admin: bool = False
    is_owner: bool = False
    is_bot: bool = False
    deleted: bool = False
    email: str | None = None


@dataclass(frozen=True)
class SlackChannel:
    """A channel the workspace starts with."""

    id: str
    name: str
    is_private: bool = False
    bot_is_member: bool = True
    is_archived: bool = False
    is_general: bool = False
    members: tuple[str, ...] = ()


def default_users() -> list[SlackUser]:
    return [
        SlackUser(
            ALICE, "alice", "Alice Adeyemi", "Alice", "Europe/Berlin", email="alice@example.org"
        ),
        SlackUser(BOB, "bob", "Bob Brennan", "bob.b", "America/New_York", email="bob@example.org"),
        SlackUser(
            CAROL,
            "carol",
            "Carol Chen",
            "Carol (organizer)",
            "Asia/Singapore",
            is_admin=True,
            is_owner=True,
            email="carol@example.org",
        ),
        SlackUser(DAVE, "dave", "Dave Dlamini", "Dave", "Africa/Johannesburg", deleted=True),
        SlackUser(HELPER_BOT, "helperbot", "Helper Bot", "", "America/Los_Angeles", is_bot=True),
    ]


def default_channels() -> list[SlackChannel]:
    everyone = (ALICE, BOB, CAROL, BOT_USER)
    return [
        SlackChannel(GENERAL, "general", is_general=True, members=everyone),
        SlackChannel(MENTORS, "mentors", members=everyone),
        SlackChannel(RANDOM, "random", bot_is_member=False, members=(ALICE, BOB)),
    ]


def default_usergroups() -> dict[str, tuple[str, ...]]:
    return {ORGANIZERS: (CAROL,)}


# ---------------------------------------------------------------------------------------------
# What the stand-in records.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiCall:
    """One Web API call as it reached the stand-in, and the answer it got.

    ``args`` merges query, form and JSON arguments (JSON-valued ones decoded), without the
    token; ``headers`` has the Authorization value redacted; ``token_kind`` is ``xoxb``,
    ``xapp``, ``xoxp`` or ``None``. ``encoding`` says how the arguments came (``json``,
    ``form``, ``query``, joined by ``+``). ``at`` is ``time.monotonic()``.
    """

    method: str
    http_method: str
    encoding: str
    token_kind: str | None
    headers: Mapping[str, str]
    args: Mapping[str, Any]
    status: int
    answer: Mapping[str, Any]
    at: float
    violations: tuple[str, ...] = ()
    fault: str | None = None

    @property
    def ok(self) -> bool:
        return self.answer.get("ok") is True

    @property
    def error(self) -> str | None:
        error = self.answer.get("error")
        return error if isinstance(error, str) else None


@dataclass(frozen=True)
class Violation:
    """A request Slack would refuse (``kind="request"``), a reply the bot gave Slack that
    breaks Slack's rules (``"reply"``), or a stand-in answer that departs from Slack's response
    schema (``"answer"``: a defect of the stand-in's canned data)."""

    source: str
    error: str
    messages: tuple[str, ...]
    kind: Literal["request", "reply", "answer"]
    at: float

    def describe(self) -> str:
        return f"{self.source} [{self.kind}] {self.error}: " + "; ".join(self.messages)


@dataclass(frozen=True)
class SlackMessage:
    """A message as stored in a conversation (oldest first in ``messages_in``)."""

    channel: str
    ts: str
    text: str
    user: str
    bot_id: str | None = None
    blocks: list[JSON] | None = None
    metadata: JSON | None = None
    thread_ts: str | None = None
    reply_broadcast: bool = False
    files: list[JSON] | None = None
    edited_ts: str | None = None

    @property
    def by_bot(self) -> bool:
        return self.bot_id is not None

    def as_api(self, *, with_metadata: bool = True) -> JSON:
        out: JSON = {
            "type": "message",
            "user": self.user,
            "text": self.text,
            "ts": self.ts,
            "team": TEAM_ID,
        }
        if self.bot_id:
            out["bot_id"] = self.bot_id
        if self.blocks is not None:
            out["blocks"] = copy.deepcopy(self.blocks)
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.files:
            out["files"] = copy.deepcopy(self.files)
            out["upload"] = False
            out["display_as_bot"] = False
        if self.edited_ts:
            out["edited"] = {"user": self.user, "ts": self.edited_ts}
        if with_metadata and self.metadata is not None:
            out["metadata"] = copy.deepcopy(self.metadata)
        return out


@dataclass(frozen=True)
class EphemeralMessage:
    channel: str
    user: str
    ts: str
    text: str
    blocks: list[JSON] | None = None


@dataclass(frozen=True)
class Upload:
    """A file the bot uploaded (files.getUploadURLExternal → upload URL → complete)."""

    file_id: str
    filename: str
    title: str
    data: bytes
    channel_id: str | None
    initial_comment: str | None
    thread_ts: str | None
    alt_txt: str | None = None


@dataclass(frozen=True)
class OpenedView:
    """A modal the bot opened: who it was for and the view as Slack stored it."""

    view_id: str
    user: str
    trigger_id: str
    view: JSON


@dataclass(frozen=True)
class ResponsePost:
    """One POST the bot made to a ``response_url`` the stand-in handed out."""

    url: str
    body: JSON
    status: int
    at: float


@dataclass(frozen=True)
class Ack:
    """The bot's Socket Mode acknowledgement of one envelope; ``elapsed`` from send to ack."""

    envelope_id: str
    payload: JSON | None
    elapsed: float
    envelope: JSON


@dataclass(frozen=True)
class HttpReply:
    """What the bot's HTTP endpoint answered to one signed (or deliberately mis-signed) POST."""

    status: int
    text: str
    headers: Mapping[str, str]
    elapsed: float

    @property
    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


@dataclass(frozen=True)
class Inbound:
    """Something Slack sends the bot: ``kind`` is the Socket Mode envelope type
    (``slash_commands``, ``interactive``, ``events_api``); ``body`` the payload. The same value
    goes over either transport: ``slack.socket.deliver(x)`` or ``slack.http.deliver(url, x)``."""

    kind: Literal["slash_commands", "interactive", "events_api"]
    body: JSON
    accepts_response_payload: bool

    @property
    def view_id(self) -> str | None:
        view = self.body.get("view")
        return view.get("id") if isinstance(view, dict) else None


@dataclass
class Fault:
    """An injected failure: the next ``remaining`` calls to ``method`` (``"*"``: any) whose
    arguments satisfy ``when`` get ``status``/``body``/``headers`` instead of the real answer.
    ``hits`` counts how often it fired (a test can assert it did)."""

    method: str
    status: int
    body: JSON
    headers: Mapping[str, str]
    remaining: int
    when: Callable[[Mapping[str, Any]], bool] | None = None
    hits: int = 0
    label: str = ""

    def matches(self, method: str, args: Mapping[str, Any]) -> bool:
        if self.remaining <= 0 or self.method not in (method, "*"):
            return False
        return self.when is None or bool(self.when(args))


class _HasNow(Protocol):
    def now(self) -> datetime: ...


Clock = Callable[[], float] | _HasNow


def _as_seconds(clock: Clock) -> Callable[[], float]:
    now = getattr(clock, "now", None)
    if now is not None:
        return lambda: float(now().timestamp())
    return clock  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Server-side state that changes (not values: the stand-in owns and mutates them).
# ---------------------------------------------------------------------------------------------


@dataclass
class _Conversation:
    id: str
    kind: Literal["channel", "private", "im", "mpim"]
    name: str
    members: set[str]
    bot_is_member: bool = True
    is_archived: bool = False
    is_general: bool = False
    user: str | None = None
    messages: list[SlackMessage] = field(default_factory=list)


@dataclass
class _View:
    id: str
    type: str
    user: str
    view: JSON
    hash: str
    trigger_id: str | None
    root_view_id: str
    previous_view_id: str | None = None
    state: JSON = field(default_factory=lambda: {"values": {}})
    is_open: bool = True


@dataclass
class _PendingUpload:
    file_id: str
    filename: str
    length: int
    alt_txt: str | None
    data: bytes | None = None


@dataclass
class _SocketConnection:
    number: int
    ticket: str
    ws: web.WebSocketResponse
    opened_at: float
    closed_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None and not self.ws.closed


@dataclass
class _Expectation:
    method: str
    error: str | None
    remaining: int


class SlackStandin:
    """The stand-in Slack. Prefer :func:`running_slack`, which starts it, stops it and fails
    the test on violations."""

    def __init__(
        self,
        *,
        users: Iterable[SlackUser] | None = None,
        channels: Iterable[SlackChannel] | None = None,
        usergroups: Mapping[str, Sequence[str]] | None = None,
        bot_token: str = "xoxb-0000000001-standin-bot-token",
        app_token: str = "xapp-1-A0MENTORBT-0000000001-standin-app-token",
        signing_secret: str = "standin-signing-secret-0123456789abcdef",
        clock: Clock = time.time,
        signing_clock: Clock | None = None,
        latency: float = 0.0,
        trigger_lifetime: float = 3.0,
    ) -> None:
        self.spec = SlackWebSpec.load()
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.latency = latency
        self.trigger_lifetime = trigger_lifetime
        self.now = _as_seconds(clock)
        self.signing_now = _as_seconds(signing_clock) if signing_clock else self.now
        self.team_id = TEAM_ID
        self.bot_user_id = BOT_USER
        self.bot_id = BOT_ID
        self.app_id = APP_ID

        self.users: dict[str, SlackUser] = {}
        bot = SlackUser(
            BOT_USER, "mentorbot", "Mentorbot", "Mentorbot", "America/Los_Angeles", is_bot=True
        )
        for user in [bot, *(default_users() if users is None else users)]:
            self.users[user.id] = user
        self._conversations: dict[str, _Conversation] = {}
        for channel in default_channels() if channels is None else channels:
            self.add_channel(channel)
        self.usergroups = {
            k: tuple(v)
            for k, v in (default_usergroups() if usergroups is None else usergroups).items()
        }

        self._calls: list[ApiCall] = []
        self._violations: list[Violation] = []
        self._handled_violations = 0
        self._expectations: list[_Expectation] = []
        self._faults: list[Fault] = []
        self._revoked: str | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._last_ts = Decimal(0)
        self._counter = 0
        self._rng = random.Random(20251201)
        self._mpims: dict[frozenset[str], str] = {}
        self._views: dict[str, _View] = {}
        self._homes: dict[str, str] = {}  # user -> view id
        self._triggers: dict[str, tuple[str, float, bool]] = {}  # id -> (user, issued, used)
        self._response_urls: dict[str, tuple[float, int]] = {}  # url -> (issued, uses)
        self._uploads_pending: dict[str, _PendingUpload] = {}
        self._tickets: dict[str, bool] = {}  # ticket -> used
        self.ephemerals: list[EphemeralMessage] = []
        self.deleted_messages: list[SlackMessage] = []
        self.uploads: list[Upload] = []
        self.views_opened: list[OpenedView] = []
        self.response_posts: list[ResponsePost] = []

        self.payloads = SlackPayloads(self)
        self.socket = SocketModeSide(self)
        self.http = HttpModeSide(self)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link/", self.socket._accept)
        app.router.add_post("/upload/v1/{file_id}/{secret}", self._upload)
        app.router.add_post("/commands/{team}/{n}/{secret}", self._response_url)
        app.router.add_post("/actions/{team}/{n}/{secret}", self._response_url)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.http._session = aiohttp.ClientSession()
        log.debug("stand-in Slack listening on %s", self.base_url)

    async def close(self) -> None:
        await self.socket._close_all()
        if self.http._session is not None:
            await self.http._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """``base_url`` for ``AsyncWebClient`` (with the trailing slash slack_sdk needs)."""
        return f"{self.base_url}/api/"

    # -- workspace ---------------------------------------------------------------------------

    def add_user(self, user: SlackUser) -> None:
        self.users[user.id] = user

    def add_channel(self, channel: SlackChannel) -> None:
        self._conversations[channel.id] = _Conversation(
            id=channel.id,
            kind="private" if channel.is_private else "channel",
            name=channel.name,
            members=set(channel.members) | ({BOT_USER} if channel.bot_is_member else set()),
            bot_is_member=channel.bot_is_member,
            is_archived=channel.is_archived,
            is_general=channel.is_general,
        )

    def user_name(self, user_id: str) -> str:
        user = self.users.get(user_id)
        return user.name if user else user_id.lower()

    # -- queries for tests -------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[ApiCall]:
        return [c for c in self._calls if method is None or c.method == method]

    def messages_in(self, channel: str) -> list[SlackMessage]:
        conversation = self._conversations.get(channel)
        return list(conversation.messages) if conversation else []

    def dm_channel_of(self, user: str) -> str | None:
        """The DM the bot has with ``user``, once opened (conversations.open or a post)."""
        dm = self._dm_id(user)
        return dm if dm in self._conversations else None

    def group_dm_of(self, users: Iterable[str]) -> str | None:
        return self._mpims.get(frozenset(users) | {BOT_USER})

    def dm_messages_to(self, user: str) -> list[SlackMessage]:
        """What the bot posted in its DM with ``user`` (the user's own messages left out)."""
        dm = self.dm_channel_of(user)
        return [m for m in self.messages_in(dm) if m.by_bot] if dm else []

    def view(self, view_id: str) -> JSON:
        """A view as Slack holds it now (after updates), in API form."""
        return self._view_api(self._views[view_id])

    @property
    def homes_published(self) -> dict[str, JSON]:
        """The Home tab each user sees now, by user id."""
        return {user: self._view_api(self._views[vid]) for user, vid in self._homes.items()}

    @property
    def violations(self) -> list[Violation]:
        return list(self._violations)

    def take_violations(self) -> list[Violation]:
        """The violations not yet taken; taking them means the test handled them."""
        taken = self._violations[self._handled_violations :]
        self._handled_violations = len(self._violations)
        return taken

    def expect_violation(self, source: str, error: str | None = None, count: int = 1) -> None:
        """Declare that the test provokes ``count`` violations from ``source`` (optionally with
        this ``error``); teardown fails if they do not happen, as well as on any other.

        ``source`` is the Web API method (``chat.postMessage``), ``upload``, ``response_url``,
        or ``"<Socket Mode|HTTP> reply to <type>"`` for what the bot answered to a delivery."""
        self._expectations.append(_Expectation(source, error, count))

    def unexpected_violations(self) -> list[str]:
        """What teardown reports: violations nobody expected or took, expectations unmet."""
        remaining = [_Expectation(e.method, e.error, e.remaining) for e in self._expectations]
        report = []
        for violation in self._violations[self._handled_violations :]:
            for expectation in remaining:
                if (
                    expectation.remaining > 0
                    and expectation.method == violation.source
                    and expectation.error in (None, violation.error)
                ):
                    expectation.remaining -= 1
                    break
            else:
                report.append(violation.describe())
        for expectation in remaining:
            if expectation.remaining > 0:
                report.append(
                    f"expected {expectation.remaining} more violation(s) on "
                    f"{expectation.method} ({expectation.error or 'any error'})"
                )
        return report

    def assert_clean(self) -> None:
        report = self.unexpected_violations()
        if report:
            raise AssertionError(
                "the stand-in Slack saw traffic Slack would refuse:\n  " + "\n  ".join(report)
            )

    async def wait_for_call(
        self,
        method: str,
        *,
        where: Callable[[ApiCall], bool] | None = None,
        count: int = 1,
        timeout: float = 5.0,
    ) -> ApiCall:
        """The ``count``-th recorded call to ``method`` matching ``where`` (already recorded or
        still to come): await it instead of sleeping."""

        def found() -> ApiCall | None:
            hits = [c for c in self.calls(method) if where is None or where(c)]
            return hits[count - 1] if len(hits) >= count else None

        return await self.wait_until(found, timeout, f"call #{count} to {method}")

    async def wait_for_response_post(self, count: int = 1, timeout: float = 5.0) -> ResponsePost:
        def found() -> ResponsePost | None:
            return self.response_posts[count - 1] if len(self.response_posts) >= count else None

        return await self.wait_until(found, timeout, f"response_url post #{count}")

    async def wait_until(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        """Waits (bounded) until ``check()`` returns something; wakes on every recorded event."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = ", ".join(c.method for c in self._calls[-12:]) or "nothing"
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; last calls: {seen}"
                )
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- faults ------------------------------------------------------------------------------

    def rate_limit_next(
        self,
        method: str,
        *,
        retry_after: int = 1,
        times: int = 1,
        when: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> Fault:
        """HTTP 429 with ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``."""
        return self._add_fault(
            Fault(
                method,
                429,
                {"ok": False, "error": "ratelimited"},
                {"Retry-After": str(retry_after)},
                times,
                when,
                label=f"429 Retry-After {retry_after}",
            )
        )

    def fail_next(
        self,
        method: str,
        error: str,
        *,
        times: int = 1,
        when: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> Fault:
        """HTTP 200 ``{"ok": false, "error": error}`` (cannot_dm_bot, user_not_found,
        account_inactive, channel_not_found, not_in_channel, ratelimited...)."""
        return self._add_fault(
            Fault(
                method,
                200,
                {"ok": False, "error": error},
                {},
                times,
                when,
                label=f"ok:false {error}",
            )
        )

    def server_error_next(
        self,
        method: str,
        *,
        status: int = 500,
        times: int = 1,
        when: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> Fault:
        """HTTP 500/503 with Slack's error body (``fatal_error`` / ``service_unavailable``)."""
        error = "service_unavailable" if status == 503 else "fatal_error"
        return self._add_fault(
            Fault(
                method,
                status,
                {"ok": False, "error": error},
                {},
                times,
                when,
                label=f"HTTP {status}",
            )
        )

    def revoke_bot_token(
        self, error: Literal["token_revoked", "invalid_auth"] = "token_revoked"
    ) -> None:
        """From now on every call with the bot token answers ``error`` (uninstalled app)."""
        self._revoked = error

    def _add_fault(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    # -- the Web API ---------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        raw, encoding, read_problems = await _read_args(request)
        token = _bearer(request) or raw.pop("token", None)
        raw.pop("token", None)
        token_kind = _token_kind(token)
        args, problems = decode_args(raw)
        problems = read_problems + problems
        if self.latency:
            await asyncio.sleep(self.latency)  # simulated network latency, see module docstring
        problems += self.spec.check_request(method, args, token_kind=token_kind)
        fault_label = None
        status, headers = 200, {}
        if problems:
            answer = _problem_answer(problems)
            self._violate(method, problems[0].error, messages_of(problems), "request")
        elif (token_kind == "xapp" and token != self.app_token) or (
            token_kind != "xapp" and token != self.bot_token
        ):
            answer = {"ok": False, "error": "invalid_auth"}
        elif self._revoked and token_kind != "xapp":
            answer = {"ok": False, "error": self._revoked}
        elif (fault := self._take_fault(method, args)) is not None:
            status, answer, headers, fault_label = (
                fault.status,
                dict(fault.body),
                dict(fault.headers),
                fault.label,
            )
        else:
            answer = self._serve(method, args)
        if fault_label is None:
            answer_problems = self.spec.check_answer(method, answer)
            if answer_problems:
                self._violate(method, "answer_schema", answer_problems, "answer")
        call = ApiCall(
            method=method,
            http_method=request.method,
            encoding=encoding,
            token_kind=token_kind,
            headers=_redacted(request.headers),
            args=args,
            status=status,
            answer=answer,
            at=time.monotonic(),
            violations=tuple(messages_of(problems)),
            fault=fault_label,
        )
        self._calls.append(call)
        log.debug("%s %s -> %s %s", method, args, status, answer)
        self._notify()
        return web.json_response(answer, status=status, headers=headers)

    def _violate(
        self,
        source: str,
        error: str,
        messages: Iterable[str],
        kind: Literal["request", "reply", "answer"],
    ) -> None:
        violation = Violation(source, error, tuple(messages), kind, time.monotonic())
        log.warning("Slack stand-in violation: %s", violation.describe())
        self._violations.append(violation)

    def _take_fault(self, method: str, args: Mapping[str, Any]) -> Fault | None:
        for fault in self._faults:
            if fault.matches(method, args):
                fault.remaining -= 1
                fault.hits += 1
                return fault
        return None

    def _serve(self, method: str, args: Mapping[str, Any]) -> JSON:
        handler = _HANDLERS.get(method)
        if handler is None:
            # A real Slack method this stand-in does not serve yet: fail loudly, not silently.
            self._violate(
                method,
                "standin_not_implemented",
                [f"the stand-in does not serve {method}; add it to tests/standins/slack.py"],
                "answer",
            )
            return {"ok": False, "error": "standin_not_implemented"}
        return handler(self, args)

    # -- ids and time --------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A message ts from the clock, strictly increasing (Slack's ``1764590000.000100``)."""
        now = Decimal(int(self.now()))
        candidate = now + Decimal("0.000100")
        if candidate <= self._last_ts:
            candidate = self._last_ts + Decimal("0.000100")
        self._last_ts = candidate
        return f"{candidate:.6f}"

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def _random_id(self, length: int = 5) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return "".join(self._rng.choice(alphabet) for _ in range(length))

    def _dm_id(self, user: str) -> str:
        return "D" + user[1:] if len(user) >= 9 else f"D0DM{abs(hash(user)) % 10**6:06d}"

    def _ensure_dm(self, user: str) -> _Conversation:
        dm = self._dm_id(user)
        if dm not in self._conversations:
            self._conversations[dm] = _Conversation(dm, "im", "", {user, BOT_USER}, user=user)
        return self._conversations[dm]

    def _issue_trigger(self, user: str) -> str:
        trigger = f"{10_000_000_000 + self._next()}.{7_384_749_200}.{secrets.token_hex(16)}"
        self._triggers[trigger] = (user, self.now(), False)
        return trigger

    def _issue_response_url(self, kind: Literal["commands", "actions"]) -> str:
        number = 7_000_000_000 + self._next()
        url = f"{self.base_url}/{kind}/{TEAM_ID}/{number}/{secrets.token_hex(12)}"
        self._response_urls[url] = (self.now(), 0)
        return url

    def _assign_ids(self, blocks: Any) -> Any:
        """Slack gives every block a ``block_id`` and every interactive element an
        ``action_id`` when the app left them out; payloads then carry those."""
        blocks = copy.deepcopy(blocks)
        if not isinstance(blocks, list):
            return blocks
        for block in blocks:
            if isinstance(block, dict):
                block.setdefault("block_id", self._random_id())
                elements = (
                    list(block.get("elements") or []) if block.get("type") == "actions" else []
                )
                for key in ("accessory", "element"):
                    if isinstance(block.get(key), dict):
                        elements.append(block[key])
                for element in elements:
                    if isinstance(element, dict) and element.get("type") not in (None, "image"):
                        element.setdefault("action_id", self._random_id())
        return blocks

    # -- Web API methods (one function each, registered in _HANDLERS) ------------------------

    def _auth_test(self, args: Mapping[str, Any]) -> JSON:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": "mentorbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, args: Mapping[str, Any]) -> JSON:
        ticket = str(uuid.uuid4())
        self._tickets[ticket] = False
        return {
            "ok": True,
            "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}",
        }

    def _resolve_channel(self, channel: str) -> _Conversation | JSON:
        """A conversation by id; a user id means the bot's DM with that user (Slack allows it)."""
        if channel.startswith(("U", "W")) and channel in self.users:
            return self._ensure_dm(channel)
        conversation = self._conversations.get(channel)
        if conversation is None:
            return {"ok": False, "error": "channel_not_found"}
        if conversation.kind in ("channel", "private") and not conversation.bot_is_member:
            return {"ok": False, "error": "not_in_channel"}
        return conversation

    def _chat_post_message(self, args: Mapping[str, Any]) -> JSON:
        target = self._resolve_channel(str(args["channel"]))
        if isinstance(target, dict):
            return target
        if target.is_archived:
            return {"ok": False, "error": "is_archived"}
        message = SlackMessage(
            channel=target.id,
            ts=self.next_ts(),
            text=str(args.get("text") or ""),
            user=BOT_USER,
            bot_id=BOT_ID,
            blocks=self._assign_ids(args["blocks"]) if args.get("blocks") else None,
            metadata=copy.deepcopy(args.get("metadata")),
            thread_ts=args.get("thread_ts"),
            reply_broadcast=_truthy(args.get("reply_broadcast")),
        )
        target.messages.append(message)
        return {"ok": True, "channel": target.id, "ts": message.ts, "message": message.as_api()}

    def _chat_post_ephemeral(self, args: Mapping[str, Any]) -> JSON:
        target = self._resolve_channel(str(args["channel"]))
        if isinstance(target, dict):
            return target
        user = str(args["user"])
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        if target.kind != "im" and user not in target.members:
            return {"ok": False, "error": "user_not_in_channel"}
        ephemeral = EphemeralMessage(
            target.id,
            user,
            self.next_ts(),
            str(args.get("text") or ""),
            self._assign_ids(args.get("blocks")),
        )
        self.ephemerals.append(ephemeral)
        return {"ok": True, "message_ts": ephemeral.ts}

    def _find_message(self, args: Mapping[str, Any]) -> tuple[_Conversation, int] | JSON:
        target = self._resolve_channel(str(args["channel"]))
        if isinstance(target, dict):
            return target
        for index, message in enumerate(target.messages):
            if message.ts == str(args["ts"]):
                if not message.by_bot:
                    return {"ok": False, "error": "cant_update_message"}
                return target, index
        return {"ok": False, "error": "message_not_found"}

    def _chat_update(self, args: Mapping[str, Any]) -> JSON:
        found = self._find_message(args)
        if isinstance(found, dict):
            return found
        conversation, index = found
        old = conversation.messages[index]
        new = replace(
            old,
            text=str(args["text"]) if "text" in args else old.text,
            blocks=self._assign_ids(args["blocks"]) if "blocks" in args else old.blocks,
            metadata=copy.deepcopy(args["metadata"]) if "metadata" in args else old.metadata,
            edited_ts=self.next_ts(),
        )
        conversation.messages[index] = new
        shown: JSON = {"text": new.text}
        if new.blocks is not None:
            shown["blocks"] = copy.deepcopy(new.blocks)
        return {
            "ok": True,
            "channel": conversation.id,
            "ts": new.ts,
            "text": new.text,
            "message": shown,
        }

    def _chat_delete(self, args: Mapping[str, Any]) -> JSON:
        found = self._find_message(args)
        if isinstance(found, dict):
            return (
                {"ok": False, "error": "cant_delete_message"}
                if found.get("error") == "cant_update_message"
                else found
            )
        conversation, index = found
        self.deleted_messages.append(conversation.messages.pop(index))
        return {"ok": True, "channel": conversation.id, "ts": str(args["ts"])}

    def _conversations_open(self, args: Mapping[str, Any]) -> JSON:
        if args.get("channel"):
            conversation = self._conversations.get(str(args["channel"]))
            if conversation is None:
                return {"ok": False, "error": "channel_not_found"}
            return {
                "ok": True,
                "no_op": True,
                "already_open": True,
                "channel": self._conversation_api(conversation),
            }
        users = [u.strip() for u in str(args["users"]).split(",") if u.strip()]
        if len(users) > 8:
            return {"ok": False, "error": "too_many_users"}
        for user_id in users:
            user = self.users.get(user_id)
            if user is None:
                return {"ok": False, "error": "user_not_found"}
            if user.deleted:
                return {"ok": False, "error": "user_disabled"}
        others = [u for u in users if u != BOT_USER]
        if len(others) == 1:
            if self.users[others[0]].is_bot:
                return {"ok": False, "error": "cannot_dm_bot"}
            existed = self._dm_id(others[0]) in self._conversations
            dm = self._ensure_dm(others[0])
            answer: JSON = {
                "ok": True,
                "channel": (
                    self._conversation_api(dm) if _truthy(args.get("return_im")) else {"id": dm.id}
                ),
            }
            if existed:
                answer.update(no_op=True, already_open=True)
            return answer
        if not others:
            return {"ok": False, "error": "not_enough_users"}
        key = frozenset(others) | {BOT_USER}
        existed = key in self._mpims
        if not existed:
            mpim_id = f"G0MPIM{len(self._mpims) + 1:04d}"
            names = "--".join(sorted(self.user_name(u) for u in key))
            self._mpims[key] = mpim_id
            self._conversations[mpim_id] = _Conversation(
                mpim_id, "mpim", f"mpdm-{names}-1", set(key)
            )
        answer = {
            "ok": True,
            "channel": self._conversation_api(self._conversations[self._mpims[key]]),
        }
        if existed:
            answer.update(no_op=True, already_open=True)
        return answer

    def _conversations_history(self, args: Mapping[str, Any]) -> JSON:
        target = self._resolve_channel(str(args["channel"]))
        if isinstance(target, dict):
            return target
        inclusive = _truthy(args.get("inclusive"))
        try:
            oldest = Decimal(str(args.get("oldest") or "0"))
            latest = Decimal(str(args["latest"])) if args.get("latest") else None
        except InvalidOperation:
            return {"ok": False, "error": "invalid_ts_oldest"}

        def in_range(message: SlackMessage) -> bool:
            ts = Decimal(message.ts)
            above = ts >= oldest if inclusive else ts > oldest
            below = latest is None or (ts <= latest if inclusive else ts < latest)
            return above and below

        top_level = [m for m in target.messages if m.thread_ts in (None, m.ts) or m.reply_broadcast]
        hits = sorted(
            (m for m in top_level if in_range(m)), key=lambda m: Decimal(m.ts), reverse=True
        )
        limit = min(int(args.get("limit") or 100), 999)
        offset = _decode_cursor(args.get("cursor"))
        page = hits[offset : offset + limit]
        with_metadata = _truthy(args.get("include_all_metadata"))
        answer: JSON = {
            "ok": True,
            "messages": [m.as_api(with_metadata=with_metadata) for m in page],
            "has_more": offset + limit < len(hits),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
        if answer["has_more"]:
            answer["response_metadata"] = {"next_cursor": _encode_cursor(offset + limit)}
        return answer

    def _conversations_info(self, args: Mapping[str, Any]) -> JSON:
        conversation = self._conversations.get(str(args["channel"]))
        if conversation is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": self._conversation_api(conversation)}

    def _users_info(self, args: Mapping[str, Any]) -> JSON:
        user = self.users.get(str(args["user"]))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": self._user_api(user)}

    def _usergroups_users_list(self, args: Mapping[str, Any]) -> JSON:
        members = self.usergroups.get(str(args["usergroup"]))
        if members is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(members)}

    def _views_open(self, args: Mapping[str, Any]) -> JSON:
        trigger = str(args["trigger_id"])
        issued = self._triggers.get(trigger)
        if issued is None:
            return {"ok": False, "error": "invalid_trigger_id"}
        user, at, used = issued
        if used:
            return {"ok": False, "error": "exchanged_trigger_id"}
        if self.now() - at > self.trigger_lifetime:
            return {"ok": False, "error": "expired_trigger_id"}
        self._triggers[trigger] = (user, at, True)
        view = self._new_view(args["view"], user, trigger)
        self.views_opened.append(OpenedView(view.id, user, trigger, self._view_api(view)))
        return {"ok": True, "view": self._view_api(view)}

    def _views_update(self, args: Mapping[str, Any]) -> JSON:
        view = self._views.get(str(args.get("view_id") or ""))
        if view is None and args.get("external_id"):
            view = next(
                (
                    v
                    for v in self._views.values()
                    if v.view.get("external_id") == args["external_id"]
                ),
                None,
            )
        if view is None:
            return {"ok": False, "error": "not_found"}
        if args.get("hash") and args["hash"] != view.hash:
            return {"ok": False, "error": "hash_conflict"}
        view.view = self._stored_view(args["view"])
        view.hash = self._view_hash()
        return {"ok": True, "view": self._view_api(view)}

    def _views_publish(self, args: Mapping[str, Any]) -> JSON:
        user = str(args["user_id"])
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        existing = self._views.get(self._homes.get(user, ""))
        if existing is not None and args.get("hash") and args["hash"] != existing.hash:
            return {"ok": False, "error": "hash_conflict"}
        if existing is None:
            existing = self._new_view(args["view"], user, None)
            self._homes[user] = existing.id
        else:
            existing.view = self._stored_view(args["view"])
            existing.hash = self._view_hash()
        return {"ok": True, "view": self._view_api(existing)}

    def _files_get_upload_url_external(self, args: Mapping[str, Any]) -> JSON:
        file_id = f"F0FILE{len(self._uploads_pending) + 1:04d}"
        self._uploads_pending[file_id] = _PendingUpload(
            file_id, str(args["filename"]), int(args["length"]), args.get("alt_txt")
        )
        return {
            "ok": True,
            "file_id": file_id,
            "upload_url": f"{self.base_url}/upload/v1/{file_id}/{secrets.token_hex(8)}",
        }

    def _files_complete_upload_external(self, args: Mapping[str, Any]) -> JSON:
        files = args["files"]
        pending = []
        for entry in files:
            upload = self._uploads_pending.get(str(entry["id"]))
            if upload is None:
                return {"ok": False, "error": "file_not_found"}
            if upload.data is None:
                self._violate(
                    "files.completeUploadExternal",
                    "file_not_uploaded",
                    [f"{upload.file_id} was completed before its bytes were uploaded"],
                    "request",
                )
                return {"ok": False, "error": "file_not_found"}
            pending.append((upload, str(entry.get("title") or upload.filename)))
        channel_id = args.get("channel_id") or (
            str(args.get("channels") or "").split(",")[0] or None
        )
        target: _Conversation | None = None
        if channel_id:
            resolved = self._resolve_channel(str(channel_id))
            if isinstance(resolved, dict):
                return resolved
            target = resolved
        shared = []
        for upload, title in pending:
            assert upload.data is not None
            self.uploads.append(
                Upload(
                    upload.file_id,
                    upload.filename,
                    title,
                    upload.data,
                    target.id if target else None,
                    args.get("initial_comment"),
                    args.get("thread_ts"),
                    upload.alt_txt,
                )
            )
            shared.append(
                {
                    "id": upload.file_id,
                    "name": upload.filename,
                    "title": title,
                    "size": len(upload.data),
                    "user": BOT_USER,
                }
            )
            del self._uploads_pending[upload.file_id]
        if target is not None:
            target.messages.append(
                SlackMessage(
                    target.id,
                    self.next_ts(),
                    str(args.get("initial_comment") or ""),
                    BOT_USER,
                    BOT_ID,
                    files=shared,
                    thread_ts=args.get("thread_ts"),
                )
            )
        return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in shared]}

    # -- renderings ------------------------------------------------------------------------------

    def _conversation_api(self, c: _Conversation) -> JSON:
        if c.kind == "im":
            user = self.users.get(c.user or "")
            return {
                "id": c.id,
                "created": _CREATED,
                "is_im": True,
                "is_org_shared": False,
                "user": c.user,
                "priority": 0,
                "is_open": True,
                "is_archived": False,
                "is_user_deleted": bool(user and user.deleted),
            }
        is_mpim = c.kind == "mpim"
        out: JSON = {
            "id": c.id,
            "name": c.name,
            "name_normalized": c.name,
            "created": _CREATED,
            "creator": BOT_USER if is_mpim else CAROL,
            "is_archived": c.is_archived,
            "is_channel": c.kind == "channel",
            "is_group": c.kind == "private",
            "is_general": c.is_general,
            "is_mpim": is_mpim,
            "is_im": False,
            "is_private": c.kind != "channel",
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "is_member": c.bot_is_member,
            "unlinked": 0,
            "parent_conversation": None,
            "shared_team_ids": [TEAM_ID],
            "pending_connected_team_ids": [],
            "previous_names": [],
            "num_members": len(c.members),
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {
                "value": f"#{c.name}" if not is_mpim else "Group messaging",
                "creator": "" if is_mpim else CAROL,
                "last_set": _CREATED,
            },
        }
        if is_mpim:
            out["members"] = sorted(c.members)
        return out

    def _user_api(self, user: SlackUser) -> JSON:
        offset = user.tz_offset
        if offset is None:
            delta = (
                datetime.fromtimestamp(self.now(), UTC).astimezone(ZoneInfo(user.tz)).utcoffset()
            )
            offset = int(delta.total_seconds()) if delta is not None else 0
        first, _, last = user.real_name.partition(" ")
        profile: JSON = {
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.display_name,
            "display_name_normalized": user.display_name,
            "first_name": first,
            "last_name": last,
            "avatar_hash": "g0a1b2c3d4e5",
            "title": "",
            "phone": "",
            "skype": "",
            "status_text": "",
            "status_emoji": "",
            "status_expiration": 0,
            "fields": None,
            "team": TEAM_ID,
            "image_72": f"https://avatars.example.org/{user.id}_72.png",
        }
        if user.email:
            profile["email"] = user.email
        if user.is_bot:
            profile.update(
                bot_id=BOT_ID if user.id == BOT_USER else "B0HELPBOT1",
                api_app_id=APP_ID if user.id == BOT_USER else "A0HELPBOT1",
                always_active=True,
            )
        return {
            "id": user.id,
            "team_id": TEAM_ID,
            "name": user.name,
            "deleted": user.deleted,
            "color": "9f69e7",
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_label": user.tz,
            "tz_offset": offset,
            "profile": profile,
            "is_admin": user.is_admin,
            "is_owner": user.is_owner,
            "is_primary_owner": user.is_owner,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": _CREATED,
        }

    def _stored_view(self, view: Any) -> JSON:
        stored = copy.deepcopy(dict(view))
        stored["blocks"] = self._assign_ids(stored.get("blocks", []))
        return stored

    def _view_hash(self) -> str:
        return f"{int(self.now())}.{self._random_id(8)}"

    def _new_view(self, view: Any, user: str, trigger: str | None) -> _View:
        view_id = f"V0VIEW{len(self._views) + 1:04d}"
        stored = self._stored_view(view)
        state = _View(
            view_id,
            str(stored.get("type")),
            user,
            stored,
            self._view_hash(),
            trigger,
            root_view_id=view_id,
        )
        self._views[view_id] = state
        return state

    def _view_api(self, v: _View) -> JSON:
        out: JSON = {
            "id": v.id,
            "team_id": TEAM_ID,
            "type": v.type,
            "blocks": copy.deepcopy(v.view.get("blocks", [])),
            "private_metadata": v.view.get("private_metadata", ""),
            "callback_id": v.view.get("callback_id", ""),
            "state": copy.deepcopy(v.state),
            "hash": v.hash,
            "clear_on_close": bool(v.view.get("clear_on_close", False)),
            "notify_on_close": bool(v.view.get("notify_on_close", False)),
            "root_view_id": v.root_view_id,
            "previous_view_id": v.previous_view_id,
            "app_id": APP_ID,
            "external_id": v.view.get("external_id", ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        for key in ("title", "submit", "close"):
            if key in v.view:
                out[key] = copy.deepcopy(v.view[key])
        return out

    # -- upload URLs and response_urls -------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        upload = self._uploads_pending.get(file_id)
        if upload is None:
            return web.Response(status=404, text="file_not_found", content_type="text/plain")
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            data = b""
            async for part in reader:
                if isinstance(part, aiohttp.BodyPartReader) and part.filename is not None:
                    data = bytes(await part.read())
        else:
            data = await request.read()
        upload.data = data
        if len(data) != upload.length:
            self._violate(
                "upload",
                "length_mismatch",
                [
                    f"{file_id}: uploaded {len(data)} bytes, files.getUploadURLExternal "
                    f"declared length={upload.length}"
                ],
                "request",
            )
        self._notify()
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    async def _response_url(self, request: web.Request) -> web.StreamResponse:
        url = f"{self.base_url}{request.path}"
        issued = self._response_urls.get(url)
        try:
            body = await request.json()
        except (json.JSONDecodeError, aiohttp.ContentTypeError):
            body = {"_raw": await request.text()}
        if issued is None:
            status, reply = 404, "no_such_url"
        else:
            at, uses = issued
            self._response_urls[url] = (at, uses + 1)
            # Documented: a response_url works 5 times within 30 minutes.
            if uses >= 5:
                status, reply = 404, "used_url"
            elif self.now() - at > 30 * 60:
                status, reply = 404, "expired_url"
            else:
                status, reply = 200, ""
                problems = _response_url_problems(body)
                if problems:
                    self._violate(
                        "response_url", problems[0].error, messages_of(problems), "request"
                    )
                    status, reply = 400, problems[0].error
        self.response_posts.append(ResponsePost(url, body, status, time.monotonic()))
        self._notify()
        if status == 200:
            return web.json_response({"ok": True})
        return web.Response(status=status, text=reply, content_type="text/plain")

    # -- what the bot answered to interactions -----------------------------------------------

    def _check_reply(self, inbound: Inbound, payload: Any, transport: str) -> None:
        """Checks the bot's ack (Socket Mode) or HTTP reply body, and applies it to views
        as Slack would (``response_action`` update / push / clear / errors)."""
        if not isinstance(payload, dict) or not payload:
            if inbound.body.get("type") == "view_submission":
                self._close_view(inbound.view_id)
            return
        source = f"{transport} reply to {inbound.body.get('type') or inbound.kind}"
        problems: list[Problem] = []
        if inbound.body.get("type") == "view_submission":
            problems = self._view_submission_reply(inbound, payload)
        elif inbound.kind == "slash_commands":
            unknown = set(payload) - {
                "text",
                "blocks",
                "attachments",
                "response_type",
                "mrkdwn",
                "thread_ts",
                "metadata",
            }
            if unknown:
                problems.append(
                    Problem(
                        "invalid_arguments",
                        f"[ERROR] unknown fields {sorted(unknown)} in the reply",
                    )
                )
            if payload.get("response_type") not in (None, "in_channel", "ephemeral"):
                problems.append(
                    Problem(
                        "invalid_arguments", "[ERROR] response_type must be in_channel or ephemeral"
                    )
                )
            problems += check_message_body(payload, needs_content=False)
        if problems:
            self._violate(source, problems[0].error, messages_of(problems), "reply")

    def _view_submission_reply(self, inbound: Inbound, payload: JSON) -> list[Problem]:
        action = payload.get("response_action")
        view_id = inbound.view_id
        view = self._views.get(view_id or "")
        if action == "errors":
            errors = payload.get("errors")
            if not isinstance(errors, dict) or not errors:
                return [Problem("invalid_arguments", "[ERROR] errors must be a non-empty object")]
            input_ids = {
                b.get("block_id")
                for b in (view.view.get("blocks", []) if view else [])
                if isinstance(b, dict) and b.get("type") == "input"
            }
            wrong = sorted(k for k in errors if k not in input_ids)
            if wrong:
                return [
                    Problem(
                        "invalid_arguments",
                        f"[ERROR] errors name {wrong}, which are not input block_ids "
                        f"of the submitted view ({sorted(map(str, input_ids))})",
                    )
                ]
            return []
        if action in ("update", "push"):
            problems = check_view(payload.get("view"), expected_type="modal")
            if not problems and view is not None:
                if action == "update":
                    view.view = self._stored_view(payload["view"])
                    view.hash = self._view_hash()
                else:
                    pushed = self._new_view(payload["view"], view.user, None)
                    pushed.root_view_id, pushed.previous_view_id = view.root_view_id, view.id
            return problems
        if action == "clear":
            for other in self._views.values():
                if view is not None and other.root_view_id == view.root_view_id:
                    other.is_open = False
            return []
        return [
            Problem(
                "invalid_arguments",
                f"[ERROR] unknown response_action {action!r} (errors, update, push, clear)",
            )
        ]

    def _close_view(self, view_id: str | None) -> None:
        if view_id in self._views:
            self._views[view_id].is_open = False


_HANDLERS: dict[str, Callable[[SlackStandin, Mapping[str, Any]], JSON]] = {
    "auth.test": SlackStandin._auth_test,
    "apps.connections.open": SlackStandin._apps_connections_open,
    "chat.postMessage": SlackStandin._chat_post_message,
    "chat.postEphemeral": SlackStandin._chat_post_ephemeral,
    "chat.update": SlackStandin._chat_update,
    "chat.delete": SlackStandin._chat_delete,
    "conversations.open": SlackStandin._conversations_open,
    "conversations.history": SlackStandin._conversations_history,
    "conversations.info": SlackStandin._conversations_info,
    "users.info": SlackStandin._users_info,
    "usergroups.users.list": SlackStandin._usergroups_users_list,
    "views.open": SlackStandin._views_open,
    "views.update": SlackStandin._views_update,
    "views.publish": SlackStandin._views_publish,
    "files.getUploadURLExternal": SlackStandin._files_get_upload_url_external,
    "files.completeUploadExternal": SlackStandin._files_complete_upload_external,
}


# ---------------------------------------------------------------------------------------------
# What Slack sends the bot (shapes from Slack's docs and slack-bolt's own scenario tests).
# ---------------------------------------------------------------------------------------------


class SlackPayloads:
    """Builds realistic inbound payloads from the stand-in's state: trigger ids and response
    URLs it will honour, and clicks only on elements the bot really sent."""

    def __init__(self, standin: SlackStandin) -> None:
        self._s = standin

    def _user(self, user_id: str) -> JSON:
        return {
            "id": user_id,
            "username": self._s.user_name(user_id),
            "name": self._s.user_name(user_id),
            "team_id": TEAM_ID,
        }

    def _channel_name(self, channel: str) -> str:
        conversation = self._s._conversations.get(channel)
        if conversation is None or conversation.kind == "im":
            return "directmessage"
        return conversation.name

    def slash_command(
        self, command: str, text: str = "", *, user: str, channel: str = GENERAL
    ) -> Inbound:
        """``/mentor find rust`` typed by ``user`` in ``channel`` (a D... id for a DM)."""
        body = {
            "token": "standin-verification-token",
            "team_id": TEAM_ID,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel,
            "channel_name": self._channel_name(channel),
            "user_id": user,
            "user_name": self._s.user_name(user),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self._s._issue_response_url("commands"),
            "trigger_id": self._s._issue_trigger(user),
        }
        return Inbound("slash_commands", body, accepts_response_payload=True)

    def block_action(
        self,
        action_id: str,
        *,
        user: str,
        message: SlackMessage | EphemeralMessage | None = None,
        view_id: str | None = None,
        selected: str | None = None,
    ) -> Inbound:
        """``user`` clicks (or picks ``selected`` in) the element ``action_id`` of a message
        (ephemeral or not) or a view the bot sent. Raises ValueError when the bot sent no such
        element, so a test cannot click a button the bot never showed."""
        if (message is None) == (view_id is None):
            raise ValueError("give exactly one of message= or view_id=")
        if message is not None:
            blocks = message.blocks or []
            where = f"message {message.ts} in {message.channel}"
        else:
            view = self._s._views[str(view_id)]
            blocks = view.view.get("blocks", [])
            where = f"view {view_id}"
        block, element = _find_element(blocks, action_id, where)
        action = _action_of(block, element, selected, self._s.next_ts())
        body: JSON = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": "standin-verification-token",
            "trigger_id": self._s._issue_trigger(user),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "actions": [action],
        }
        if message is not None:
            ephemeral = isinstance(message, EphemeralMessage)
            body.update(
                container={
                    "type": "message",
                    "message_ts": message.ts,
                    "channel_id": message.channel,
                    "is_ephemeral": ephemeral,
                },
                channel={"id": message.channel, "name": self._channel_name(message.channel)},
                state={"values": {}},
                response_url=self._s._issue_response_url("actions"),
            )
            if isinstance(message, SlackMessage):  # Slack leaves ephemeral messages out
                body["message"] = message.as_api(with_metadata=False)
        else:
            view = self._s._views[str(view_id)]
            body.update(
                container={"type": "view", "view_id": view.id}, view=self._s._view_api(view)
            )
        return Inbound("interactive", body, accepts_response_payload=False)

    def view_submission(
        self,
        view_id: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
        user: str | None = None,
    ) -> Inbound:
        """``user`` (default: whoever the modal was opened for) submits the modal.

        ``inputs`` maps an input's ``action_id`` to what the person entered (a string, or for
        multi-selects a list of option values); ``values`` is Slack's raw ``state.values``."""
        view = self._s._views[view_id]
        view.state = {
            "values": dict(values)
            if values is not None
            else _state_values(view.view.get("blocks", []), inputs or {})
        }
        body: JSON = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "user": self._user(user or view.user),
            "api_app_id": APP_ID,
            "token": "standin-verification-token",
            "trigger_id": self._s._issue_trigger(user or view.user),
            "view": self._s._view_api(view),
            "response_urls": [],
            "enterprise": None,
            "is_enterprise_install": False,
        }
        return Inbound("interactive", body, accepts_response_payload=True)

    def view_closed(self, view_id: str, *, user: str | None = None) -> Inbound:
        """The person closes the modal. Slack sends this only for ``notify_on_close`` views."""
        view = self._s._views[view_id]
        if not view.view.get("notify_on_close"):
            raise ValueError(
                f"Slack sends view_closed only for views opened with "
                f"notify_on_close=true; {view_id} was not"
            )
        view.is_open = False
        body = {
            "type": "view_closed",
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "user": self._user(user or view.user),
            "api_app_id": APP_ID,
            "token": "standin-verification-token",
            "view": self._s._view_api(view),
            "is_cleared": False,
            "enterprise": None,
            "is_enterprise_install": False,
        }
        return Inbound("interactive", body, accepts_response_payload=False)

    def event(self, event: JSON, *, event_id: str | None = None) -> Inbound:
        """Any Events API event wrapped as Slack wraps it (``event_callback``)."""
        body = {
            "token": "standin-verification-token",
            "team_id": TEAM_ID,
            "context_team_id": TEAM_ID,
            "context_enterprise_id": None,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev0{self._s._next():08X}",
            "event_time": int(self._s.now()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{secrets.token_urlsafe(24)}",
        }
        return Inbound("events_api", body, accepts_response_payload=False)

    def app_home_opened(self, user: str, *, tab: Literal["home", "messages"] = "home") -> Inbound:
        dm = self._s._ensure_dm(user)
        event: JSON = {
            "type": "app_home_opened",
            "user": user,
            "channel": dm.id,
            "tab": tab,
            "event_ts": self._s.next_ts(),
        }
        home = self._s._homes.get(user)
        if tab == "home" and home is not None:
            event["view"] = self._s._view_api(self._s._views[home])
        return self.event(event)

    def message_im(self, user: str, text: str) -> Inbound:
        """``user`` writes ``text`` in their DM with the bot (stored in the DM's history)."""
        dm = self._s._ensure_dm(user)
        ts = self._s.next_ts()
        blocks = [
            {
                "type": "rich_text",
                "block_id": self._s._random_id(),
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
                ],
            }
        ]
        dm.messages.append(SlackMessage(dm.id, ts, text, user, blocks=blocks))
        event = {
            "client_msg_id": str(uuid.uuid4()),
            "type": "message",
            "text": text,
            "user": user,
            "ts": ts,
            "blocks": blocks,
            "team": TEAM_ID,
            "channel": dm.id,
            "event_ts": ts,
            "channel_type": "im",
        }
        return self.event(event)

    def url_verification(self) -> JSON:
        """The challenge Slack POSTs when an Events API URL is configured (HTTP mode only)."""
        return {
            "token": "standin-verification-token",
            "challenge": secrets.token_urlsafe(32),
            "type": "url_verification",
        }


def _find_element(blocks: Sequence[Any], action_id: str, where: str) -> tuple[JSON, JSON]:
    seen = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        candidates = list(block.get("elements") or []) if block.get("type") == "actions" else []
        candidates += [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
        for element in candidates:
            if isinstance(element, dict) and "action_id" in element:
                seen.append(element["action_id"])
                if element["action_id"] == action_id:
                    return block, element
    raise ValueError(
        f"the bot's {where} has no element with action_id {action_id!r}; it has {seen}"
    )


def _options_of(element: JSON) -> list[JSON]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    return options


def _pick(element: JSON, value: str) -> JSON:
    for option in _options_of(element):
        if option.get("value") == value:
            return copy.deepcopy(option)
    raise ValueError(f"{element.get('action_id')!r} has no option with value {value!r}")


def _action_of(block: JSON, element: JSON, selected: str | None, action_ts: str) -> JSON:
    kind = element.get("type")
    action: JSON = {
        "type": kind,
        "action_id": element["action_id"],
        "block_id": block.get("block_id"),
        "action_ts": action_ts,
    }
    if kind == "button":
        action["text"] = copy.deepcopy(element.get("text"))
        if "value" in element:
            action["value"] = element["value"]
        if "style" in element:
            action["style"] = element["style"]
    elif kind in ("static_select", "overflow", "radio_buttons"):
        if selected is None:
            raise ValueError(f"pass selected= (an option value) to pick in {kind}")
        action["selected_option"] = _pick(element, selected)
    elif kind in ("users_select", "conversations_select", "channels_select"):
        key = {
            "users_select": "selected_user",
            "conversations_select": "selected_conversation",
            "channels_select": "selected_channel",
        }[kind]
        action[key] = selected
    elif kind == "datepicker":
        action["selected_date"] = selected
    elif kind == "timepicker":
        action["selected_time"] = selected
    elif selected is not None:
        action["value"] = selected
    return action


def _state_values(blocks: Sequence[Any], inputs: Mapping[str, Any]) -> JSON:
    """Slack's ``view.state.values`` for what a person entered, from the view's own inputs."""
    values: JSON = {}
    left = dict(inputs)
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") not in ("input", "actions", "section"):
            continue
        elements = [block["element"]] if isinstance(block.get("element"), dict) else []
        elements += [e for e in block.get("elements") or [] if isinstance(e, dict)]
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            action_id, kind = element.get("action_id"), element.get("type")
            if action_id is None or kind == "button":
                continue
            entered = left.pop(action_id, None)
            state: JSON = {"type": kind}
            if kind in ("plain_text_input", "number_input", "email_text_input", "url_text_input"):
                state["value"] = entered
            elif kind in ("static_select", "radio_buttons"):
                state["selected_option"] = _pick(element, entered) if entered is not None else None
            elif kind in ("multi_static_select", "checkboxes"):
                state["selected_options"] = [_pick(element, v) for v in entered or []]
            elif kind == "users_select":
                state["selected_user"] = entered
            elif kind == "multi_users_select":
                state["selected_users"] = list(entered or [])
            elif kind in ("conversations_select", "channels_select"):
                state[
                    "selected_conversation"
                    if kind == "conversations_select"
                    else "selected_channel"
                ] = entered
            elif kind == "datepicker":
                state["selected_date"] = entered
            elif kind == "timepicker":
                state["selected_time"] = entered
            else:
                state["value"] = entered
            values.setdefault(str(block.get("block_id")), {})[action_id] = state
    if left:
        raise ValueError(f"the view has no inputs named {sorted(left)}")
    return values


# ---------------------------------------------------------------------------------------------
# Socket Mode.
# ---------------------------------------------------------------------------------------------


class SocketModeSide:
    """The Socket Mode server: accepts the websocket, says hello, sends envelopes, reads acks."""

    def __init__(self, standin: SlackStandin) -> None:
        self._s = standin
        self.connections: list[_SocketConnection] = []
        self.acks: list[Ack] = []
        self.stray_messages: list[str] = []
        self._pending: dict[str, asyncio.Future[JSON]] = {}

    @property
    def current(self) -> _SocketConnection | None:
        return next((c for c in reversed(self.connections) if c.is_open), None)

    async def wait_connected(self, count: int = 1, timeout: float = 5.0) -> int:
        """Waits until the bot has opened ``count`` connections (the latest still open);
        returns how many it opened."""

        def ready() -> int | None:
            return (
                len(self.connections) if len(self.connections) >= count and self.current else None
            )

        return await self._s.wait_until(ready, timeout, f"Socket Mode connection #{count}")

    async def deliver(
        self,
        inbound: Inbound,
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = 5.0,
    ) -> Ack:
        """Sends ``inbound`` in an envelope and returns the bot's ack. An ``events_api``
        retry carries ``retry_attempt``/``retry_reason`` (Slack uses ``timeout``). Waits (within
        ``timeout``) for the bot's connection, so it can follow ``connect_async()`` directly."""
        connection = await self._s.wait_until(
            lambda: self.current, timeout, "an open Socket Mode connection (is the bot connected?)"
        )
        envelope: JSON = {
            "envelope_id": str(uuid.uuid4()),
            "payload": inbound.body,
            "type": inbound.kind,
            "accepts_response_payload": inbound.accepts_response_payload,
        }
        if inbound.kind == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        future: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        self._pending[envelope["envelope_id"]] = future
        started = time.monotonic()
        await connection.ws.send_str(json.dumps(envelope))
        try:
            reply = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise AssertionError(
                f"the bot did not ack envelope {envelope['envelope_id']} "
                f"({inbound.kind}) within {timeout}s"
            ) from None
        finally:
            self._pending.pop(envelope["envelope_id"], None)
        ack = Ack(
            envelope["envelope_id"], reply.get("payload"), time.monotonic() - started, envelope
        )
        self.acks.append(ack)
        self._s._check_reply(inbound, ack.payload, "Socket Mode")
        return ack

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's ``disconnect`` message: the client must reconnect via apps.connections.open."""
        connection = self.current
        if connection is None:
            raise AssertionError("no Socket Mode connection is open")
        await connection.ws.send_str(
            json.dumps(
                {
                    "type": "disconnect",
                    "reason": reason,
                    "debug_info": {"host": "applink-standin-1"},
                }
            )
        )

    async def refresh(self, timeout: float = 5.0) -> int:
        """``disconnect(refresh_requested)`` and wait for the bot's new connection."""
        before = len(self.connections)
        await self.disconnect("refresh_requested")
        return await self.wait_connected(before + 1, timeout)

    async def _accept(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if self._s._tickets.get(ticket) is not False:
            return web.Response(
                status=401, text="invalid or used ticket: call apps.connections.open"
            )
        self._s._tickets[ticket] = True
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        connection = _SocketConnection(len(self.connections) + 1, ticket, ws, time.monotonic())
        self.connections.append(connection)
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": sum(c.is_open for c in self.connections),
                    "debug_info": {
                        "host": "applink-standin-1",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": APP_ID},
                }
            )
        )
        self._s._notify()
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self._on_text(message.data)
        finally:
            connection.closed_at = time.monotonic()
            self._s._notify()
        return ws

    def _on_text(self, data: str) -> None:
        try:
            message = json.loads(data)
        except json.JSONDecodeError:
            message = None
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        future = self._pending.get(str(envelope_id))
        if future is None or future.done():
            self.stray_messages.append(data)
            return
        future.set_result(message)

    async def _close_all(self) -> None:
        for connection in self.connections:
            if not connection.ws.closed:
                await connection.ws.close()


# ---------------------------------------------------------------------------------------------
# HTTP mode: signed POSTs to the bot's endpoint.
# ---------------------------------------------------------------------------------------------

Signing = Literal["valid", "wrong_secret", "stale", "future", "missing", "tampered"]

#: Slack refuses (and Bolt rejects) requests whose timestamp is more than 5 minutes off.
STALE_SECONDS = 6 * 60


class HttpModeSide:
    """Slack's side of HTTP mode: signs like Slack (``v0=`` HMAC-SHA256 of
    ``v0:{timestamp}:{body}``) and POSTs to the bot's URL; ``signing`` picks a deliberate flaw."""

    def __init__(self, standin: SlackStandin) -> None:
        self._s = standin
        self._session: aiohttp.ClientSession | None = None

    def signature(self, timestamp: int, body: bytes, secret: str | None = None) -> str:
        key = (secret or self._s.signing_secret).encode()
        base = b"v0:" + str(timestamp).encode() + b":" + body
        return "v0=" + hmac.new(key, base, hashlib.sha256).hexdigest()

    def encode(self, inbound: Inbound) -> tuple[bytes, str]:
        """The body and content type Slack uses for this kind of request."""
        if inbound.kind == "slash_commands":
            return urlencode(inbound.body).encode(), "application/x-www-form-urlencoded"
        if inbound.kind == "interactive":
            return (
                urlencode({"payload": json.dumps(inbound.body)}).encode(),
                "application/x-www-form-urlencoded",
            )
        return json.dumps(inbound.body).encode(), "application/json"

    async def deliver(
        self,
        url: str,
        inbound: Inbound,
        *,
        signing: Signing = "valid",
        retry_num: int | None = None,
        retry_reason: str | None = None,
        timeout: float = 5.0,
    ) -> HttpReply:
        """POSTs ``inbound`` to the bot; an Events API retry carries ``X-Slack-Retry-Num`` and
        ``X-Slack-Retry-Reason`` (Slack uses ``http_timeout``, ``http_error``...)."""
        body, content_type = self.encode(inbound)
        headers = {}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        reply = await self.post(
            url, body, content_type, signing=signing, headers=headers, timeout=timeout
        )
        if reply.status == 200 and signing == "valid":
            try:
                parsed = reply.json
            except json.JSONDecodeError:
                parsed = {"text": reply.text}
            self._s._check_reply(inbound, parsed, "HTTP")
        return reply

    async def post(
        self,
        url: str,
        body: bytes,
        content_type: str,
        *,
        signing: Signing = "valid",
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
    ) -> HttpReply:
        """A raw signed POST (for bodies the builders do not make)."""
        assert self._session is not None, "the stand-in is not started"
        now = int(self._s.signing_now())
        timestamp = {"stale": now - STALE_SECONDS, "future": now + STALE_SECONDS}.get(signing, now)
        signed_body = body
        sent_body = body + b"&x=1" if signing == "tampered" else body
        secret = "not-" + self._s.signing_secret if signing == "wrong_secret" else None
        all_headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **(headers or {}),
        }
        if signing != "missing":
            all_headers["X-Slack-Request-Timestamp"] = str(timestamp)
            all_headers["X-Slack-Signature"] = self.signature(timestamp, signed_body, secret)
        started = time.monotonic()
        async with self._session.post(
            url, data=sent_body, headers=all_headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            text = await response.text()
            return HttpReply(
                response.status, text, dict(response.headers), time.monotonic() - started
            )


# ---------------------------------------------------------------------------------------------
# Helpers.
# ---------------------------------------------------------------------------------------------


async def _read_args(request: web.Request) -> tuple[dict[str, Any], str, list[Problem]]:
    """Query, form and JSON arguments merged, as Slack accepts all three."""
    args: dict[str, Any] = dict(request.query)
    parts = ["query"] if args else []
    problems: list[Problem] = []
    if request.body_exists:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except json.JSONDecodeError:
                body = None
            if not isinstance(body, dict):
                problems.append(Problem("invalid_json", "[ERROR] the JSON body is not an object"))
            else:
                args.update(body)
                parts.append("json")
        else:
            form = await request.post()
            if form:
                args.update({k: v for k, v in form.items() if isinstance(v, str)})
                parts.append("form")
    return args, "+".join(parts) or "none", problems


def _bearer(request: web.Request) -> str | None:
    value = request.headers.get("Authorization", "")
    return value[7:].strip() or None if value.startswith("Bearer ") else None


def _token_kind(token: str | None) -> str | None:
    if not token:
        return None
    prefix = token.split("-", 1)[0]
    return prefix if prefix in ("xoxb", "xoxp", "xapp", "xoxe") else "unknown"


def _redacted(headers: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for key, value in headers.items():
        if key.lower() == "authorization":
            kind = _token_kind(value[7:]) if value.startswith("Bearer ") else "unknown"
            value = f"Bearer {kind}-<redacted>"
        out[key] = value
    return out


def _problem_answer(problems: Sequence[Problem]) -> JSON:
    return {
        "ok": False,
        "error": problems[0].error,
        "response_metadata": {"messages": messages_of(problems)},
    }


def _truthy(value: Any) -> bool:
    return value is True or value in ("true", "1", 1)


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: Any) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(str(cursor)).decode().split(":", 1)[1])
    except (ValueError, IndexError):
        return 0


def _response_url_problems(body: Any) -> list[Problem]:
    """What a response_url accepts (docs: interactivity/handling-user-interaction)."""
    if not isinstance(body, dict):
        return [Problem("invalid_payload", "[ERROR] the body must be a JSON object")]
    known = {
        "text",
        "blocks",
        "attachments",
        "response_type",
        "replace_original",
        "delete_original",
        "thread_ts",
        "mrkdwn",
        "metadata",
        "unfurl_links",
        "unfurl_media",
    }
    unknown = sorted(set(body) - known)
    problems = [Problem("invalid_payload", f"[ERROR] unknown fields {unknown}")] if unknown else []
    if body.get("response_type") not in (None, "in_channel", "ephemeral"):
        problems.append(
            Problem("invalid_payload", "[ERROR] response_type must be in_channel or ephemeral")
        )
    problems += check_message_body(body, needs_content=not body.get("delete_original"))
    return problems


@asynccontextmanager
async def running_slack(**options: Any) -> AsyncIterator[SlackStandin]:
    """Starts a :class:`SlackStandin` (``options`` go to its constructor), yields it, stops it,
    and then fails the test if Slack would have refused anything the bot sent, unless the test
    declared it (``expect_violation``) or took it (``take_violations``). A test that already
    failed keeps its own error."""
    standin = SlackStandin(**options)
    await standin.start()
    try:
        yield standin
    finally:
        await standin.close()
    standin.assert_clean()


__all__ = [
    "ALICE",
    "APP_ID",
    "BOB",
    "BOT_ID",
    "BOT_USER",
    "CAROL",
    "DAVE",
    "GENERAL",
    "HELPER_BOT",
    "MENTORS",
    "ORGANIZERS",
    "RANDOM",
    "TEAM_ID",
    "Ack",
    "ApiCall",
    "EphemeralMessage",
    "Fault",
    "HttpModeSide",
    "HttpReply",
    "Inbound",
    "OpenedView",
    "ResponsePost",
    "SlackChannel",
    "SlackMessage",
    "SlackPayloads",
    "SlackStandin",
    "SlackUser",
    "SocketModeSide",
    "Upload",
    "Violation",
    "check_blocks",
    "check_view",
    "default_channels",
    "default_usergroups",
    "default_users",
    "running_slack",
]
