"""A Messenger for tests and benchmarks: records deliveries, behaves like a platform.

Why not a mock: the engine's exactly-once promise rests on the platform's idempotency semantics,
so this port has them. A message whose idempotency key was already delivered to the same
destination is deduplicated (Discord's ``enforce_nonce``), and ``find_sent`` answers from what
was delivered. Every send call that reaches the port is also counted in ``attempts``, so a test
can check that *we* never sent twice, not only that the platform hid it.

It can be told to fail: 429 with ``retry_after``, 5xx (``TemporaryFailure``), a member whose DMs
are closed (``RecipientUnreachable``), ``PermanentFailure``. With ``journal`` set, every send is
appended to a file and fsynced before the call returns, and a new port reads the file back: the
record survives a SIGKILL of the process (the kill test).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.messages import MemberAddress, Message
from bot.ports import (
    ChannelPost,
    Delivered,
    DeliveryError,
    Destination,
    DirectMessage,
    RecipientUnreachable,
    SpacePost,
)

log = logging.getLogger(__name__)


def destination_key(destination: Destination) -> str:
    if isinstance(destination, DirectMessage):
        return f"dm:{destination.member.platform_user_id}"
    if isinstance(destination, ChannelPost):
        return f"ch:{destination.channel}"
    if isinstance(destination, SpacePost):
        return f"sp:{destination.space_ref}"
    raise TypeError(destination)


@dataclass(frozen=True)
class Delivery:
    community: str
    destination: Destination
    message: Message | None
    key: str
    ref: str

    @property
    def text(self) -> str:
        return self.message.plain_text() if self.message is not None else ""


@dataclass
class _Failure:
    error: Callable[[], DeliveryError]
    times: int
    when: Callable[[Destination, str], bool]


@dataclass
class RecordingMessenger:
    """Records deliveries in order; deduplicates by (community, destination, key)."""

    journal: Path | None = None
    keep_messages: bool = True
    """False: remember only keys and refs (a benchmark's 100k messages would weigh on the GC)."""
    platform: str = "test"
    deliveries: list[Delivery] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    """Send calls that reached the port, by idempotency key (failed and deduplicated included)."""
    delivered_count: int = 0
    deduplicated: int = 0
    find_calls: int = 0
    searched_since: list[datetime | None] = field(default_factory=list)
    """The ``since`` of every ``find_sent`` call, in order (what the engine said it knew)."""
    closed_dms: set[str] = field(default_factory=set)
    spaces: dict[tuple[str, ...], str] = field(default_factory=dict)
    _by_key: dict[tuple[str, str, str], str] = field(default_factory=dict)
    _failures: list[_Failure] = field(default_factory=list)
    _fd: int | None = None

    def __post_init__(self) -> None:
        if self.journal is None:
            return
        if self.journal.exists():
            for line in self.journal.read_text().splitlines(keepends=True):
                if not line.endswith("\n"):
                    continue  # torn write: the process died before the delivery was complete
                community, dest, key = line.rstrip("\n").split("\t")
                self.attempts[key] += 1
                self._by_key.setdefault((community, dest, key), f"msg-{key}")
        self._fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    # -- telling it to fail ------------------------------------------------------------------

    def fail_next(
        self,
        error: Callable[[], DeliveryError],
        *,
        times: int = 1,
        when: Callable[[Destination, str], bool] | None = None,
    ) -> None:
        """The next ``times`` matching sends raise ``error()`` (e.g. ``lambda: RateLimited(5)``)."""
        self._failures.append(_Failure(error, times, when or (lambda _d, _k: True)))

    def close_dms(self, platform_user_id: str) -> None:
        """This member refuses direct messages from the bot (Discord 50007)."""
        self.closed_dms.add(platform_user_id)

    # -- what was delivered ------------------------------------------------------------------

    def keys(self) -> list[str]:
        return [d.key for d in self.deliveries]

    def to(self, destination: Destination) -> list[Delivery]:
        want = destination_key(destination)
        return [d for d in self.deliveries if destination_key(d.destination) == want]

    def texts(self) -> list[str]:
        return [d.text for d in self.deliveries]

    # -- the Messenger port ------------------------------------------------------------------

    async def send(
        self,
        community_external_id: str,
        destination: Destination,
        message: Message,
        idempotency_key: str,
    ) -> Delivered:
        for failure in self._failures:
            if failure.times > 0 and failure.when(destination, idempotency_key):
                failure.times -= 1
                raise failure.error()
        if (
            isinstance(destination, DirectMessage)
            and destination.member.platform_user_id in self.closed_dms
        ):
            raise RecipientUnreachable("cannot send messages to this user (50007)")
        self.attempts[idempotency_key] += 1
        dest = destination_key(destination)
        index = (community_external_id, dest, idempotency_key)
        if self._fd is not None:
            os.write(self._fd, f"{community_external_id}\t{dest}\t{idempotency_key}\n".encode())
            os.fsync(self._fd)
        existing = self._by_key.get(index)
        if existing is not None:
            self.deduplicated += 1
            return Delivered(existing)
        ref = f"msg-{idempotency_key}"
        self._by_key[index] = ref
        self.delivered_count += 1
        if self.keep_messages:
            self.deliveries.append(
                Delivery(community_external_id, destination, message, idempotency_key, ref)
            )
        return Delivered(ref)

    async def find_sent(
        self, community_external_id: str, destination: Destination, idempotency_key: str,
        *, since: datetime | None = None,
    ) -> Delivered | None:
        """Answers from every delivery, whatever ``since`` says (recorded for the tests)."""
        self.find_calls += 1
        self.searched_since.append(since)
        ref = self._by_key.get(
            (community_external_id, destination_key(destination), idempotency_key)
        )
        return Delivered(ref) if ref is not None else None

    async def open_space(
        self, community_external_id: str, key: str, members: Sequence[MemberAddress],
        title: str, parent_channel: str | None,
    ) -> str:
        """One space per key, as the platforms' adapters find theirs again."""
        return self.spaces.setdefault((community_external_id, key), f"space-{len(self.spaces)}")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
