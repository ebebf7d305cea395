"""A stand-in Discord for tests: the real discord.py client talks to it over real HTTP and a real
gateway websocket on 127.0.0.1, and it records and checks everything the bot sent.

Use it in 5 lines::

    async with running_discord() as discord_standin:          # points discord.py at it
        client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.01)
        await client.login(discord_standin.token)              # login, then connect (not start)
        task = asyncio.create_task(client.connect())
        await client.wait_until_ready()                       # READY + GUILD_CREATE seen
        ...                                         # at the end: await client.close(); await task

then drive it (``await discord_standin.slash("find", {"topic": "rust"}, user="alice")`` returns
a handle whose ``await handle.reply()`` is the bot's interaction callback) and assert on what
it recorded (``discord_standin.dms_to("alice")``, ``discord_standin.messages_in("intros")``).
Close the client before the ``async with`` ends. On exit the stand-in fails the test
(``AssertionError``) if any request broke Discord's spec or documented limits, unless the test
said it expected that with ``with discord_standin.expect_violation("content"):``.

What it is:

* REST under ``/api/v10`` for the routes a bot uses (gateway, users, application, commands,
  interaction callbacks, follow-up webhooks, DMs, messages JSON and multipart, history, edits,
  channels, private threads and their members, a guild's channels, active threads, members and
  roles). Other routes answer 404 with a JSON body and count as violations ("not a Discord
  route", or "a Discord route the stand-in does not serve yet": extend it). JSON answers carry
  ``Content-Type: application/json`` exactly (discord.py reads anything else as text).
* The gateway (``tests/standins/discord_gateway.py``): HELLO, heartbeats, IDENTIFY, READY,
  GUILD_CREATE, dispatches with sequence numbers, RESUME with replay, RECONNECT, INVALID_SESSION.
* Checks (``tests/standins/discord_spec.py``): every request against Discord's OpenAPI spec plus
  the limits the spec does not enforce; a failing request answers 400 ``{"code": 50035,
  "message": "Invalid Form Body", "errors": {...}}`` and is recorded as a violation. The
  stand-in's own answers are checked against the spec's response schemas too.
* Discord's rules that decide whether a bot works: a second response to an interaction is 400
  code 40060; a first response more than 3 s after dispatch (measured on the injectable
  ``clock``) is 404 code 10062; follow-ups need an acknowledged interaction and a token younger
  than 15 minutes; ``nonce`` + ``enforce_nonce`` returns the already-created message within
  ``nonce_window`` seconds; DMs to members who closed them are 403 code 50007.
* Faults on demand: ``discord_standin.inject(Fault.rate_limited(0.01), method="POST",
  route="/channels/{channel_id}/messages")`` answers the next matching request(s) with 429 (with
  ``Via`` and ``retry_after`` so discord.py waits and retries), 403 50007/50001, 404 10003,
  500/503; ``latency`` delays every answer.

Faithful on purpose: Discord does NOT return ``nonce`` in message history (``GET
/channels/{id}/messages``), only in the create answer and MESSAGE_CREATE. Code that must find
out after a crash whether a message went out needs a marker it can read back from history (for
example in an embed footer or a component custom id), not the nonce.

The default world (:func:`default_world`): the bot "Mentorbot", guild "Mentor Circle" owned by
olivia (role Organizers), members alice (Mentors), bob and carol, text channels general, intros
and mentors. Users and channels can be named by id or by name in every helper.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, web

from tests.standins import discord_spec as spec
from tests.standins.discord_gateway import (
    ATTACHMENT,
    CHANNEL,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    MENTIONABLE,
    PRIVILEGED_INTENTS,
    ROLE,
    USER,
    DiscordGateway,
    command_data,
    component_data,
    find_component,
    interaction_payload,
    modal_submit_data,
)
from tests.standins.discord_spec import Problem

log = logging.getLogger(__name__)

DISCORD_EPOCH_MS = 1_420_070_400_000
INTERACTION_DEADLINE = 3.0
WEBHOOK_TOKEN_LIFETIME = 15 * 60.0
EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Permission bits (https://discord.com/developers/docs/topics/permissions)
ADD_REACTIONS = 1 << 6
MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1
MEMBER_PERMISSIONS = (
    ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | CREATE_PRIVATE_THREADS
    | SEND_MESSAGES_IN_THREADS
)
BOT_PERMISSIONS = MEMBER_PERMISSIONS | MANAGE_THREADS | MANAGE_MESSAGES

# ============================================================================================
# The world the stand-in starts with
# ============================================================================================

TOKEN = "MTE4NzQwMDAwMDAwMDAwMDAwMQ.GstandIn.discord-stand-in-bot-token-0001"
APPLICATION_ID = "1187400000000000001"  # the bot user has the application's id, as on Discord
GUILD_ID = "1187400000000000100"
GENERAL_ID = "1187400000000000201"
INTROS_ID = "1187400000000000202"
MENTORS_ID = "1187400000000000203"
ORGANIZERS_ROLE_ID = "1187400000000000301"
MENTORS_ROLE_ID = "1187400000000000302"
BOT_ROLE_ID = "1187400000000000303"
OLIVIA_ID = "1187400000000000401"
ALICE_ID = "1187400000000000402"
BOB_ID = "1187400000000000403"
CAROL_ID = "1187400000000000404"


@dataclass(frozen=True)
class SeedUser:
    id: str
    username: str
    global_name: str | None = None
    bot: bool = False


@dataclass(frozen=True)
class SeedRole:
    id: str
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False
    mentionable: bool = False
    bot_id: str | None = None


@dataclass(frozen=True)
class SeedChannel:
    id: str
    name: str
    type: int = 0  # 0 text, 2 voice, 4 category, 5 announcement, 15 forum
    topic: str | None = None
    position: int = 0
    parent_id: str | None = None


@dataclass(frozen=True)
class SeedMember:
    user_id: str
    roles: tuple[str, ...] = ()
    nick: str | None = None
    joined_at: str = "2025-01-15T10:00:00.000000+00:00"


@dataclass(frozen=True)
class SeedGuild:
    id: str
    name: str
    owner_id: str
    channels: tuple[SeedChannel, ...]
    roles: tuple[SeedRole, ...]
    members: tuple[SeedMember, ...]


@dataclass(frozen=True)
class World:
    """Who and what exists when the stand-in starts. The bot is ``users[0]``-independent:
    ``bot`` is the application's bot user (same id as the application)."""

    token: str
    application_id: str
    application_name: str
    bot: SeedUser
    owner: SeedUser
    users: tuple[SeedUser, ...]
    guilds: tuple[SeedGuild, ...]


def default_world() -> World:
    bot = SeedUser(APPLICATION_ID, "Mentorbot", None, bot=True)
    olivia = SeedUser(OLIVIA_ID, "olivia", "Olivia")
    users = (
        olivia,
        SeedUser(ALICE_ID, "alice", "Alice"),
        SeedUser(BOB_ID, "bob", "Bob"),
        SeedUser(CAROL_ID, "carol", "Carol"),
    )
    guild = SeedGuild(
        id=GUILD_ID,
        name="Mentor Circle",
        owner_id=OLIVIA_ID,
        channels=(
            SeedChannel(GENERAL_ID, "general", topic="Say hi", position=0),
            SeedChannel(INTROS_ID, "intros", topic="Mentor introductions", position=1),
            SeedChannel(MENTORS_ID, "mentors", topic="For mentors", position=2),
        ),
        roles=(
            SeedRole(GUILD_ID, "@everyone", MEMBER_PERMISSIONS, 0),
            SeedRole(
                ORGANIZERS_ROLE_ID,
                "Organizers",
                MEMBER_PERMISSIONS | MANAGE_GUILD,
                3,
                mentionable=True,
            ),
            SeedRole(MENTORS_ROLE_ID, "Mentors", MEMBER_PERMISSIONS, 2, mentionable=True),
            SeedRole(
                BOT_ROLE_ID, "Mentorbot", BOT_PERMISSIONS, 1, managed=True, bot_id=APPLICATION_ID
            ),
        ),
        members=(
            SeedMember(APPLICATION_ID, (BOT_ROLE_ID,)),
            SeedMember(OLIVIA_ID, (ORGANIZERS_ROLE_ID,)),
            SeedMember(ALICE_ID, (MENTORS_ROLE_ID,)),
            SeedMember(BOB_ID),
            SeedMember(CAROL_ID),
        ),
    )
    return World(
        token=TOKEN,
        application_id=APPLICATION_ID,
        application_name="Mentorbot",
        bot=bot,
        owner=olivia,
        users=(bot, *users),
        guilds=(guild,),
    )


# ============================================================================================
# Records
# ============================================================================================


@dataclass(frozen=True)
class RecordedFile:
    field: str  # "files[0]"
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class RecordedRequest:
    """One REST request and the stand-in's answer. Headers never hold the token."""

    seq: int
    at: float
    method: str
    path: str  # under /api/v10
    route: str | None  # the spec's template, e.g. "/channels/{channel_id}/messages"
    params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any
    files: tuple[RecordedFile, ...]
    status: int
    answer: Any
    problems: tuple[Problem, ...] = ()
    fault: str | None = None


@dataclass(frozen=True)
class Violation:
    """A request (or gateway frame, or stand-in answer) Discord would not have accepted."""

    at: float
    where: str  # "POST /channels/{channel_id}/messages", "gateway op 2", "answer to GET ..."
    problems: tuple[Problem, ...]
    status: int  # the HTTP status or gateway close code the bot got

    @property
    def text(self) -> str:
        return f"{self.where} -> {self.status}: " + "; ".join(str(p) for p in self.problems)


@dataclass(frozen=True)
class InteractionReply:
    """The bot's answer to an interaction (``POST .../callback``) and what Discord said back."""

    type: int | None  # callback type: 4 message, 5 deferred, 6 deferred update, 7 update, 8, 9
    data: Any
    status: int  # 200/204 accepted; 400 code 40060 already acknowledged; 404 10062 too late
    code: int | None  # Discord's error code when refused
    elapsed: float  # clock seconds from dispatch to the callback's arrival
    with_response: bool
    files: tuple[RecordedFile, ...] = ()

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    @property
    def flags(self) -> int:
        return int((self.data or {}).get("flags") or 0) if isinstance(self.data, dict) else 0

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)


@dataclass
class StoredAttachment:
    id: str
    filename: str
    content_type: str
    data: bytes
    description: str | None = None

    def payload(self, channel_id: str) -> dict[str, Any]:
        url = f"https://cdn.discordapp.com/attachments/{channel_id}/{self.id}/{self.filename}"
        result: dict[str, Any] = {
            "id": self.id,
            "filename": self.filename,
            "size": len(self.data),
            "url": url,
            "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
            "content_type": self.content_type,
        }
        if self.description is not None:
            result["description"] = self.description
        return result


