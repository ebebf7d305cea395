"""The stand-in Discord's gateway: a websocket speaking Discord's real gateway protocol (v10).

discord.py connects with ``?v=10&encoding=json&compress=zlib-stream``; every frame the stand-in
sends then goes through one ``zlib.compressobj`` per connection, flushed with ``Z_SYNC_FLUSH``
(the client buffers until it sees ``00 00 ff ff``). Without ``compress`` frames are plain text.

The conversation, as Discord has it:

    server: HELLO (op 10, heartbeat_interval)
    client: HEARTBEAT (op 1)                 -> server: HEARTBEAT_ACK (op 11)
    client: IDENTIFY (op 2, token, intents, shard)
    server: READY (op 0, t=READY, s=1: user, unavailable guilds, session_id, resume_gateway_url,
            application {id, flags}) then GUILD_CREATE per guild of the shard
    server: DISPATCH (op 0) events with a growing sequence number ``s``

Drops: :meth:`DiscordGateway.drop` closes the connection (4000 by default, or abruptly: the
client sees 1006); :meth:`DiscordGateway.request_reconnect` sends RECONNECT (op 7). The client
then connects to ``resume_gateway_url`` and sends RESUME (op 6, session_id, seq): the stand-in
replays every event of the session with a higher sequence number, then sends RESUMED.
:meth:`DiscordGateway.invalidate_session` sends INVALID_SESSION (op 9); a RESUME of an unknown or
invalidated session is answered with op 9 ``false`` too, and the client IDENTIFYs again.

Events dispatched while the client is disconnected are kept in the session and delivered by the
replay, as Discord does. Every frame in either direction is recorded (:attr:`frames`), tokens
redacted. Frames that break the protocol are reported to the stand-in as violations, and the
connection is closed with Discord's close code (4001 unknown opcode, 4002 decode error,
4003 not authenticated, 4004 authentication failed, 4005 already authenticated, 4010 invalid
shard, 4012 invalid API version, 4013 invalid intents, 4014 disallowed intents).

The second half of this module builds INTERACTION_CREATE payloads (slash commands with options
and subcommands, autocomplete, component clicks, modal submits) from what the bot registered or
sent: the stand-in (``tests/standins/discord.py``) calls these with its own state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from tests.standins.discord_spec import GATEWAY_VERSION, Problem, check_gateway_frame

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE_UPDATE = 0, 1, 2, 3
RESUME, RECONNECT, REQUEST_GUILD_MEMBERS, INVALID_SESSION = 6, 7, 8, 9
HELLO, HEARTBEAT_ACK = 10, 11

#: Privileged intents: GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT
ALL_INTENTS = (1 << 26) - 1


def _redact(frame: Any) -> Any:
    """A copy of a client frame with the bot token replaced: recordings never hold secrets."""
    if isinstance(frame, dict) and isinstance(frame.get("d"), dict) and "token" in frame["d"]:
        return {**frame, "d": {**frame["d"], "token": "<redacted>"}}
    return frame


@dataclass(frozen=True)
class GatewayFrame:
    """One recorded frame. ``direction`` is "received" (from the bot) or "sent" (to the bot)."""

    at: float
    direction: str
    connection: int
    op: int | None
    t: str | None
    s: int | None
    d: Any


class GatewayHost(Protocol):
    """What the gateway needs from the stand-in that owns it (state lives there)."""

    token: str

    def now(self) -> float: ...

    def gateway_url(self, *, resume: bool = False) -> str: ...

    def ready_user(self) -> dict[str, Any]: ...

    def ready_application(self, privileged_intents: int) -> dict[str, Any]: ...

    def guild_ids(self) -> list[str]: ...

    def guild_create(self, guild_id: str, intents: int) -> dict[str, Any]: ...

    def guild_member_payloads(self, guild_id: str) -> list[dict[str, Any]]: ...

    def report_violation(self, where: str, problems: Sequence[Problem], status: int) -> None: ...

    def changed(self) -> None: ...


@dataclass
class GatewaySession:
    """An IDENTIFY'd session: survives drops until resumed, invalidated or replaced."""

    session_id: str
    shard: tuple[int, int]
    intents: int
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    connection: GatewayConnection | None = None
    invalidated: bool = False

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


@dataclass
class GatewayConnection:
    """One websocket. ``session`` is set by IDENTIFY or RESUME."""

    number: int
    ws: web.WebSocketResponse
    request: web.Request
    path: str
    compress: str | None
    session: GatewaySession | None = None
    live: bool = False  # may receive dispatches (after READY was sent, or after RESUMED)
    compressor: Any = None
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    close_code: int | None = None

    def encode(self, frame: Mapping[str, Any]) -> bytes | str:
        text = json.dumps(frame, separators=(",", ":"))
        if self.compress == "zlib-stream":
            compressed: bytes = self.compressor.compress(text.encode())
            return compressed + bytes(self.compressor.flush(zlib.Z_SYNC_FLUSH))
        if self.compress == "zstd-stream":
            return _zstd_frame(self.compressor, text.encode())
        return text


def _zstd_compressor() -> Any:
    """Only when discord.py itself found a zstd module (Python 3.14's compression.zstd, or
    zstandard). Not exercised on Python 3.11 where neither is installed."""
    try:
        from compression.zstd import ZstdCompressor

        return ("stdlib", ZstdCompressor())
    except ImportError:
        import zstandard

        return ("zstandard", zstandard.ZstdCompressor().compressobj())


def _zstd_frame(compressor: Any, data: bytes) -> bytes:
    kind, obj = compressor
    if kind == "stdlib":
        return bytes(obj.compress(data, mode=obj.FLUSH_BLOCK))
    import zstandard

    return bytes(obj.compress(data) + obj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))