_MENTION_USER = re.compile(r"<@!?(\d+)>")
_MENTION_ROLE = re.compile(r"<@&(\d+)>")


@dataclass
class StoredMessage:
    """A message as the stand-in holds it (live state: read it, don't change it)."""

    id: str
    channel_id: str
    guild_id: str | None
    author_id: str
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    attachments: list[StoredAttachment] = field(default_factory=list)
    allowed_mentions: dict[str, Any] | None = None
    allowed_mentions_sent: bool = False  # absent means Discord's default: ping everything
    nonce: str | int | None = None
    enforce_nonce: bool = False
    tts: bool = False
    type: int = 0
    created_at: float = 0.0  # on the stand-in's clock
    edited: int = 0
    edited_timestamp: str | None = None
    deleted: bool = False
    in_history: bool = True  # False for ephemeral interaction messages
    interaction_id: str | None = None
    webhook_id: str | None = None
    message_reference: dict[str, Any] | None = None

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def custom_ids(self) -> list[str]:
        found: list[str] = []

        def walk(items: Sequence[Any]) -> None:
            for item in items:
                if isinstance(item, dict):
                    if isinstance(item.get("custom_id"), str):
                        found.append(item["custom_id"])
                    for key in ("components", "accessory", "component"):
                        nested = item.get(key)
                        walk([nested] if isinstance(nested, dict) else nested or [])

        walk(self.components)
        return found

    def _allowed(self) -> dict[str, Any]:
        if not self.allowed_mentions_sent or self.allowed_mentions is None:
            return {"parse": ["users", "roles", "everyone"]}
        return self.allowed_mentions

    @property
    def pinged_user_ids(self) -> frozenset[str]:
        """Users this message notifies: mentioned in content AND allowed by allowed_mentions."""
        allowed = self._allowed()
        mentioned = set(_MENTION_USER.findall(self.content))
        if "users" in (allowed.get("parse") or []):
            return frozenset(mentioned)
        return frozenset(mentioned & {str(u) for u in allowed.get("users") or []})

    @property
    def pinged_role_ids(self) -> frozenset[str]:
        allowed = self._allowed()
        mentioned = set(_MENTION_ROLE.findall(self.content))
        if "roles" in (allowed.get("parse") or []):
            return frozenset(mentioned)
        return frozenset(mentioned & {str(r) for r in allowed.get("roles") or []})

    @property
    def pings_everyone(self) -> bool:
        """True when the message would notify @everyone/@here (Discord's default when
        allowed_mentions is absent: the reliability notes' warning)."""
        said = "@everyone" in self.content or "@here" in self.content
        return said and "everyone" in (self._allowed().get("parse") or [])


@dataclass
class ThreadState:
    id: str
    parent_id: str
    guild_id: str
    name: str
    type: int
    owner_id: str
    invitable: bool
    auto_archive_duration: int
    created_at: str
    members: dict[str, str] = field(default_factory=dict)  # user id -> join timestamp


# ============================================================================================
# Faults
# ============================================================================================


def _error_body(code: int, message: str) -> dict[str, Any]:
    return {"message": message, "code": code}


@dataclass(frozen=True)
class Fault:
    """A canned answer for the next matching request(s): see :meth:`DiscordStandIn.inject`."""

    status: int
    body: Mapping[str, Any] | None
    headers: Mapping[str, str] = field(default_factory=dict)
    name: str = "fault"
    delay: float = 0.0

    @staticmethod
    def rate_limited(retry_after: float = 0.01, *, global_: bool = False) -> Fault:
        """429 as Discord sends it: JSON ``retry_after`` + ``Retry-After`` + ``Via`` (without
        ``Via`` discord.py takes it for a Cloudflare ban and does not retry)."""
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": global_,
            "code": 0,
        }
        headers = {
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Scope": "global" if global_ else "user",
            "X-RateLimit-Bucket": "standin-bucket",
            "Via": "1.1 google",
        }
        if global_:
            headers["X-RateLimit-Global"] = "true"
        return Fault(429, body, headers, name=f"429 retry_after={retry_after}")

    @staticmethod
    def cannot_dm() -> Fault:
        return Fault(403, _error_body(50007, "Cannot send messages to this user"), name="403 50007")

    @staticmethod
    def missing_access() -> Fault:
        return Fault(403, _error_body(50001, "Missing Access"), name="403 50001")

    @staticmethod
    def missing_permissions() -> Fault:
        return Fault(403, _error_body(50013, "Missing Permissions"), name="403 50013")

    @staticmethod
    def unknown_channel() -> Fault:
        return Fault(404, _error_body(10003, "Unknown Channel"), name="404 10003")

    @staticmethod
    def unknown_interaction() -> Fault:
        return Fault(404, _error_body(10062, "Unknown interaction"), name="404 10062")

    @staticmethod
    def server_error(status: int = 500) -> Fault:
        """500/502/503/504. Note discord.py sleeps 1 + 2*try seconds before retrying 5xx."""
        return Fault(status, _error_body(0, f"{status}: Internal Server Error"), name=f"{status}")

    @staticmethod
    def error(status: int, code: int, message: str) -> Fault:
        return Fault(status, _error_body(code, message), name=f"{status} {code}")


@dataclass
class FaultRule:
    fault: Fault
    method: str | None
    route: str | None
    params: Mapping[str, str]
    remaining: int
    hits: list[int] = field(default_factory=list)  # RecordedRequest.seq of answered requests

    def matches(self, method: str, route: str | None, params: Mapping[str, str]) -> bool:
        if self.remaining <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        if self.route is not None and self.route != route:
            return False
        return all(params.get(key) == value for key, value in self.params.items())


# ============================================================================================
# Interactions
# ============================================================================================


@dataclass
class _InteractionState:
    id: str
    token: str
    type: int
    payload: dict[str, Any]
    created_at: float
    channel_id: str
    guild_id: str | None
    user_id: str
    message_id: str | None  # the message whose component was used (types 3, 5 from a message)
    parent_id: str | None = None  # for a modal submit: the interaction that opened the modal
    expired: bool = False
    acknowledged: int | None = None
    original_id: str | None = None
    followup_ids: list[str] = field(default_factory=list)
    replies: list[InteractionReply] = field(default_factory=list)
    modal: dict[str, Any] | None = None
    choices: list[dict[str, Any]] | None = None
    first_reply: asyncio.Future[InteractionReply] | None = None


class InteractionHandle:
    """What a dispatch helper returns: await :meth:`reply` for the bot's callback."""

    def __init__(self, standin: DiscordStandIn, state: _InteractionState) -> None:
        self._standin = standin
        self._state = state

    @property
    def id(self) -> str:
        return self._state.id

    @property
    def token(self) -> str:
        return self._state.token

    @property
    def payload(self) -> dict[str, Any]:
        """The INTERACTION_CREATE ``d`` that was dispatched."""
        return self._state.payload

    async def reply(self, timeout: float = 5.0) -> InteractionReply:
        """The first callback the bot sent for this interaction (accepted or refused).

        ``timeout`` is a safety net in real seconds; the 3 s rule is judged on the stand-in's
        clock (``reply.elapsed`` and ``reply.status``)."""
        future = self._state.first_reply
        assert future is not None
        return await asyncio.wait_for(asyncio.shield(future), timeout)

    def expire(self) -> None:
        """From now on Discord answers this interaction's callback with 404 10062."""
        self._state.expired = True

    @property
    def replies(self) -> list[InteractionReply]:
        return list(self._state.replies)

    @property
    def original(self) -> StoredMessage | None:
        """The message the response created (type 4/5) or updated (type 6/7)."""
        if self._state.original_id is None:
            return None
        return self._standin.message(self._state.original_id)

    @property
    def followups(self) -> list[StoredMessage]:
        return [self._standin.message(mid) for mid in self._state.followup_ids]

    @property
    def modal(self) -> dict[str, Any] | None:
        """The modal (callback type 9 ``data``) the bot opened, if any."""
        return self._state.modal

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        """Autocomplete choices (callback type 8), if any."""
        return self._state.choices


# ============================================================================================
# The stand-in
# ============================================================================================


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    route: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    body: Any
    files: tuple[RecordedFile, ...]


@dataclass(frozen=True)
class _Answer:
    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


def _ok(body: Any, status: int = 200) -> _Answer:
    return _Answer(status, body)


def _err(status: int, code: int, message: str) -> _Answer:
    return _Answer(status, _error_body(code, message))


_NO_CONTENT = _Answer(204, None)


def _permissions_text(value: Any) -> str | None:
    """A permission bit set as Discord answers it: a string of the integer, or null."""
    return None if value is None else str(value)

#: (method, spec path template, handler name). Order matters where literals overlap templates.
_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/gateway", "_r_gateway"),
    ("GET", "/gateway/bot", "_r_gateway_bot"),
    ("GET", "/users/@me", "_r_me"),
    ("POST", "/users/@me/channels", "_r_create_dm"),
    ("GET", "/users/{user_id}", "_r_get_user"),
    ("GET", "/oauth2/applications/@me", "_r_application"),
    ("GET", "/applications/{application_id}/commands", "_r_get_commands"),
    ("PUT", "/applications/{application_id}/commands", "_r_put_commands"),
    ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", "_r_get_commands"),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", "_r_put_commands"),
    ("POST", "/interactions/{interaction_id}/{interaction_token}/callback", "_r_callback"),
    ("POST", "/webhooks/{webhook_id}/{webhook_token}", "_r_execute_webhook"),
    ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", "_r_webhook_get"),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", "_r_webhook_edit"),
    ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", "_r_webhook_delete"),
    ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", "_r_webhook_get"),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", "_r_webhook_edit"),
    ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", "_r_webhook_delete"),
    ("GET", "/channels/{channel_id}", "_r_get_channel"),
    ("GET", "/channels/{channel_id}/messages", "_r_history"),
    ("POST", "/channels/{channel_id}/messages", "_r_send"),
    ("GET", "/channels/{channel_id}/messages/{message_id}", "_r_get_message"),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}", "_r_edit"),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}", "_r_delete"),
    ("POST", "/channels/{channel_id}/typing", "_r_typing"),
    ("POST", "/channels/{channel_id}/threads", "_r_create_thread"),
    ("GET", "/channels/{channel_id}/thread-members", "_r_thread_members"),
    ("GET", "/channels/{channel_id}/thread-members/{user_id}", "_r_thread_member"),
    ("PUT", "/channels/{channel_id}/thread-members/{user_id}", "_r_add_thread_member"),
    ("DELETE", "/channels/{channel_id}/thread-members/{user_id}", "_r_remove_thread_member"),
    ("GET", "/guilds/{guild_id}/channels", "_r_guild_channels"),
    ("GET", "/guilds/{guild_id}/threads/active", "_r_active_threads"),
    ("GET", "/guilds/{guild_id}/members/{user_id}", "_r_guild_member"),
    ("GET", "/guilds/{guild_id}/roles", "_r_guild_roles"),
)

#: Routes Discord authenticates by the interaction token in the path, not the bot token.
_TOKEN_ROUTES = frozenset(
    t for _, t, _ in _ROUTES if t.startswith(("/interactions/", "/webhooks/"))
)
_CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback"


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{pattern}$")


_COMPILED = tuple(
    (method, template, handler, _compile(template)) for method, template, handler in _ROUTES
)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes")


class DiscordStandIn:
    """The far side of discord.py: state, REST routes, recording, checks. See module docstring.

    Build it with :func:`running_discord`; its attributes and methods below are the test API.
    """

    def __init__(
        self,
        *,
        world: World | None = None,
        clock: Callable[[], float] | None = None,
        nonce_window: float = 180.0,
        interaction_deadline: float = INTERACTION_DEADLINE,
        shards: int = 1,
        heartbeat_interval_ms: int = 41_250,
        privileged_intents: int = PRIVILEGED_INTENTS,
        check_answers: bool = True,
        latency: float = 0.0,
    ) -> None:
        self.world = world or default_world()
        self.token = self.world.token
        self.application_id = self.world.application_id
        self._clock = clock
        self.nonce_window = nonce_window
        self.interaction_deadline = interaction_deadline
        self.check_answers = check_answers
        #: Seconds added before every REST answer (a real network is never instant).
        self.latency = latency
        self.gateway = DiscordGateway(
            self,
            heartbeat_interval_ms=heartbeat_interval_ms,
            shard_count=shards,
            privileged_intents=privileged_intents,
        )
        self.port = 0
        self._runner: web.AppRunner | None = None
        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        self._expected: set[int] = set()
        self.invalid_requests = 0  # 401/403/429 answers: Discord bans an IP at 10,000 / 10 min
        self._faults: list[FaultRule] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._snowflake_ms = int(datetime.now(UTC).timestamp() * 1000) - DISCORD_EPOCH_MS
        self._snowflake_n = 0
        # state
        self._users: dict[str, SeedUser] = {u.id: u for u in self.world.users}
        self._guilds: dict[str, SeedGuild] = {g.id: g for g in self.world.guilds}
        self._members: dict[str, dict[str, SeedMember]] = {
            g.id: {m.user_id: m for m in g.members} for g in self.world.guilds
        }
        self._channels: dict[str, dict[str, Any]] = {}
        for guild in self.world.guilds:
            for channel in guild.channels:
                self._channels[channel.id] = self._guild_channel_payload(guild.id, channel)
        self._dm_by_user: dict[str, str] = {}
        self.dm_closed: set[str] = set()  # users whose DMs are closed: sends answer 403 50007
        self._messages: dict[str, StoredMessage] = {}
        self._history: dict[str, list[str]] = {}
        self._nonces: dict[tuple[str, str], str] = {}
        self._threads: dict[str, ThreadState] = {}
        self._global_commands: list[dict[str, Any]] = []
        self._guild_commands: dict[str, list[dict[str, Any]]] = {}
        self._interactions: dict[str, _InteractionState] = {}
        self._by_token: dict[str, _InteractionState] = {}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._handle)
        app.router.add_get("/", self.gateway.handle)
        app.router.add_get("/resume", self.gateway.handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.debug("stand-in Discord on %s", self.api_base)

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be: ``http://127.0.0.1:PORT/api/v10``."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    def gateway_url(self, *, resume: bool = False) -> str:
        """``ws://127.0.0.1:PORT`` (``DEFAULT_GATEWAY``); the resume URL has path ``/resume``."""
        return f"ws://127.0.0.1:{self.port}" + ("/resume" if resume else "")

    def point_discord_py(self) -> Callable[[], None]:
        """Point discord.py's class attributes here; returns the function that restores them."""
        import discord.gateway
        import discord.http
        import yarl

        old_base = discord.http.Route.BASE
        old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url())

        def restore() -> None:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

        return restore

    # ------------------------------------------------------------------ time, ids, waiting

    def now(self) -> float:
        """The stand-in's clock (the injected one, else the event loop's)."""
        if self._clock is not None:
            return self._clock()
        return asyncio.get_running_loop().time()

    def new_id(self) -> str:
        """A fresh snowflake, strictly increasing (1 ms apart)."""
        self._snowflake_ms += 1
        self._snowflake_n = (self._snowflake_n + 1) & 0xFFF
        return str((self._snowflake_ms << 22) | self._snowflake_n)

    @staticmethod
    def snowflake_time(snowflake: str) -> datetime:
        return datetime.fromtimestamp(((int(snowflake) >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)

    def _iso(self, snowflake: str) -> str:
        return self.snowflake_time(snowflake).isoformat(timespec="microseconds")

    def changed(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait (no sleeping) until ``predicate()`` holds; re-checked at every request, frame
        and dispatch. ``timeout`` is a safety net."""

        async def loop() -> None:
            while not predicate():
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter

        await asyncio.wait_for(loop(), timeout)

    # ------------------------------------------------------------------ violations

    def report_violation(self, where: str, problems: Sequence[Problem], status: int) -> None:
        violation = Violation(at=self.now(), where=where, problems=tuple(problems), status=status)
        self.violations.append(violation)
        log.warning("stand-in Discord: %s", violation.text)
        self.changed()

    @contextlib.contextmanager
    def expect_violation(self, pattern: str) -> Iterator[None]:
        """The block must cause at least one violation whose text matches ``pattern`` (regex);
        those violations then do not fail the test at teardown."""
        start = len(self.violations)
        yield
        matched = [
            i
            for i in range(start, len(self.violations))
            if re.search(pattern, self.violations[i].text)
        ]
        if not matched:
            seen = [v.text for v in self.violations[start:]]
            raise AssertionError(f"expected a violation matching {pattern!r}; saw {seen or 'none'}")
        self._expected.update(matched)

    @property
    def unexpected_violations(self) -> list[Violation]:
        return [v for i, v in enumerate(self.violations) if i not in self._expected]

    def assert_no_unexpected_violations(self) -> None:
        unexpected = self.unexpected_violations
        if unexpected:
            lines = "\n".join(f"  - {v.text}" for v in unexpected)
            raise AssertionError(
                f"the bot sent {len(unexpected)} request(s) Discord would refuse "
                f"(or the stand-in answered unrealistically):\n{lines}"
            )

    # ------------------------------------------------------------------ faults

    def inject(
        self,
        fault: Fault,
        *,
        method: str | None = None,
        route: str | None = None,
        times: int = 1,
        **params: str,
    ) -> FaultRule:
        """Answer the next ``times`` requests matching ``method``/``route`` (the spec's template,
        e.g. "/channels/{channel_id}/messages") and path ``params`` (``channel_id=...``) with
        ``fault``. Requests are still checked against the spec first."""
        if route is not None and route not in {t for _, t, _ in _ROUTES}:
            raise ValueError(
                f"unknown route {route!r}; routes: {sorted({t for _, t, _ in _ROUTES})}"
            )
        rule = FaultRule(fault, method.upper() if method else None, route, params, times)
        self._faults.append(rule)
        return rule

    def close_dms(self, user: str) -> None:
        """From now on, messages to this user's DM channel answer 403 50007."""
        self.dm_closed.add(self.user_id(user))

    # ------------------------------------------------------------------ lookups (tests)

    def user_id(self, user: str) -> str:
        """An id from an id or a username ("alice")."""
        if user in self._users:
            return user
        for candidate in self._users.values():
            if candidate.username == user:
                return candidate.id
        raise LookupError(f"no user {user!r}; users: {[u.username for u in self._users.values()]}")

    def channel_id(self, channel: str) -> str:
        """An id from an id or a guild channel or thread name ("intros")."""
        if channel in self._channels or channel in self._threads:
            return channel
        for candidate in [
            *self._channels.values(),
            *map(self._thread_payload, self._threads.values()),
        ]:
            if candidate.get("name") == channel:
                return str(candidate["id"])
        raise LookupError(f"no channel {channel!r}")

    def message(self, message_id: str) -> StoredMessage:
        return self._messages[message_id]

    def messages_in(self, channel: str) -> list[StoredMessage]:
        """Messages in a channel's history, oldest first (not ephemeral, not deleted)."""
        channel_id = self.channel_id(channel)
        return [
            self._messages[m]
            for m in self._history.get(channel_id, [])
            if not self._messages[m].deleted
        ]

    def dm_channel_of(self, user: str) -> str | None:
        return self._dm_by_user.get(self.user_id(user))

    def dms_to(self, user: str) -> list[StoredMessage]:
        """Messages the bot sent to a user's DM channel, oldest first."""
        channel_id = self.dm_channel_of(user)
        return [] if channel_id is None else self.messages_in(channel_id)

    def interaction_responses(self, interaction_id: str) -> list[InteractionReply]:
        return list(self._interactions[interaction_id].replies)

    @property
    def threads(self) -> list[ThreadState]:
        return list(self._threads.values())

    def synced_commands(self, guild_id: str | None = None) -> list[dict[str, Any]]:
        """Commands as last synced (the stand-in's answer: ids and defaults filled in)."""
        if guild_id is None:
            return list(self._global_commands)
        return list(self._guild_commands.get(guild_id, []))

    def requests_to(self, route: str, method: str | None = None) -> list[RecordedRequest]:
        return [
            r for r in self.requests if r.route == route and (method is None or r.method == method)
        ]

    # ------------------------------------------------------------------ payloads

    def _user_payload(self, user_id: str) -> dict[str, Any]:
        user = self._users[user_id]
        payload: dict[str, Any] = {
            "id": user.id,
            "username": user.username,
            "avatar": None,
            "discriminator": "0",
            "public_flags": 0,
            "flags": 0,
            "global_name": user.global_name,
            "primary_guild": None,
            "avatar_decoration_data": None,
            "collectibles": None,
            "banner": None,
            "accent_color": None,
        }
        if user.bot:
            payload["bot"] = True
        return payload

    def _member_payload(
        self, guild_id: str, user_id: str, *, with_user: bool = True
    ) -> dict[str, Any]:
        member = self._members[guild_id][user_id]
        payload: dict[str, Any] = {
            "roles": list(member.roles),
            "joined_at": member.joined_at,
            "nick": member.nick,
            "avatar": None,
            "banner": None,
            "flags": 0,
            "pending": False,
            "premium_since": None,
            "communication_disabled_until": None,
            "mute": False,
            "deaf": False,
        }
        if with_user:
            payload["user"] = self._user_payload(user_id)
        return payload

    def _permissions(self, guild_id: str, user_id: str) -> int:
        guild = self._guilds[guild_id]
        if user_id == guild.owner_id:
            return ALL_PERMISSIONS
        member = self._members[guild_id].get(user_id)
        roles = {r.id: r for r in guild.roles}
        value = roles[guild_id].permissions if guild_id in roles else 0
        for role_id in member.roles if member else ():
            value |= roles[role_id].permissions if role_id in roles else 0
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value

    def _role_payload(self, role: SeedRole) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": role.id,
            "name": role.name,
            "permissions": str(role.permissions),
            "position": role.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": role.managed,
            "mentionable": role.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if role.bot_id is not None:
            payload["tags"] = {"bot_id": role.bot_id}
        return payload

    @staticmethod
    def _guild_channel_payload(guild_id: str, channel: SeedChannel) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": channel.id,
            "type": channel.type,
            "guild_id": guild_id,
            "name": channel.name,
            "position": channel.position,
            "flags": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": channel.parent_id,
            "last_message_id": None,
        }
        if channel.type in (0, 5):
            payload.update(
                topic=channel.topic, rate_limit_per_user=0, default_auto_archive_duration=1440
            )
        return payload

    def _thread_payload(self, thread: ThreadState) -> dict[str, Any]:
        last = self._history.get(thread.id, [])
        return {
            "id": thread.id,
            "type": thread.type,
            "guild_id": thread.guild_id,
            "name": thread.name,
            "parent_id": thread.parent_id,
            "owner_id": thread.owner_id,
            "flags": 0,
            "last_message_id": last[-1] if last else None,
            "rate_limit_per_user": 0,
            "thread_metadata": {
                "archived": False,
                "archive_timestamp": thread.created_at,
                "auto_archive_duration": thread.auto_archive_duration,
                "locked": False,
                "create_timestamp": thread.created_at,
                "invitable": thread.invitable,
            },
            "message_count": len(last),
            "member_count": len(thread.members),
            "total_message_sent": len(last),
        }

    def _channel_payload(self, channel_id: str) -> dict[str, Any]:
        if channel_id in self._threads:
            return self._thread_payload(self._threads[channel_id])
        payload = dict(self._channels[channel_id])
        history = self._history.get(channel_id)
        if history:
            payload["last_message_id"] = history[-1]
        return payload

    def _message_payload(
        self, message: StoredMessage, *, with_nonce: bool = False
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": message.id,
            "channel_id": message.channel_id,
            "type": message.type,
            "content": message.content,
            "author": self._user_payload(message.author_id),
            "attachments": [a.payload(message.channel_id) for a in message.attachments],
            "embeds": message.embeds,
            "components": message.components,
            "mentions": [
                self._user_payload(u) for u in sorted(message.pinged_user_ids) if u in self._users
            ],
            "mention_roles": sorted(message.pinged_role_ids),
            "mention_everyone": message.pings_everyone,
            "pinned": False,
            "tts": message.tts,
            "timestamp": self._iso(message.id),
            "edited_timestamp": message.edited_timestamp,
            "flags": message.flags,
        }
        if with_nonce and message.nonce is not None:
            payload["nonce"] = message.nonce
        if message.webhook_id is not None:
            payload["webhook_id"] = message.webhook_id
            payload["application_id"] = self.application_id
        if message.message_reference is not None:
            payload["message_reference"] = message.message_reference
        if message.interaction_id is not None and message.interaction_id in self._interactions:
            payload["interaction_metadata"] = self._interaction_metadata(
                self._interactions[message.interaction_id]
            )
        return payload

    def _interaction_metadata(self, state: _InteractionState) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "id": state.id,
            "type": state.type,
            "user": self._user_payload(state.user_id),
            "authorizing_integration_owners": state.payload.get(
                "authorizing_integration_owners", {}
            ),
        }
        if state.original_id is not None:
            metadata["original_response_message_id"] = state.original_id
        if state.type == 3 and state.message_id is not None:
            metadata["interacted_message_id"] = state.message_id
        parent = self._interactions.get(state.parent_id or "")
        if state.type == 5 and parent is not None:
            metadata["triggering_interaction_metadata"] = self._interaction_metadata(parent)
        return metadata

    # GatewayHost -------------------------------------------------------------------------

    def ready_user(self) -> dict[str, Any]:
        return {
            **self._user_payload(self.world.bot.id),
            "verified": True,
            "mfa_enabled": False,
            "email": None,
            "locale": "en-US",
        }

    def ready_application(self, privileged_intents: int) -> dict[str, Any]:
        flags = 1 << 23  # APPLICATION_COMMAND_BADGE
        if privileged_intents & (1 << 8):
            flags |= 1 << 13  # GATEWAY_PRESENCE_LIMITED
        if privileged_intents & INTENT_GUILD_MEMBERS:
            flags |= 1 << 15  # GATEWAY_GUILD_MEMBERS_LIMITED
        if privileged_intents & INTENT_MESSAGE_CONTENT:
            flags |= 1 << 19  # GATEWAY_MESSAGE_CONTENT_LIMITED
        return {"id": self.application_id, "flags": flags}

    def guild_ids(self) -> list[str]:
        return list(self._guilds)

    def guild_member_payloads(self, guild_id: str) -> list[dict[str, Any]]:
        return [self._member_payload(guild_id, uid) for uid in self._members.get(guild_id, {})]

    def guild_create(self, guild_id: str, intents: int) -> dict[str, Any]:
        guild = self._guilds[guild_id]
        members = self.guild_member_payloads(guild_id)
        if not intents & INTENT_GUILD_MEMBERS:
            # Without the privileged intent Discord sends only the bot's own member.
            members = [m for m in members if m["user"]["id"] == self.world.bot.id]
        channels = [dict(c) for c in self._channels.values() if c.get("guild_id") == guild_id]
        threads = [
            self._thread_payload(t) for t in self._threads.values() if t.guild_id == guild_id
        ]
        return {
            "id": guild.id,
            "name": guild.name,
            "icon": None,
            "owner_id": guild.owner_id,
            "roles": [self._role_payload(r) for r in guild.roles],
            "channels": channels,
            "threads": threads,
            "members": members,
            "member_count": len(self._members[guild_id]),
            "large": False,
            "unavailable": False,
            "joined_at": self._members[guild_id][self.world.bot.id].joined_at,
            "features": [],
            "emojis": [],
            "stickers": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "preferred_locale": "en-US",
            "system_channel_id": next(iter(c["id"] for c in channels), None),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "description": None,
            "banner": None,
            "splash": None,
            "discovery_splash": None,
            "vanity_url_code": None,
            "application_id": None,
            "max_members": 500_000,
            "max_video_channel_users": 25,
            "incidents_data": None,
        }

    # ------------------------------------------------------------------ the HTTP pipeline

    async def _not_found(self, request: web.Request) -> web.Response:
        problem = Problem(
            (), f"{request.method} {request.path} is not under /api/v10", source="stand-in"
        )
        self.report_violation(f"{request.method} {request.path}", [problem], 404)
        return self._respond(_err(404, 0, "404: Not Found"))

    @staticmethod
    def _respond(answer: _Answer) -> web.Response:
        headers = dict(answer.headers)
        if answer.body is None:
            return web.Response(status=answer.status, headers=headers)
        # Exactly "application/json": aiohttp's json_response adds "; charset=utf-8" and
        # discord.py then reads the body as text.
        headers["Content-Type"] = "application/json"
        return web.Response(
            status=answer.status, body=json.dumps(answer.body).encode(), headers=headers
        )

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = self.now()
        path = "/" + request.match_info["tail"]
        method = request.method
        query = {key: request.query[key] for key in request.query}
        headers = {
            key: ("<redacted>" if key.lower() == "authorization" else value)
            for key, value in request.headers.items()
        }
        body, files, body_error = await self._read_body(request)
        route, params, handler = None, {}, None
        path_known = False
        for route_method, template, name, pattern in _COMPILED:
            found = pattern.match(path)
            if found:
                path_known = True
                if route_method == method:
                    route, params, handler = template, found.groupdict(), name
                    break
        problems: tuple[Problem, ...] = ()
        fault_name: str | None = None
        delay = self.latency
        if handler is None:
            answer = (
                _err(405, 0, "405: Method Not Allowed")
                if path_known
                else _err(404, 0, "404: Not Found")
            )
            problems = (self._unknown_route(method, path, query, body),)
        elif route not in _TOKEN_ROUTES and request.headers.get("Authorization") not in (
            f"Bot {self.token}",
        ):
            answer = _err(401, 0, "401: Unauthorized")
        elif body_error is not None:
            problems = (Problem((), body_error, source="protocol", code=50109),)
            answer = _Answer(
                400, {"code": 50109, "message": "The request body contains invalid JSON."}
            )
        else:
            assert route is not None  # a handler was found, so was its route
            call = _Call(method, path, route, params, query, body, files)
            problems = tuple(self._check(call))
            if problems:
                answer = _Answer(400, spec.invalid_form_body(problems))
            else:
                rule = next((r for r in self._faults if r.matches(method, route, params)), None)
                if rule is not None:
                    rule.remaining -= 1
                    rule.hits.append(len(self.requests) + 1)
                    fault_name = rule.fault.name
                    delay += rule.fault.delay
                    answer = _Answer(
                        rule.fault.status,
                        dict(rule.fault.body) if rule.fault.body is not None else None,
                        rule.fault.headers,
                    )
                else:
                    try:
                        answer = await getattr(self, handler)(call)
                    except Exception as error:  # a stand-in bug must fail fast, not hang in retries
                        log.exception("stand-in Discord crashed on %s %s", method, path)
                        crash = Problem((), f"stand-in crashed: {error!r}", source="stand-in")
                        self.report_violation(f"{method} {route}", [crash], 400)
                        answer = _err(400, 0, f"stand-in crashed: {error!r}")
        if delay > 0:
            await asyncio.sleep(delay)
        if answer.status in (401, 403, 429):
            self.invalid_requests += 1
        record = RecordedRequest(
            seq=len(self.requests) + 1,
            at=arrived,
            method=method,
            path=path,
            route=route,
            params=params,
            query=query,
            headers=headers,
            body=body,
            files=files,
            status=answer.status,
            answer=answer.body,
            problems=problems,
            fault=fault_name,
        )
        self.requests.append(record)
        if problems:
            self.report_violation(f"{method} {route or path}", problems, answer.status)
        if route == _CALLBACK:
            self._note_callback(record)
        # The spec documents no 5xx answers: an injected server error is not checked.
        injected_server_error = fault_name is not None and answer.status >= 500
        if self.check_answers and route is not None and not injected_server_error:
            answer_problems = spec.check_answer_against_spec(
                method, path, query, body, answer.status, answer.body, route=route
            )
            if answer_problems:
                self.report_violation(f"answer to {method} {route}", answer_problems, answer.status)
        self.changed()
        return self._respond(answer)

    def _unknown_route(
        self, method: str, path: str, query: Mapping[str, str], body: Any
    ) -> Problem:
        """A request to a route the stand-in does not serve: either Discord has no such route
        (a bug in the bot) or the stand-in lacks it (extend the stand-in). Both fail the test."""
        found = spec.check_request_against_spec(method, path, query, {}, body)
        # Headers are not passed, so the spec's security check always complains: only a path
        # the spec does not know makes the route unknown.
        if any("not found" in p.message.lower() and "security" not in p.message.lower()
               for p in found):
            return Problem((), f"{method} {path} is not a Discord route", source="stand-in")
        return Problem(
            (),
            f"{method} {path} is a Discord route the stand-in does not serve yet",
            source="stand-in",
        )

    async def _read_body(
        self, request: web.Request
    ) -> tuple[Any, tuple[RecordedFile, ...], str | None]:
        kind = request.content_type
        if kind == "multipart/form-data":
            body: Any = None
            files: list[RecordedFile] = []
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue  # nested multiparts: Discord does not take them either
                name = part.name or ""
                if name == "payload_json":
                    text = await part.text()
                    try:
                        body = json.loads(text)
                    except ValueError:
                        return None, (), "payload_json is not JSON."
                else:
                    data = bytes(await part.read(decode=False))
                    files.append(
                        RecordedFile(
                            name,
                            part.filename or "",
                            part.headers.get("Content-Type", "application/octet-stream"),
                            data,
                        )
                    )
            return body, tuple(files), None
        raw = await request.read()
        if not raw:
            return None, (), None
        if kind == "application/json":
            try:
                return json.loads(raw), (), None
            except ValueError:
                return None, (), "The body is not JSON."
        if kind == "application/x-www-form-urlencoded":
            form = await request.post()
            return {key: form[key] for key in form}, (), None
        return None, (), f"Unsupported Content-Type {kind!r}."

    def _check(self, call: _Call) -> list[Problem]:
        """Spec + documented limits + rules that need the stand-in's state."""
        headers = {"Authorization": "Bot x"} if call.route not in _TOKEN_ROUTES else {}
        limits = spec.check_limits(call.method, call.route, call.body)
        # Where both layers object to the same field, keep the limit's wording (it has counts).
        limited = {problem.where for problem in limits}
        problems = [
            problem
            for problem in spec.check_request_against_spec(
                call.method, call.path, call.query, headers, call.body, route=call.route
            )
            if problem.where not in limited
        ]
        problems += limits
        if call.route == _CALLBACK:
            state = self._interactions.get(call.params["interaction_id"])
            problems += spec.check_interaction_callback(call.body, state.type if state else None)
            kind = call.body.get("type") if isinstance(call.body, dict) else None
            if state is not None and kind in (6, 7) and state.message_id is None:
                problems.append(
                    Problem(
                        ("type",),
                        f"Callback type {kind} updates the message of a component; "
                        "this interaction has no message.",
                    )
                )
        creates_message = call.method == "POST" and call.route in (
            "/channels/{channel_id}/messages",
            "/webhooks/{webhook_id}/{webhook_token}",
        )
        if creates_message and spec.message_is_empty(call.body, len(call.files)):
            problems.append(Problem((), "Cannot send an empty message", code=50006))
        problems += self._check_files(call)
        return problems

    @staticmethod
    def _check_files(call: _Call) -> list[Problem]:
        if not call.files:
            return []
        body = call.body if isinstance(call.body, dict) else {}
        if call.route == _CALLBACK:
            body = body.get("data") or {}
        listed = {str(a.get("id")) for a in body.get("attachments") or [] if isinstance(a, dict)}
        problems = []
        for index, recorded in enumerate(call.files):
            number = recorded.field.removeprefix("files[").removesuffix("]")
            if not recorded.field.startswith("files[") or not number.isdigit():
                problems.append(
                    Problem(("files", index), f"File field {recorded.field!r} is not files[n].")
                )
            elif listed and number not in listed:
                problems.append(
                    Problem(("attachments",), f"{recorded.field} has no entry in attachments.")
                )
        return problems

    # ------------------------------------------------------------------ gateway & identity routes

    async def _r_gateway(self, call: _Call) -> _Answer:
        return _ok({"url": self.gateway_url()})

    async def _r_gateway_bot(self, call: _Call) -> _Answer:
        return _ok(
            {
                "url": self.gateway_url(),
                "shards": self.gateway.shard_count,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000 - self.gateway.session_starts,
                    "reset_after": 86_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    async def _r_me(self, call: _Call) -> _Answer:
        return _ok(self.ready_user())

    async def _r_get_user(self, call: _Call) -> _Answer:
        user_id = call.params["user_id"]
        if user_id not in self._users:
            return _err(404, 10013, "Unknown User")
        return _ok(self._user_payload(user_id))

    async def _r_application(self, call: _Call) -> _Answer:
        return _ok(
            {
                "id": self.application_id,
                "name": self.world.application_name,
                "icon": None,
                "description": "Mentorship for community groups",
                "type": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": 0,
                "flags_new": "0",
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "owner": self._user_payload(self.world.owner.id),
                "approximate_guild_count": len(self._guilds),
                "approximate_user_install_count": 0,
                "approximate_user_authorization_count": 0,
                "explicit_content_filter": 0,
                "team": None,
                "eligible_oauth2_scopes": ["bot", "applications.commands"],
                "bot": self._user_payload(self.world.bot.id),
                "summary": "",
                "tags": [],
                "integration_types_config": {"0": {}},
            }
        )

    # ------------------------------------------------------------------ commands

    def _command_owner_problem(self, call: _Call) -> _Answer | None:
        if call.params["application_id"] != self.application_id:
            return _err(
                403, 20012, "You are not authorized to perform this action on this application"
            )
        guild_id = call.params.get("guild_id")
        if guild_id is not None and guild_id not in self._guilds:
            return _err(403, 50001, "Missing Access")
        return None

    async def _r_get_commands(self, call: _Call) -> _Answer:
        refused = self._command_owner_problem(call)
        if refused is not None:
            return refused
        return _ok(self.synced_commands(call.params.get("guild_id")))

    async def _r_put_commands(self, call: _Call) -> _Answer:
        refused = self._command_owner_problem(call)
        if refused is not None:
            return refused
        guild_id = call.params.get("guild_id")
        previous = {(c["name"], c["type"]): c["id"] for c in self.synced_commands(guild_id)}
        stored = []
        for command in call.body or []:
            kind = command.get("type") or 1
            filled: dict[str, Any] = {
                "id": previous.get((command["name"], kind)) or self.new_id(),
                "application_id": self.application_id,
                "version": self.new_id(),
                # Sent as an integer or a string; Discord always answers a string (or null).
                "default_member_permissions": _permissions_text(
                    command.get("default_member_permissions")),
                "type": kind,
                "name": command["name"],
                "name_localizations": command.get("name_localizations") or None,
                "description": command.get("description") or "",
                "description_localizations": command.get("description_localizations") or None,
                "dm_permission": command.get("dm_permission", True) if guild_id is None else True,
                "contexts": command.get("contexts") or ([0, 1, 2] if guild_id is None else [0]),
                "integration_types": command.get("integration_types") or [0],
                "nsfw": bool(command.get("nsfw", False)),
            }
            options = [_clean_option(o) for o in command.get("options") or []]
            if options:
                filled["options"] = options
            if guild_id is not None:
                filled["guild_id"] = guild_id
            stored.append(filled)
        if guild_id is None:
            self._global_commands = stored
        else:
            self._guild_commands[guild_id] = stored
        return _ok(stored)

    # ------------------------------------------------------------------ interactions

    async def _r_callback(self, call: _Call) -> _Answer:
        state = self._interactions.get(call.params["interaction_id"])
        if state is None or state.token != call.params["interaction_token"]:
            return _err(404, 10062, "Unknown interaction")
        if state.acknowledged is not None:
            # An acknowledged interaction lives on (15 min of follow-ups): a second response is
            # "already acknowledged", however late.
            return _err(400, 40060, "Interaction has already been acknowledged.")
        if state.expired or self.now() - state.created_at > self.interaction_deadline:
            state.expired = True
            return _err(404, 10062, "Unknown interaction")
        body = call.body or {}
        kind = int(body["type"])
        data = body.get("data") or {}
        message: StoredMessage | None = None
        if kind == 4:
            message = await self._create_message(
                state.channel_id,
                data,
                call.files,
                interaction=state,
                ephemeral=bool((data.get("flags") or 0) & EPHEMERAL),
            )
            state.original_id = message.id
        elif kind == 5:
            flags = LOADING | ((data.get("flags") or 0) & EPHEMERAL)
            message = await self._create_message(
                state.channel_id,
                {"content": "", "flags": flags},
                (),
                interaction=state,
                ephemeral=bool(flags & EPHEMERAL),
                allow_flags=True,
            )
            state.original_id = message.id
        elif kind in (6, 7):
            assert state.message_id is not None  # checked in _check
            message = self._messages[state.message_id]
            if kind == 7:
                self._apply_edit(message, data, call.files)
            state.original_id = message.id
        elif kind == 8:
            state.choices = list(data.get("choices") or [])
        elif kind == 9:
            state.modal = dict(data)
        state.acknowledged = kind
        if not _truthy(call.query.get("with_response")):
            return _NO_CONTENT
        interaction: dict[str, Any] = {
            "id": state.id,
            "type": state.type,
            "channel_id": state.channel_id,
        }
        if state.guild_id is not None:
            interaction["guild_id"] = state.guild_id
        if message is not None:
            interaction["response_message_id"] = message.id
            interaction["response_message_loading"] = bool(message.flags & LOADING)
            interaction["response_message_ephemeral"] = message.ephemeral
        if message is None or kind not in (4, 7):
            # The spec knows resources only for type 4, 7 (a message) and 12 (an activity):
            # deferrals, autocomplete, modals and pongs answer without one.
            return _ok({"interaction": interaction})
        resource = {"type": kind, "message": self._message_payload(message)}
        return _ok({"interaction": interaction, "resource": resource})

    def _note_callback(self, record: RecordedRequest) -> None:
        state = self._interactions.get(record.params.get("interaction_id", ""))
        if state is None:
            return
        body = record.body if isinstance(record.body, dict) else {}
        code = (
            record.answer.get("code")
            if isinstance(record.answer, dict) and record.status >= 400
            else None
        )
        reply = InteractionReply(
            type=body.get("type"),
            data=body.get("data"),
            status=record.status,
            code=code,
            elapsed=record.at - state.created_at,
            with_response=_truthy(record.query.get("with_response")),
            files=record.files,
        )
        state.replies.append(reply)
        if state.first_reply is not None and not state.first_reply.done():
            state.first_reply.set_result(reply)

    def _webhook_state(self, call: _Call) -> _InteractionState | _Answer:
        state = self._by_token.get(call.params["webhook_token"])
        if call.params["webhook_id"] != self.application_id or state is None:
            return _err(404, 10015, "Unknown Webhook")
        if self.now() - state.created_at > WEBHOOK_TOKEN_LIFETIME:
            return _err(401, 50027, "Invalid Webhook Token")
        return state

    def _webhook_message(self, call: _Call, state: _InteractionState) -> StoredMessage | _Answer:
        wanted = call.params.get("message_id")
        message_id = state.original_id if wanted is None else wanted
        if message_id is None or (
            wanted is not None and wanted != state.original_id and wanted not in state.followup_ids
        ):
            return _err(404, 10008, "Unknown Message")
        message = self._messages[message_id]
        if message.deleted:
            return _err(404, 10008, "Unknown Message")
        return message

    async def _r_execute_webhook(self, call: _Call) -> _Answer:
        state = self._webhook_state(call)
        if isinstance(state, _Answer):
            return state
        if state.acknowledged is None or state.acknowledged == 8:
            # A follow-up needs an acknowledged interaction (and autocomplete has none).
            return _err(404, 10015, "Unknown Webhook")
        data = call.body or {}
        original = self._messages.get(state.original_id or "")
        if original is not None and original.flags & LOADING:
            # After a deferred response (type 5) the first follow-up fills the "thinking" message.
            self._apply_edit(original, data, call.files)
            original.flags &= ~LOADING
            message = original
        else:
            message = await self._create_message(
                state.channel_id,
                data,
                call.files,
                interaction=state,
                ephemeral=bool((data.get("flags") or 0) & EPHEMERAL),
            )
            state.followup_ids.append(message.id)
        if not _truthy(call.query.get("wait")):
            return _NO_CONTENT
        return _ok(self._message_payload(message))

    async def _r_webhook_get(self, call: _Call) -> _Answer:
        state = self._webhook_state(call)
        if isinstance(state, _Answer):
            return state
        message = self._webhook_message(call, state)
        return message if isinstance(message, _Answer) else _ok(self._message_payload(message))

    async def _r_webhook_edit(self, call: _Call) -> _Answer:
        state = self._webhook_state(call)
        if isinstance(state, _Answer):
            return state
        message = self._webhook_message(call, state)
        if isinstance(message, _Answer):
            return message
        self._apply_edit(message, call.body or {}, call.files)
        message.flags &= ~LOADING
        return _ok(self._message_payload(message))

    async def _r_webhook_delete(self, call: _Call) -> _Answer:
        state = self._webhook_state(call)
        if isinstance(state, _Answer):
            return state
        message = self._webhook_message(call, state)
        if isinstance(message, _Answer):
            return message
        message.deleted = True
        return _NO_CONTENT

    # ------------------------------------------------------------------ messages

    def _dm_channel(self, user_id: str) -> str:
        channel_id = self._dm_by_user.get(user_id)
        if channel_id is None:
            channel_id = self.new_id()
            self._dm_by_user[user_id] = channel_id
            self._channels[channel_id] = {
                "id": channel_id,
                "type": 1,
                "flags": 0,
                "last_message_id": None,
                "recipients": [self._user_payload(user_id)],
            }
        return channel_id

    def _dm_recipient(self, channel_id: str) -> str | None:
        channel = self._channels.get(channel_id)
        if channel is None or channel.get("type") != 1:
            return None
        return str(channel["recipients"][0]["id"])

    async def _r_create_dm(self, call: _Call) -> _Answer:
        user_id = str((call.body or {}).get("recipient_id"))
        if user_id not in self._users:
            return _err(404, 10013, "Unknown User")
        return _ok(self._channel_payload(self._dm_channel(user_id)))

    def _channel_guild(self, channel_id: str) -> str | None:
        if channel_id in self._threads:
            return self._threads[channel_id].guild_id
        channel = self._channels.get(channel_id)
        return None if channel is None else channel.get("guild_id")

    def _sendable(self, channel_id: str) -> _Answer | None:
        if channel_id not in self._channels and channel_id not in self._threads:
            return _err(404, 10003, "Unknown Channel")
        channel = self._channels.get(channel_id)
        if channel is not None and channel.get("type") not in (0, 1, 5):
            return _err(400, 50008, "Cannot send messages in a non-text channel")
        recipient = self._dm_recipient(channel_id)
        if recipient is not None and recipient in self.dm_closed:
            return _err(403, 50007, "Cannot send messages to this user")
        return None

    async def _r_send(self, call: _Call) -> _Answer:
        channel_id = call.params["channel_id"]
        refused = self._sendable(channel_id)
        if refused is not None:
            return refused
        body = call.body or {}
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            earlier_id = self._nonces.get((channel_id, str(nonce)))
            if earlier_id is not None:
                earlier = self._messages[earlier_id]
                if self.now() - earlier.created_at <= self.nonce_window:
                    return _ok(self._message_payload(earlier, with_nonce=True))
        message = await self._create_message(channel_id, body, call.files)
        if nonce is not None:
            self._nonces[(channel_id, str(nonce))] = message.id
        return _ok(self._message_payload(message, with_nonce=True))

    async def _create_message(
        self,
        channel_id: str,
        body: Mapping[str, Any],
        files: Sequence[RecordedFile],
        *,
        interaction: _InteractionState | None = None,
        ephemeral: bool = False,
        author_id: str | None = None,
        allow_flags: bool = False,
    ) -> StoredMessage:
        message = StoredMessage(
            id=self.new_id(),
            channel_id=channel_id,
            guild_id=self._channel_guild(channel_id),
            author_id=author_id or self.world.bot.id,
            created_at=self.now(),
            in_history=not ephemeral,
            nonce=body.get("nonce"),
            enforce_nonce=bool(body.get("enforce_nonce")),
            tts=bool(body.get("tts")),
        )
        if interaction is not None:
            message.interaction_id = interaction.id
            message.webhook_id = self.application_id
            message.type = 20 if interaction.type == 2 else 0
        if body.get("message_reference"):
            message.message_reference = dict(body["message_reference"])
            message.type = 19
        self._apply_edit(message, body, files, creating=True)
        if allow_flags:
            message.flags = int(body.get("flags") or 0)
        self._messages[message.id] = message
        if message.in_history:
            self._history.setdefault(channel_id, []).append(message.id)
            await self._echo(message)
        return message

    def _apply_edit(
        self,
        message: StoredMessage,
        body: Mapping[str, Any],
        files: Sequence[RecordedFile],
        *,
        creating: bool = False,
    ) -> None:
        if "content" in body:
            message.content = body.get("content") or ""
        if "embeds" in body:
            message.embeds = list(body.get("embeds") or [])
        if "components" in body:
            message.components = _number_components(body.get("components") or [])
        if "flags" in body and body.get("flags") is not None:
            # Only EPHEMERAL (interactions), SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS and
            # IS_COMPONENTS_V2 can be set by a bot; LOADING stays the stand-in's.
            settable = EPHEMERAL | (1 << 2) | (1 << 12) | (1 << 15)
            message.flags = (message.flags & LOADING) | (int(body["flags"]) & settable)
        if "allowed_mentions" in body:
            message.allowed_mentions = body.get("allowed_mentions")
            message.allowed_mentions_sent = True
        listed = body.get("attachments")
        if listed is not None:
            keep = {str(a.get("id")) for a in listed if isinstance(a, dict)}
            message.attachments = [a for a in message.attachments if a.id in keep]
        described = {str(a.get("id")): a for a in listed or [] if isinstance(a, dict)}
        for recorded in files:
            number = recorded.field.removeprefix("files[").removesuffix("]")
            meta = described.get(number, {})
            message.attachments.append(
                StoredAttachment(
                    id=self.new_id(),
                    filename=str(meta.get("filename") or recorded.filename),
                    content_type=recorded.content_type,
                    data=recorded.data,
                    description=meta.get("description"),
                )
            )
        if not creating:
            message.edited += 1
            message.edited_timestamp = self._iso(self.new_id())

    async def _echo(self, message: StoredMessage) -> None:
        """MESSAGE_CREATE for a new message, as Discord sends it to the bot (when its intents
        allow and it is connected)."""
        shard = self.gateway.shard_of_guild(message.guild_id)
        try:
            session = self.gateway.session_for_shard(shard)
        except LookupError:
            return
        needed = INTENT_GUILD_MESSAGES if message.guild_id else INTENT_DIRECT_MESSAGES
        if not session.intents & needed:
            return
        payload = self._message_payload(message, with_nonce=True)
        if message.guild_id is not None:
            payload["guild_id"] = message.guild_id
            if message.author_id in self._members.get(message.guild_id, {}):
                payload["member"] = self._member_payload(
                    message.guild_id, message.author_id, with_user=False
                )
        bot_mentioned = self.world.bot.id in _MENTION_USER.findall(message.content)
        if (
            not session.intents & INTENT_MESSAGE_CONTENT
            and message.author_id != self.world.bot.id
            and message.guild_id is not None
            and not bot_mentioned
        ):
            # Without MESSAGE_CONTENT the bot gets empty content, except in DMs, for its own
            # messages and for messages that mention it.
            payload.update(content="", embeds=[], attachments=[], components=[])
        await self.gateway.dispatch("MESSAGE_CREATE", payload, guild_id=message.guild_id)

    async def _r_history(self, call: _Call) -> _Answer:
        channel_id = call.params["channel_id"]
        if channel_id not in self._channels and channel_id not in self._threads:
            return _err(404, 10003, "Unknown Channel")
        limit = max(1, min(100, int(call.query.get("limit", "50"))))
        ids = [m for m in self._history.get(channel_id, []) if not self._messages[m].deleted]
        if "after" in call.query:
            after = int(call.query["after"])
            chosen = [m for m in ids if int(m) > after][:limit]
        elif "before" in call.query:
            before = int(call.query["before"])
            chosen = [m for m in ids if int(m) < before][-limit:]
        elif "around" in call.query:
            around = int(call.query["around"])
            older = [m for m in ids if int(m) <= around][-(limit // 2 + 1) :]
            newer = [m for m in ids if int(m) > around][: limit - len(older)]
            chosen = older + newer
        else:
            chosen = ids[-limit:]
        # Newest first, and without nonces: Discord returns the nonce only when creating.
        return _ok([self._message_payload(self._messages[m]) for m in reversed(chosen)])

    def _own_message(self, call: _Call) -> StoredMessage | _Answer:
        channel_id = call.params["channel_id"]
        if channel_id not in self._channels and channel_id not in self._threads:
            return _err(404, 10003, "Unknown Channel")
        message = self._messages.get(call.params["message_id"])
        if (
            message is None
            or message.deleted
            or message.channel_id != channel_id
            or not message.in_history
        ):
            return _err(404, 10008, "Unknown Message")
        return message

    async def _r_get_message(self, call: _Call) -> _Answer:
        message = self._own_message(call)
        return message if isinstance(message, _Answer) else _ok(self._message_payload(message))

    async def _r_edit(self, call: _Call) -> _Answer:
        message = self._own_message(call)
        if isinstance(message, _Answer):
            return message
        if message.author_id != self.world.bot.id:
            return _err(403, 50005, "Cannot edit a message authored by another user")
        self._apply_edit(message, call.body or {}, call.files)
        return _ok(self._message_payload(message))

    async def _r_delete(self, call: _Call) -> _Answer:
        message = self._own_message(call)
        if isinstance(message, _Answer):
            return message
        message.deleted = True
        return _NO_CONTENT

    async def _r_typing(self, call: _Call) -> _Answer:
        refused = self._sendable(call.params["channel_id"])
        return refused or _NO_CONTENT

    async def _r_get_channel(self, call: _Call) -> _Answer:
        channel_id = call.params["channel_id"]
        if channel_id not in self._channels and channel_id not in self._threads:
            return _err(404, 10003, "Unknown Channel")
        return _ok(self._channel_payload(channel_id))

    # ------------------------------------------------------------------ threads

    async def _r_create_thread(self, call: _Call) -> _Answer:
        parent_id = call.params["channel_id"]
        parent = self._channels.get(parent_id)
        if parent is None:
            return _err(404, 10003, "Unknown Channel")
        if parent.get("type") not in (0, 5):
            return _err(400, 50024, "Cannot execute action on this channel type")
        body = call.body or {}
        # Without a message the default type is PRIVATE_THREAD (12), as documented.
        kind = int(body.get("type") or 12)
        now_iso = self._iso(self.new_id())
        thread = ThreadState(
            id=self.new_id(),
            parent_id=parent_id,
            guild_id=str(parent["guild_id"]),
            name=str(body["name"]),
            type=kind,
            owner_id=self.world.bot.id,
            invitable=bool(body.get("invitable", True)),
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
            created_at=now_iso,
        )
        thread.members[self.world.bot.id] = now_iso
        self._threads[thread.id] = thread
        payload = self._thread_payload(thread)
        payload["member"] = {
            "id": thread.id,
            "user_id": self.world.bot.id,
            "join_timestamp": now_iso,
            "flags": 0,
        }
        await self._dispatch_if_connected(
            "THREAD_CREATE", {**payload, "newly_created": True}, thread.guild_id, INTENT_GUILDS
        )
        return _ok(payload, 201)

    def _thread_or_error(self, call: _Call) -> ThreadState | _Answer:
        thread = self._threads.get(call.params["channel_id"])
        if thread is None:
            if call.params["channel_id"] in self._channels:
                return _err(400, 50024, "Cannot execute action on this channel type")
            return _err(404, 10003, "Unknown Channel")
        return thread

    def _thread_member_payload(self, thread: ThreadState, user_id: str) -> dict[str, Any]:
        return {
            "id": thread.id,
            "user_id": user_id,
            "join_timestamp": thread.members[user_id],
            "flags": 0,
        }

    async def _r_thread_members(self, call: _Call) -> _Answer:
        thread = self._thread_or_error(call)
        if isinstance(thread, _Answer):
            return thread
        return _ok([self._thread_member_payload(thread, u) for u in thread.members])

    async def _r_thread_member(self, call: _Call) -> _Answer:
        thread = self._thread_or_error(call)
        if isinstance(thread, _Answer):
            return thread
        if call.params["user_id"] not in thread.members:
            return _err(404, 10007, "Unknown Member")
        return _ok(self._thread_member_payload(thread, call.params["user_id"]))

    async def _r_add_thread_member(self, call: _Call) -> _Answer:
        thread = self._thread_or_error(call)
        if isinstance(thread, _Answer):
            return thread
        user_id = call.params["user_id"]
        if user_id not in self._members.get(thread.guild_id, {}):
            return _err(404, 10007, "Unknown Member")
        thread.members.setdefault(user_id, self._iso(self.new_id()))
        return _NO_CONTENT

    async def _r_remove_thread_member(self, call: _Call) -> _Answer:
        thread = self._thread_or_error(call)
        if isinstance(thread, _Answer):
            return thread
        thread.members.pop(call.params["user_id"], None)
        return _NO_CONTENT

    # ------------------------------------------------------------------ guilds

    async def _r_guild_member(self, call: _Call) -> _Answer:
        guild_id, user_id = call.params["guild_id"], call.params["user_id"]
        if guild_id not in self._guilds:
            return _err(404, 10004, "Unknown Guild")
        if user_id not in self._members[guild_id]:
            return _err(404, 10007, "Unknown Member")
        return _ok(self._member_payload(guild_id, user_id))

    async def _r_guild_channels(self, call: _Call) -> _Answer:
        """The server's channels (threads are not among them, as on Discord)."""
        guild_id = call.params["guild_id"]
        if guild_id not in self._guilds:
            return _err(404, 10004, "Unknown Guild")
        return _ok([self._channel_payload(c) for c, payload in self._channels.items()
                    if payload.get("guild_id") == guild_id])

    async def _r_active_threads(self, call: _Call) -> _Answer:
        """The server's active threads (none is ever archived here), with the bot's own
        membership of each it joined, as Discord answers a bot."""
        guild_id = call.params["guild_id"]
        if guild_id not in self._guilds:
            return _err(404, 10004, "Unknown Guild")
        threads = [t for t in self._threads.values() if t.guild_id == guild_id]
        bot = self.world.bot.id
        return _ok({
            "threads": [self._thread_payload(t) for t in threads],
            "members": [self._thread_member_payload(t, bot) for t in threads
                        if bot in t.members],
            "has_more": False,
        })

    async def _r_guild_roles(self, call: _Call) -> _Answer:
        guild_id = call.params["guild_id"]
        if guild_id not in self._guilds:
            return _err(404, 10004, "Unknown Guild")
        return _ok([self._role_payload(r) for r in self._guilds[guild_id].roles])

    # ------------------------------------------------------------------ driving the bot

    async def _dispatch_if_connected(
        self, event: str, data: Mapping[str, Any], guild_id: str | None, intent: int
    ) -> None:
        """Dispatch when a session exists and its intents ask for this kind of event."""
        try:
            session = self.gateway.session_for_shard(self.gateway.shard_of_guild(guild_id))
        except LookupError:
            log.debug("no gateway session: %s not dispatched", event)
            return
        if session.intents & intent:
            await self.gateway.dispatch(event, data, guild_id=guild_id)

    async def dispatch(
        self, event: str, data: Mapping[str, Any], *, guild_id: str | None = None
    ) -> int:
        """Any gateway event, raw. Returns its sequence number."""
        return await self.gateway.dispatch(event, data, guild_id=guild_id)

    def _resolve(
        self, guild_id: str | None
    ) -> Callable[[int, Any], tuple[str, dict[str, dict[str, Any]]]]:
        def resolve(kind: int, value: Any) -> tuple[str, dict[str, dict[str, Any]]]:
            if kind == USER or (kind == MENTIONABLE and self._is_user(value)):
                user_id = self.user_id(str(value))
                fragments: dict[str, dict[str, Any]] = {
                    "users": {user_id: self._user_payload(user_id)}
                }
                if guild_id is not None and user_id in self._members.get(guild_id, {}):
                    member = self._member_payload(guild_id, user_id, with_user=False)
                    member["permissions"] = str(self._permissions(guild_id, user_id))
                    fragments["members"] = {user_id: member}
                return user_id, fragments
            if kind in (ROLE, MENTIONABLE):
                roles = {r.id: r for g in self._guilds.values() for r in g.roles}
                role = roles.get(str(value)) or next(
                    (r for r in roles.values() if r.name == value), None
                )
                if role is None:
                    raise LookupError(f"no role {value!r}")
                return role.id, {"roles": {role.id: self._role_payload(role)}}
            if kind == CHANNEL:
                channel_id = self.channel_id(str(value))
                channel = self._channel_payload(channel_id)
                partial: dict[str, Any] = {
                    k: channel[k]
                    for k in (
                        "id",
                        "name",
                        "type",
                        "parent_id",
                        "guild_id",
                        "flags",
                        "thread_metadata",
                    )
                    if k in channel
                }
                partial["permissions"] = str(BOT_PERMISSIONS)
                return channel_id, {"channels": {channel_id: partial}}
            if kind == ATTACHMENT:
                attachment = StoredAttachment(
                    self.new_id(),
                    str(value.get("filename", "file.txt")),
                    str(value.get("content_type", "text/plain")),
                    bytes(value.get("data", b"")),
                )
                return attachment.id, {"attachments": {attachment.id: attachment.payload("0")}}
            raise ValueError(f"option type {kind} cannot be resolved")

        return resolve

    def _is_user(self, value: Any) -> bool:
        try:
            self.user_id(str(value))
        except LookupError:
            return False
        return True

    def _command(self, name: str, guild_id: str | None, kind: int = 1) -> dict[str, Any]:
        candidates = (
            self._guild_commands.get(guild_id, []) if guild_id else []
        ) + self._global_commands
        found = next((c for c in candidates if c["name"] == name and c["type"] == kind), None)
        if found is None:
            raise LookupError(
                f"/{name} is not registered{' for guild ' + guild_id if guild_id else ''}: "
                f"sync the command tree first (registered: {[c['name'] for c in candidates]})"
            )
        return found

    @staticmethod
    def _check_context(command: Mapping[str, Any], guild_id: str | None) -> None:
        """Discord offers a command only where its ``contexts`` allow (0 guild, 1 bot DM)."""
        context = 0 if guild_id is not None else 1
        contexts = command.get("contexts")
        if contexts is not None and context not in contexts:
            where = "in a guild" if guild_id is not None else "in a DM with the bot"
            raise ValueError(
                f"Discord does not offer /{command['name']} {where} (contexts {contexts})"
            )

    def _where(self, user: str, channel: str | None, dm: bool) -> tuple[str, str, str | None]:
        user_id = self.user_id(user)
        if dm:
            channel_id = self._dm_channel(user_id)
        elif channel is None:
            guild = self.world.guilds[0]
            channel_id = next(c.id for c in guild.channels if c.type == 0)
        else:
            channel_id = self.channel_id(channel)
        return user_id, channel_id, self._channel_guild(channel_id)

    async def _start_interaction(
        self,
        kind: int,
        data: Mapping[str, Any],
        *,
        user_id: str,
        channel_id: str,
        guild_id: str | None,
        message: StoredMessage | None = None,
        parent_id: str | None = None,
    ) -> InteractionHandle:
        interaction_id = self.new_id()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        channel = self._channel_payload(channel_id)
        if guild_id is not None:
            channel["permissions"] = str(self._permissions(guild_id, user_id))
        member = None
        if guild_id is not None:
            member = self._member_payload(guild_id, user_id)
            member["permissions"] = str(self._permissions(guild_id, user_id))
        payload = interaction_payload(
            interaction_id=interaction_id,
            application_id=self.application_id,
            kind=kind,
            token=token,
            data=data,
            channel=channel,
            guild_id=guild_id,
            member=member,
            user=self._user_payload(user_id) if guild_id is None else None,
            app_permissions=str(
                self._permissions(guild_id, self.world.bot.id) if guild_id else BOT_PERMISSIONS
            ),
            message=self._message_payload(message) if message is not None else None,
        )
        state = _InteractionState(
            id=interaction_id,
            token=token,
            type=kind,
            payload=payload,
            created_at=self.now(),
            channel_id=channel_id,
            guild_id=guild_id,
            user_id=user_id,
            message_id=message.id if message is not None else None,
            parent_id=parent_id,
            first_reply=asyncio.get_running_loop().create_future(),
        )
        self._interactions[interaction_id] = state
        self._by_token[token] = state
        await self.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=guild_id)
        return InteractionHandle(self, state)

    async def slash(
        self,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: str = ALICE_ID,
        channel: str | None = None,
        dm: bool = False,
    ) -> InteractionHandle:
        """A member runs a slash command: ``await slash("mentor find", {"topic": "rust"})``.

        ``command`` is the command's name followed by its subcommand group/subcommand; the
        command must have been synced (guild commands of the channel's guild, or global).
        ``options`` keep their order; user/channel/role options take ids or names and come with
        ``resolved`` data. ``dm=True`` runs it in the user's DM with the bot."""
        user_id, channel_id, guild_id = self._where(user, channel, dm)
        name, *words = command.split()
        registered = self._command(name, guild_id)
        self._check_context(registered, guild_id)
        data = command_data(registered, words, dict(options or {}), resolve=self._resolve(guild_id))
        return await self._start_interaction(
            2, data, user_id=user_id, channel_id=channel_id, guild_id=guild_id
        )

    async def autocomplete(
        self,
        command: str,
        options: Mapping[str, Any],
        focused: str,
        *,
        user: str = ALICE_ID,
        channel: str | None = None,
        dm: bool = False,
    ) -> InteractionHandle:
        """A member is typing option ``focused`` (its partial value in ``options``)."""
        user_id, channel_id, guild_id = self._where(user, channel, dm)
        name, *words = command.split()
        registered = self._command(name, guild_id)
        data = command_data(
            registered, words, dict(options), resolve=self._resolve(guild_id), focused=focused
        )
        return await self._start_interaction(
            4, data, user_id=user_id, channel_id=channel_id, guild_id=guild_id
        )

    async def click(
        self,
        message_id: str,
        custom_id: str,
        *,
        user: str | None = None,
        values: Sequence[Any] | None = None,
    ) -> InteractionHandle:
        """A user clicks a button (or picks ``values`` in a select) on a message the bot sent,
        in a guild channel or a DM: the payload carries that message with its components.

        ``user`` defaults to the one who can see the message: the DM's recipient, the owner of
        an ephemeral message, else alice. Someone who cannot see it cannot click it."""
        message = self._messages.get(message_id)
        if message is None or message.deleted:
            raise LookupError(f"no message {message_id}")
        component = find_component(message.components, custom_id)
        if component is None:
            raise LookupError(
                f"message {message_id} has no component {custom_id!r}; it has {message.custom_ids}"
            )
        if component.get("disabled"):
            raise ValueError(f"{custom_id!r} is disabled: Discord does not let anyone click it")
        viewer = self._dm_recipient(message.channel_id)
        owner = self._interactions.get(message.interaction_id or "")
        if message.ephemeral and owner is not None:
            viewer = owner.user_id
        user_id = self.user_id(user) if user is not None else viewer or ALICE_ID
        if viewer is not None and user_id != viewer:
            raise ValueError(f"only {self._users[viewer].username} can see message {message_id}")
        guild_id = message.guild_id
        data = component_data(component, values, resolve=self._resolve(guild_id))
        return await self._start_interaction(
            3,
            data,
            user_id=user_id,
            channel_id=message.channel_id,
            guild_id=guild_id,
            message=message,
        )

    async def submit_modal(
        self,
        opened_by: InteractionHandle,
        values: Mapping[str, Any],
        *,
        layout: str | None = None,
        user: str | None = None,
    ) -> InteractionHandle:
        """The user submits the modal the bot opened in answer to ``opened_by`` (callback type 9).

        ``values`` by input label or custom id; ``layout`` None (as sent), "action_row" or
        "label". Modal custom ids are random in discord.py: they are read from the callback."""
        state = opened_by._state
        if state.modal is None:
            raise LookupError(
                "the bot did not answer that interaction with a modal (callback type 9)"
            )
        data = modal_submit_data(state.modal, values, layout=layout)
        message = self._messages.get(state.message_id) if state.message_id else None
        return await self._start_interaction(
            5,
            data,
            user_id=self.user_id(user) if user else state.user_id,
            channel_id=state.channel_id,
            guild_id=state.guild_id,
            message=message,
            parent_id=state.id,
        )

    async def user_says(self, channel: str, user: str, content: str) -> StoredMessage:
        """A user writes in a channel (``channel="dm"``: in their DM with the bot): stored, and
        MESSAGE_CREATE dispatched (content blanked without the MESSAGE_CONTENT intent, as Discord
        does, except in DMs and when the bot is mentioned)."""
        user_id = self.user_id(user)
        channel_id = self._dm_channel(user_id) if channel == "dm" else self.channel_id(channel)
        return await self._create_message(channel_id, {"content": content}, (), author_id=user_id)

    async def member_joins(
        self,
        username: str,
        *,
        guild_id: str = GUILD_ID,
        global_name: str | None = None,
        user_id: str | None = None,
    ) -> str:
        """A new member joins: GUILD_MEMBER_ADD (needs the GUILD_MEMBERS intent to arrive)."""
        new_id = user_id or self.new_id()
        self._users[new_id] = SeedUser(new_id, username, global_name)
        member = SeedMember(new_id, (), joined_at=self._iso(self.new_id()))
        self._members[guild_id][new_id] = member
        await self._dispatch_if_connected(
            "GUILD_MEMBER_ADD",
            {**self._member_payload(guild_id, new_id), "guild_id": guild_id},
            guild_id,
            INTENT_GUILD_MEMBERS,
        )
        return new_id


def _number_components(components: Sequence[Any]) -> list[dict[str, Any]]:
    """A copy with Discord's numeric component ``id`` filled in (tree order, from 1) where the
    bot gave none: Discord's answers always carry them."""
    used = set()

    def collect(items: Sequence[Any]) -> None:
        for item in items:
            if isinstance(item, dict):
                if isinstance(item.get("id"), int):
                    used.add(item["id"])
                for key in ("components", "accessory", "component"):
                    nested = item.get(key)
                    collect([nested] if isinstance(nested, dict) else nested or [])

    collect(components)
    counter = 0

    def number(item: Any) -> Any:
        nonlocal counter
        if not isinstance(item, dict):
            return item
        copy = dict(item)
        if not isinstance(copy.get("id"), int):
            counter += 1
            while counter in used:
                counter += 1
            copy["id"] = counter
        for key in ("components", "accessory", "component"):
            nested = copy.get(key)
            if isinstance(nested, dict):
                copy[key] = number(nested)
            elif isinstance(nested, list):
                copy[key] = [number(child) for child in nested]
        return copy

    return [number(component) for component in components]


def _clean_option(option: Mapping[str, Any]) -> dict[str, Any]:
    """An option as Discord echoes it: no nulls, no ``required: false``, nested cleaned."""
    cleaned = {
        k: v for k, v in option.items() if v is not None and not (k == "required" and v is False)
    }
    for key in ("name_localizations", "description_localizations"):
        if cleaned.get(key) == {}:
            cleaned.pop(key)
    if "options" in cleaned:
        cleaned["options"] = [_clean_option(o) for o in cleaned["options"]]
    return cleaned


@contextlib.asynccontextmanager
async def running_discord(
    *,
    world: World | None = None,
    clock: Callable[[], float] | None = None,
    nonce_window: float = 180.0,
    interaction_deadline: float = INTERACTION_DEADLINE,
    shards: int = 1,
    heartbeat_interval_ms: int = 41_250,
    privileged_intents: int = PRIVILEGED_INTENTS,
    point_discord_py: bool = True,
    check_answers: bool = True,
    latency: float = 0.0,
) -> AsyncIterator[DiscordStandIn]:
    """Start a stand-in Discord on 127.0.0.1 (ephemeral port) in the running event loop.

    ``clock`` returns seconds (default: the loop's time); it judges the 3 s interaction
    deadline, the 15 min webhook token lifetime and the nonce window. ``point_discord_py``
    sets ``discord.http.Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` for the duration.
    ``privileged_intents`` are those "enabled in the developer portal" (others: close 4014).
    On exit: stops the server, restores discord.py, and raises ``AssertionError`` listing any
    violation the test did not declare with :meth:`DiscordStandIn.expect_violation`.
    Skips the test when ``../shared/specs`` is absent, unless ``CI`` is set.
    """
    if not spec.spec_available():
        import os

        import pytest

        reason = f"Discord's OpenAPI spec is missing at {spec.SPEC_PATH}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    standin = DiscordStandIn(
        world=world,
        clock=clock,
        nonce_window=nonce_window,
        interaction_deadline=interaction_deadline,
        shards=shards,
        heartbeat_interval_ms=heartbeat_interval_ms,
        privileged_intents=privileged_intents,
        check_answers=check_answers,
        latency=latency,
    )
    await standin.start()
    restore = standin.point_discord_py() if point_discord_py else None
    failed = False
    try:
        yield standin
    except BaseException as error:
        failed = True
        if standin.unexpected_violations:
            # The test failed anyway; say what Discord would have refused, it is often why.
            error.add_note(
                "stand-in Discord violations:\n"
                + "\n".join(f"  - {v.text}" for v in standin.unexpected_violations)
            )
        raise
    finally:
        await standin.stop()
        if restore is not None:
            restore()
        if not failed:
            standin.assert_no_unexpected_violations()


__all__ = [
    "ALICE_ID",
    "APPLICATION_ID",
    "BOB_ID",
    "CAROL_ID",
    "GENERAL_ID",
    "GUILD_ID",
    "INTROS_ID",
    "MENTORS_ID",
    "MENTORS_ROLE_ID",
    "OLIVIA_ID",
    "ORGANIZERS_ROLE_ID",
    "TOKEN",
    "DiscordStandIn",
    "Fault",
    "FaultRule",
    "InteractionHandle",
    "InteractionReply",
    "RecordedFile",
    "RecordedRequest",
    "SeedChannel",
    "SeedGuild",
    "SeedMember",
    "SeedRole",
    "SeedUser",
    "StoredAttachment",
    "StoredMessage",
    "ThreadState",
    "Violation",
    "World",
    "default_world",
    "running_discord",
]