class DiscordGateway:
    """The websocket side of the stand-in. Create one per stand-in; mount :meth:`handle`."""

    def __init__(
        self,
        host: GatewayHost,
        *,
        heartbeat_interval_ms: int = 41_250,
        shard_count: int = 1,
        privileged_intents: int = PRIVILEGED_INTENTS,
    ) -> None:
        self.host = host
        self.heartbeat_interval_ms = heartbeat_interval_ms
        #: What GET /gateway/bot recommends; the bot may identify with another count (Discord
        #: allows it) and events are then routed by the count it used.
        self.shard_count = shard_count
        self.active_shard_count = shard_count
        #: The privileged intents "enabled in the developer portal": asking for others is 4014.
        self.privileged_intents = privileged_intents
        self.frames: list[GatewayFrame] = []
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: list[GatewayConnection] = []
        self.session_starts = 0

    # ---------------------------------------------------------------- queries for tests

    def received(self, op: int | None = None) -> list[GatewayFrame]:
        """Frames the bot sent, optionally only one opcode (2 IDENTIFY, 6 RESUME...)."""
        return [f for f in self.frames if f.direction == "received" and (op is None or f.op == op)]

    def sent(self, event: str | None = None, *, op: int | None = None) -> list[GatewayFrame]:
        """Frames the stand-in sent, optionally only one dispatch event name or opcode."""
        return [
            f
            for f in self.frames
            if f.direction == "sent"
            and (event is None or f.t == event)
            and (op is None or f.op == op)
        ]

    @property
    def open_connections(self) -> list[GatewayConnection]:
        return [c for c in self.connections if not c.ws.closed and c.close_code is None]

    def session_for_shard(self, shard_id: int = 0) -> GatewaySession:
        """The current (latest, not invalidated) session of a shard."""
        candidates = [
            s for s in self.sessions.values() if s.shard[0] == shard_id and not s.invalidated
        ]
        if not candidates:
            raise LookupError(
                f"no gateway session for shard {shard_id}: is the client connected "
                "(await client.wait_until_ready())?"
            )
        return candidates[-1]

    def shard_of_guild(self, guild_id: str | None) -> int:
        if guild_id is None:
            return 0  # DMs arrive on shard 0
        return (int(guild_id) >> 22) % self.active_shard_count

    # ---------------------------------------------------------------- dispatching

    async def dispatch(
        self, event: str, data: Mapping[str, Any], *, guild_id: str | None = None
    ) -> int:
        """Send a DISPATCH to the session of the guild's shard; returns its sequence number.

        When that session has no live connection (dropped, resuming) the event waits in the
        session and goes out with the replay after RESUME.
        """
        session = self.session_for_shard(self.shard_of_guild(guild_id))
        return await self._dispatch_to(session, event, dict(data))

    async def _dispatch_to(self, session: GatewaySession, event: str, data: dict[str, Any]) -> int:
        seq = session.next_seq()
        frame = {"op": DISPATCH, "t": event, "s": seq, "d": data}
        session.events.append(frame)
        connection = session.connection
        if connection is not None and connection.live:
            await self._send(connection, frame)
        self.host.changed()
        return seq

    # ---------------------------------------------------------------- faults

    async def drop(
        self, *, code: int = 4000, abrupt: bool = False, shard_id: int | None = None
    ) -> None:
        """Close the live connection(s): with a close code the client may resume after (4000
        by default), or abruptly (TCP reset; the client sees 1006)."""
        for connection in list(self.open_connections):
            if shard_id is not None and (
                connection.session is None or connection.session.shard[0] != shard_id
            ):
                continue
            connection.live = False
            connection.close_code = 1006 if abrupt else code
            if abrupt:
                transport = connection.request.transport
                if transport is not None:
                    transport.abort()
            else:
                await connection.ws.close(code=code, message=b"stand-in drop")
        self.host.changed()

    async def request_reconnect(self, *, shard_id: int = 0) -> None:
        """Send RECONNECT (op 7): the client closes and resumes."""
        connection = self.session_for_shard(shard_id).connection
        if connection is None:
            raise LookupError("the session has no connection to send RECONNECT on")
        await self._send(connection, {"op": RECONNECT, "d": None, "s": None, "t": None})
        # Nothing more goes out on a connection told to go away: later events wait for RESUME.
        connection.live = False

    async def invalidate_session(self, *, resumable: bool = False, shard_id: int = 0) -> None:
        """Send INVALID_SESSION (op 9). ``resumable=False`` forgets the session: the client
        must IDENTIFY again (and discord.py fires ``on_ready`` a second time)."""
        session = self.session_for_shard(shard_id)
        if not resumable:
            session.invalidated = True
        connection = session.connection
        if connection is not None:
            connection.live = False
            await self._send(
                connection, {"op": INVALID_SESSION, "d": resumable, "s": None, "t": None}
            )

    async def close_all(self) -> None:
        for connection in list(self.open_connections):
            connection.live = False
            connection.close_code = 1001
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    connection.ws.close(code=1001, message=b"stand-in stopping"), 1.0
                )

    # ---------------------------------------------------------------- the websocket

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        query = request.query
        compress = query.get("compress")
        connection = GatewayConnection(
            number=len(self.connections) + 1,
            ws=ws,
            request=request,
            path=request.path,
            compress=compress,
        )
        self.connections.append(connection)
        problems: list[Problem] = []
        if query.get("v") != str(GATEWAY_VERSION):
            problems.append(
                Problem(("v",), f"Connect with v={GATEWAY_VERSION}.", source="protocol")
            )
        if query.get("encoding", "json") != "json":
            problems.append(
                Problem(("encoding",), "The stand-in speaks encoding=json only.", source="protocol")
            )
        if compress not in (None, "zlib-stream", "zstd-stream"):
            problems.append(
                Problem(("compress",), f"Unknown compression {compress!r}.", source="protocol")
            )
        if problems:
            await self._refuse(connection, 4012 if problems[0].where == ("v",) else 4002, problems)
            return ws
        if compress == "zlib-stream":
            connection.compressor = zlib.compressobj()
        elif compress == "zstd-stream":
            connection.compressor = _zstd_compressor()
        await self._send(
            connection,
            {
                "op": HELLO,
                "s": None,
                "t": None,
                "d": {
                    "heartbeat_interval": self.heartbeat_interval_ms,
                    "_trace": ['["gateway-standin",{}]'],
                },
            },
        )
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await self._on_text(connection, message.data)
                elif message.type is WSMsgType.BINARY:
                    await self._refuse(
                        connection,
                        4002,
                        [Problem((), "Clients send text frames.", source="protocol")],
                    )
                elif message.type is WSMsgType.ERROR:
                    break
                if connection.close_code is not None:
                    break
        finally:
            connection.live = False
            if connection.session is not None and connection.session.connection is connection:
                connection.session.connection = None
            if connection.close_code is None:
                connection.close_code = ws.close_code or 1000
            self.host.changed()
        return ws

    async def _on_text(self, connection: GatewayConnection, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            await self._refuse(
                connection, 4002, [Problem((), "Frame is not JSON.", source="protocol")]
            )
            return
        self._record(connection, "received", _redact(frame))
        problems = check_gateway_frame(frame)
        op = frame.get("op") if isinstance(frame, dict) else None
        if problems:
            close_codes: dict[tuple[str | int, ...], int] = {("op",): 4001, ("d", "shard"): 4010}
            code = close_codes.get(problems[0].where, 4002)
            await self._refuse(connection, code, problems, op=op)
            return
        data = frame.get("d")
        if op == HEARTBEAT:
            await self._send(connection, {"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == IDENTIFY:
            await self._identify(connection, data)
        elif op == RESUME:
            await self._resume(connection, data)
        elif op == REQUEST_GUILD_MEMBERS:
            await self._request_members(connection, data)
        elif connection.session is None:
            await self._refuse(
                connection,
                4003,
                [Problem(("op",), f"op {op} before IDENTIFY.", source="protocol")],
                op=op,
            )
        self.host.changed()

    async def _identify(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        if connection.session is not None:
            await self._refuse(
                connection,
                4005,
                [Problem((), "IDENTIFY sent twice on one connection.", source="protocol")],
                op=IDENTIFY,
            )
            return
        if data["token"] != self.host.token and data["token"] != f"Bot {self.host.token}":
            await self._refuse(
                connection,
                4004,
                [Problem(("d", "token"), "Authentication failed.", source="protocol")],
                op=IDENTIFY,
            )
            return
        shard = tuple(data.get("shard") or (0, 1))  # a malformed shard was refused (4002) already
        intents = data["intents"]
        if intents < 0 or intents >= 1 << 26:
            await self._refuse(
                connection,
                4013,
                [Problem(("d", "intents"), "Invalid intents.", source="protocol")],
                op=IDENTIFY,
            )
            return
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await self._refuse(
                connection,
                4014,
                [
                    Problem(
                        ("d", "intents"),
                        "Disallowed intent(s): enable them in the developer portal.",
                        source="protocol",
                    )
                ],
                op=IDENTIFY,
            )
            return
        self.session_starts += 1
        self.active_shard_count = shard[1]
        session = GatewaySession(
            session_id=secrets.token_hex(16), shard=(shard[0], shard[1]), intents=intents
        )
        for old in self.sessions.values():
            if old.shard == session.shard:
                old.invalidated = True  # a new IDENTIFY replaces the shard's old session
        self.sessions[session.session_id] = session
        connection.session = session
        session.connection = connection
        guild_ids = [g for g in self.host.guild_ids() if self.shard_of_guild(g) == shard[0]]
        ready = {
            "v": GATEWAY_VERSION,
            "user": self.host.ready_user(),
            "user_settings": {},
            "guilds": [{"id": g, "unavailable": True} for g in guild_ids],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.host.gateway_url(resume=True),
            "shard": [shard[0], shard[1]],
            "application": self.host.ready_application(self.privileged_intents),
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["standin"],
            "_trace": ['["gateway-standin",{}]'],
        }
        connection.live = True
        await self._dispatch_to(session, "READY", ready)
        for guild_id in guild_ids:
            await self._dispatch_to(
                session, "GUILD_CREATE", self.host.guild_create(guild_id, intents)
            )

    async def _resume(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        if data["token"] != self.host.token and data["token"] != f"Bot {self.host.token}":
            await self._refuse(
                connection,
                4004,
                [Problem(("d", "token"), "Authentication failed.", source="protocol")],
                op=RESUME,
            )
            return
        session = self.sessions.get(data["session_id"])
        if session is None or session.invalidated:
            # Discord's answer to an unknown session: INVALID_SESSION, not resumable.
            await self._send(connection, {"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        previous = session.connection
        if previous is not None and previous is not connection:
            previous.live = False
        session.connection = connection
        connection.session = session
        last_seen = data.get("seq") or 0
        for frame in [f for f in session.events if f["s"] > last_seen]:
            await self._send(connection, frame)
        connection.live = True
        await self._send(
            connection,
            {
                "op": DISPATCH,
                "t": "RESUMED",
                "s": session.next_seq(),
                "d": {"_trace": ['["gateway-standin",{}]']},
            },
        )

    async def _request_members(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        session = connection.session
        if session is None:
            await self._refuse(
                connection,
                4003,
                [Problem(("op",), "op 8 before IDENTIFY.", source="protocol")],
                op=REQUEST_GUILD_MEMBERS,
            )
            return
        guild_id = str(data["guild_id"])
        members = self.host.guild_member_payloads(guild_id)
        wanted = data.get("user_ids")
        if wanted is not None:
            ids = {str(x) for x in (wanted if isinstance(wanted, list) else [wanted])}
            members = [m for m in members if m["user"]["id"] in ids]
        elif data.get("query"):
            query = str(data["query"]).lower()
            members = [m for m in members if m["user"]["username"].lower().startswith(query)]
        limit = data.get("limit") or 0
        if limit:
            members = members[:limit]
        chunk = {
            "guild_id": guild_id,
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _refuse(
        self,
        connection: GatewayConnection,
        code: int,
        problems: Sequence[Problem],
        *,
        op: int | None = None,
    ) -> None:
        self.host.report_violation(
            f"gateway op {op}" if op is not None else "gateway", problems, code
        )
        connection.live = False
        connection.close_code = code
        await connection.ws.close(code=code, message=problems[0].message.encode()[:120])

    async def _send(self, connection: GatewayConnection, frame: Mapping[str, Any]) -> None:
        async with connection.send_lock:
            if connection.ws.closed:
                return
            encoded = connection.encode(frame)
            try:
                if isinstance(encoded, bytes):
                    await connection.ws.send_bytes(encoded)
                else:
                    await connection.ws.send_str(encoded)
            except (ConnectionError, RuntimeError) as error:
                log.debug("gateway send failed on connection %s: %s", connection.number, error)
                return
        self._record(connection, "sent", frame)

    def _record(self, connection: GatewayConnection, direction: str, frame: Any) -> None:
        if not isinstance(frame, dict):
            frame = {"d": frame}
        self.frames.append(
            GatewayFrame(
                at=self.host.now(),
                direction=direction,
                connection=connection.number,
                op=frame.get("op"),
                t=frame.get("t"),
                s=frame.get("s"),
                d=frame.get("d"),
            )
        )


# ============================================================================================
# INTERACTION_CREATE payloads
# ============================================================================================

#: resolve(option_type, value) -> (id, {"users": {...}, "members": {...}, "roles": ..., ...})
Resolver = Callable[[int, Any], tuple[str, dict[str, dict[str, Any]]]]

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = (
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
)


def _merge_resolved(
    into: dict[str, dict[str, Any]], extra: Mapping[str, Mapping[str, Any]]
) -> None:
    for kind, items in extra.items():
        into.setdefault(kind, {}).update(items)


def command_data(
    command: Mapping[str, Any],
    words: Sequence[str],
    options: Mapping[str, Any],
    *,
    resolve: Resolver,
    focused: str | None = None,
) -> dict[str, Any]:
    """``data`` of an APPLICATION_COMMAND (or AUTOCOMPLETE) interaction for a registered command.

    ``words`` are the subcommand group / subcommand after the command's name (``["find"]`` for
    ``/mentor find``); ``options`` map the leaf's option names to values (user/channel/role
    options take ids, or whatever ``resolve`` understands). With ``focused`` the named option is
    the one being typed: it carries ``focused: true`` and its raw value.
    """
    definitions: Sequence[Mapping[str, Any]] = command.get("options") or []
    path: list[Mapping[str, Any]] = []
    for word in words:
        found = next(
            (d for d in definitions if d.get("name") == word and d.get("type") in (1, 2)), None
        )
        if found is None:
            known = [d.get("name") for d in definitions if d.get("type") in (1, 2)]
            raise LookupError(f"/{command['name']} has no subcommand {word!r} here; it has {known}")
        path.append(found)
        definitions = found.get("options") or []
    if any(d.get("type") in (1, 2) for d in definitions):
        known = [d.get("name") for d in definitions]
        raise LookupError(
            f"/{' '.join([command['name'], *words])} needs a subcommand: one of {known}"
        )
    resolved: dict[str, dict[str, Any]] = {}
    leaf: list[dict[str, Any]] = []
    for name, value in options.items():
        definition = next((d for d in definitions if d.get("name") == name), None)
        if definition is None:
            raise LookupError(
                f"/{' '.join([command['name'], *words])} has no option {name!r}; "
                f"it has {[d.get('name') for d in definitions]}"
            )
        kind = int(definition["type"])
        entry: dict[str, Any] = {"name": name, "type": kind}
        if name == focused:
            entry["value"] = value
            entry["focused"] = True
        else:
            entry["value"] = _option_value(kind, value, resolve, resolved)
        leaf.append(entry)
    if focused is None:
        missing = [d["name"] for d in definitions if d.get("required") and d["name"] not in options]
        if missing:
            raise ValueError(
                f"Discord never sends a command without its required options {missing}"
            )
    elif focused not in options:
        raise ValueError(f"the focused option {focused!r} needs a (partial) value in options")
    nested: list[dict[str, Any]] = leaf
    for definition in reversed(path):
        nested = [{"name": definition["name"], "type": definition["type"], "options": nested}]
    data: dict[str, Any] = {
        "id": command["id"],
        "name": command["name"],
        "type": command.get("type", 1),
    }
    if nested:
        data["options"] = nested
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    if resolved:
        data["resolved"] = resolved
    return data


def _option_value(
    kind: int, value: Any, resolve: Resolver, resolved: dict[str, dict[str, Any]]
) -> Any:
    if kind == STRING:
        return str(value)
    if kind == INTEGER:
        return int(value)
    if kind == BOOLEAN:
        return bool(value)
    if kind == NUMBER:
        return float(value)
    if kind in (USER, CHANNEL, ROLE, MENTIONABLE, ATTACHMENT):
        identifier, extra = resolve(kind, value)
        _merge_resolved(resolved, extra)
        return identifier
    raise ValueError(f"option type {kind} is not one the stand-in can send")


def find_component(
    components: Sequence[Mapping[str, Any]], custom_id: str
) -> Mapping[str, Any] | None:
    """The component with that custom id, searched through rows, sections and containers."""
    for component in components:
        if component.get("custom_id") == custom_id:
            return component
        for key in ("components", "accessory", "component"):
            nested = component.get(key)
            children = (
                [nested] if isinstance(nested, dict) else nested if isinstance(nested, list) else []
            )
            found = find_component(children, custom_id)
            if found is not None:
                return found
    return None


def component_data(
    component: Mapping[str, Any], values: Sequence[Any] | None, *, resolve: Resolver
) -> dict[str, Any]:
    """``data`` of a MESSAGE_COMPONENT interaction: a button click or a select choice."""
    kind = int(component["type"])
    data: dict[str, Any] = {"custom_id": component["custom_id"], "component_type": kind}
    if "id" in component:
        data["id"] = component["id"]
    if kind == 2:
        if values:
            raise ValueError("a button click carries no values")
        return data
    chosen = list(values or [])
    resolved: dict[str, dict[str, Any]] = {}
    if kind == 3:
        allowed = [o.get("value") for o in component.get("options") or []]
        unknown = [v for v in chosen if v not in allowed]
        if unknown:
            raise ValueError(
                f"select {component['custom_id']!r} has no option(s) {unknown}; it has {allowed}"
            )
        data["values"] = chosen
    else:
        option_kind = {5: USER, 6: ROLE, 7: MENTIONABLE, 8: CHANNEL}[kind]
        ids = []
        for value in chosen:
            identifier, extra = resolve(option_kind, value)
            ids.append(identifier)
            _merge_resolved(resolved, extra)
        data["values"] = ids
        data["resolved"] = resolved
    return data


def modal_submit_data(
    modal: Mapping[str, Any], values: Mapping[str, Any], *, layout: str | None = None
) -> dict[str, Any]:
    """``data`` of a MODAL_SUBMIT for a modal the bot sent (callback type 9).

    ``values`` are keyed by an input's custom id or its label (discord.py makes random custom
    ids: labels are easier). ``layout`` None answers in the layout the modal was sent in;
    "action_row" or "label" forces one (Discord's old and new layouts; discord.py reads both).
    """
    if layout not in (None, "action_row", "label"):
        raise ValueError("layout is None, 'action_row' or 'label'")
    used: set[str] = set()
    submitted: list[dict[str, Any]] = []
    next_id = 1
    for top in modal.get("components") or []:
        if top.get("type") == 1:
            inner = (top.get("components") or [{}])[0]
            label = inner.get("label")
        elif top.get("type") == 18:
            inner = top.get("component") or {}
            label = top.get("label")
        else:
            continue  # text displays are not submitted
        custom_id = inner.get("custom_id")
        key = custom_id if custom_id in values else label if label in values else None
        if key is not None:
            used.add(key)
        answer: dict[str, Any] = {
            "type": inner.get("type"),
            "custom_id": custom_id,
            "id": next_id + 1,
        }
        value = values.get(key) if key is not None else None
        if inner.get("type") == 4:
            answer["value"] = "" if value is None else str(value)
        else:
            answer["values"] = (
                [] if value is None else list(value) if isinstance(value, list | tuple) else [value]
            )
        wanted = layout or ("label" if top.get("type") == 18 else "action_row")
        if wanted == "label":
            submitted.append({"type": 18, "id": next_id, "component": answer})
        else:
            submitted.append({"type": 1, "id": next_id, "components": [answer]})
        next_id += 2
    unknown = set(values) - used
    if unknown:
        raise LookupError(f"the modal {modal.get('title')!r} has no input {sorted(unknown)}")
    return {"custom_id": modal["custom_id"], "components": submitted}


def interaction_payload(
    *,
    interaction_id: str,
    application_id: str,
    kind: int,
    token: str,
    data: Mapping[str, Any] | None,
    channel: Mapping[str, Any],
    guild_id: str | None,
    member: Mapping[str, Any] | None,
    user: Mapping[str, Any] | None,
    app_permissions: str,
    message: Mapping[str, Any] | None = None,
    locale: str = "en-US",
    guild_locale: str = "en-US",
) -> dict[str, Any]:
    """An INTERACTION_CREATE ``d`` with every field discord.py 2.7's Interaction reads.

    In a guild: ``guild_id``, ``guild``, ``member`` (with ``user`` and ``permissions``),
    ``context`` 0. In a DM with the bot: ``user``, no guild, ``context`` 1.
    """
    payload: dict[str, Any] = {
        "id": interaction_id,
        "application_id": application_id,
        "type": kind,
        "token": token,
        "version": 1,
        "channel": dict(channel),
        "channel_id": channel["id"],
        "app_permissions": app_permissions,
        "locale": locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": 10 * 1024 * 1024,
    }
    if data is not None:
        payload["data"] = dict(data)
    if guild_id is not None:
        payload["guild_id"] = guild_id
        payload["guild"] = {"id": guild_id, "locale": guild_locale, "features": []}
        payload["guild_locale"] = guild_locale
        payload["member"] = dict(member or {})
        payload["authorizing_integration_owners"] = {"0": guild_id}
        payload["context"] = 0
    else:
        payload["user"] = dict(user or {})
        # A guild-installed app in a DM with its bot user: the guild key carries "0".
        payload["authorizing_integration_owners"] = {"0": "0"}
        payload["context"] = 1
    if message is not None:
        payload["message"] = dict(message)
    return payload
