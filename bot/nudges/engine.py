"""The nudge engine: deliver every due nudge exactly once, from the nudge table.

The table is the truth. A run claims due rows atomically (``pending`` → ``sending`` under a
fresh token, so two processes never take the same row), renders each from the current state,
sends it through the adapter's :class:`~bot.ports.Messenger` with an idempotency key, and marks
the outcome: ``sent``, ``stale`` (with the reason) or ``failed`` (with the error, and organizers
told). A row left in ``sending`` by a process that died is recovered: the platform is asked
whether it already has the message, and it is sent if and only if not.

Platform trouble: 429 waits for Retry-After (the whole batch steps back), 5xx and time-outs back
off exponentially up to ``max_attempts``, a refused DM falls back to a mention in a channel.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot import notifications as n
from bot.clock import Clock
from bot.config import CommunityDefaults, NudgeSettings
from bot.domain import Community
from bot.messages import MessageBuilder
from bot.ports import (
    ChannelPost,
    Delivered,
    Destination,
    DirectMessage,
    Messenger,
    PermanentFailure,
    RateLimited,
    RecipientUnreachable,
    SpacePost,
)
from storage.store import NewNudge, NudgeRow, Store, Tx

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)


def idempotency_key(nudge_id: int) -> str:
    """The mark a platform stores with the message, so a resend after a crash can be avoided."""
    return f"mentorbot-nudge-{nudge_id}"


@dataclass
class RunStats:
    sent: int = 0
    stale: int = 0
    failed: int = 0
    retried: int = 0
    recovered: int = 0
    fallbacks: int = 0

    def add(self, other: RunStats) -> None:
        for key in vars(self):
            setattr(self, key, getattr(self, key) + getattr(other, key))

    @property
    def handled(self) -> int:
        return self.sent + self.stale + self.failed + self.retried


@dataclass
class _Batch:
    sent: list[tuple[int, str, str | None, str | None]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    follow_ups: list[NewNudge] = field(default_factory=list)


class NudgeEngine:
    """Claims, renders, sends and records nudges. Safe to run in several processes at once."""

    def __init__(
        self,
        store: Store,
        messenger: Messenger,
        clock: Clock,
        settings: NudgeSettings,
        defaults: CommunityDefaults,
    ) -> None:
        self.store = store
        self.messenger = messenger
        self.clock = clock
        self.settings = settings
        self.defaults = defaults
        self._communities: dict[int, tuple[Community, CommunityDefaults]] = {}

    async def run_due(self, *, max_batches: int | None = None) -> RunStats:
        """Deliver everything due now (in batches, yielding to the event loop between them)."""
        total = RunStats()
        batches = 0
        while max_batches is None or batches < max_batches:
            token = uuid.uuid4().hex
            now = self.clock.now()
            async with self.store.transaction() as tx:
                claimed = await tx.claim_due_nudges(now, self.settings.batch_size, token)
            if not claimed:
                break
            total.add(await self._deliver(claimed, token))
            batches += 1
            await asyncio.sleep(0)  # let commands in: never stall the loop with a backlog
        return total

    async def recover(self, *, older_than: timedelta | None = None) -> RunStats:
        """Resolve nudges left in ``sending`` by a process that died.

        Each is sent if and only if the platform does not already have it.
        """
        cutoff_age = (
            older_than
            if older_than is not None
            else timedelta(seconds=self.settings.claim_timeout_seconds)
        )
        total = RunStats()
        while True:
            now = self.clock.now()
            token = uuid.uuid4().hex
            async with self.store.transaction() as tx:
                stuck = await tx.stuck_nudges(now - cutoff_age + timedelta(microseconds=1),
                                              self.settings.batch_size)
                mine = [
                    s for s in stuck
                    if await tx.reclaim_nudge(s.id, s.claim_token, token, now)
                ]
            if not stuck:
                break
            if not mine:
                continue
            log.warning("recovering %d nudge(s) whose sending was interrupted", len(mine))
            stats = await self._deliver(mine, token, check_platform_first=True)
            stats.recovered = len(mine)
            total.add(stats)
        return total

    async def next_due(self) -> datetime | None:
        async with self.store.transaction() as tx:
            return await tx.next_nudge_due()

    # -- internals ---------------------------------------------------------------------------

    async def _community(self, tx: Tx, community_id: int) -> tuple[Community, CommunityDefaults]:
        community = await tx.community_by_id(community_id)
        if community is None:
            raise LookupError(f"community {community_id} is gone")
        overrides = await tx.community_settings(community_id)
        return community, self.defaults.model_copy(update=overrides)

    async def _deliver(
        self, claimed: Sequence[NudgeRow], token: str, *, check_platform_first: bool = False
    ) -> RunStats:
        stats = RunStats()
        batch = _Batch()
        now = self.clock.now()
        rendered: list[tuple[NudgeRow, Community, n.Rendered]] = []
        communities: dict[int, tuple[Community, CommunityDefaults]] = {}
        async with self.store.transaction() as tx:
            for nudge in claimed:
                if nudge.community_id not in communities:
                    communities[nudge.community_id] = await self._community(tx, nudge.community_id)
                community, settings = communities[nudge.community_id]
                ctx = n.RenderContext(tx, community, settings, now)
                try:
                    result = await n.render(ctx, nudge)
                except Exception as exc:  # a bug in a renderer must not block the others
                    log.exception("rendering nudge %s (%s) failed", nudge.id, nudge.kind)
                    result = n.Stale(f"could not render: {type(exc).__name__}")
                batch.follow_ups.extend(ctx.follow_ups)
                rendered.append((nudge, community, result))
        rate_limited_until: datetime | None = None
        for nudge, community, result in rendered:
            if isinstance(result, n.Stale):
                batch.outcomes.append(self._final(nudge, token, "stale", result.reason))
                stats.stale += 1
                continue
            if isinstance(result, n.Done):
                batch.outcomes.append(self._final(nudge, token, "sent", result.outcome))
                stats.sent += 1
                continue
            if rate_limited_until is not None:
                batch.outcomes.append(self._retry(nudge, token, rate_limited_until, count=False))
                stats.retried += 1
                continue
            try:
                delivered, note = await self._send(
                    community, nudge, result, check_platform_first=check_platform_first
                )
            except RateLimited as exc:
                rate_limited_until = self.clock.now() + timedelta(seconds=max(exc.retry_after, 0.5))
                log.warning("rate limited for %.1fs; stepping back", exc.retry_after)
                batch.outcomes.append(self._retry(nudge, token, rate_limited_until, count=False))
                stats.retried += 1
                continue
            except (RecipientUnreachable, PermanentFailure) as exc:
                self._give_up(nudge, token, str(exc) or type(exc).__name__, batch, communities)
                stats.failed += 1
                continue
            except Exception as exc:  # 5xx, time-outs, connection errors, adapter bugs
                log.warning("sending nudge %s failed: %s", nudge.id, exc, exc_info=True)
                if nudge.attempts + 1 >= self.settings.max_attempts:
                    self._give_up(
                        nudge, token,
                        f"gave up after {nudge.attempts + 1} attempts: {exc or type(exc).__name__}",
                        batch, communities,
                    )
                    stats.failed += 1
                else:
                    delay = min(BACKOFF_BASE * (2 ** nudge.attempts), BACKOFF_MAX)
                    batch.outcomes.append(self._retry(nudge, token, self.clock.now() + delay))
                    stats.retried += 1
                continue
            batch.sent.append((nudge.id, token, delivered.ref, note))
            stats.sent += 1
            if note:
                stats.fallbacks += 1
        async with self.store.transaction() as tx:
            await tx.mark_nudges_sent(batch.sent, self.clock.now())
            await tx.finish_nudges(batch.outcomes)
            await tx.add_nudges(batch.follow_ups, self.clock.now())
        return stats

    async def _send(
        self,
        community: Community,
        nudge: NudgeRow,
        out: n.Outgoing,
        *,
        check_platform_first: bool,
    ) -> tuple[Delivered, str | None]:
        key = idempotency_key(nudge.id)
        destination = await self._destination(community, out)
        if check_platform_first:
            found = await self.messenger.find_sent(community.external_id, destination, key)
            if found is not None:
                return found, "found already delivered after a restart"
        try:
            return await self.messenger.send(
                community.external_id, destination, out.message, key
            ), None
        except RecipientUnreachable as exc:
            if not isinstance(destination, DirectMessage) or not out.fallback_channel:
                raise
            member = destination.member
            fallback = (
                MessageBuilder()
                .mention(member, ping=True)
                .say(" I tried to send you a private message but couldn't. "
                     "Please allow direct messages from me, then type `my` to catch up.")
                .build()
            )
            delivered = await self.messenger.send(
                community.external_id, ChannelPost(out.fallback_channel), fallback, key + "-fb"
            )
            return delivered, f"private message refused ({exc}); mentioned in {out.fallback_channel}"

    async def _destination(self, community: Community, out: n.Outgoing) -> Destination:
        if not isinstance(out.destination, n.OpenSpace):
            return out.destination
        space = out.destination
        ref = await self.messenger.open_space(community.external_id, space.members, space.title)
        async with self.store.transaction() as tx:
            await tx.set_intro_space(space.intro_id, ref)
        return SpacePost(ref)

    def _final(self, nudge: NudgeRow, token: str, state: str, outcome: str) -> dict[str, Any]:
        return {"id": nudge.id, "token": token, "state": state, "outcome": outcome[:1000],
                "sent_at": self.clock.now() if state == "sent" else None}

    def _retry(
        self, nudge: NudgeRow, token: str, due_at: datetime, *, count: bool = True
    ) -> dict[str, Any]:
        return {"id": nudge.id, "token": token, "state": "pending", "due_at": due_at,
                "attempts": nudge.attempts + (1 if count else 0)}

    def _give_up(
        self,
        nudge: NudgeRow,
        token: str,
        error: str,
        batch: _Batch,
        communities: dict[int, tuple[Community, CommunityDefaults]],
    ) -> None:
        log.error("nudge %s (%s) failed for good: %s", nudge.id, nudge.kind, error)
        batch.outcomes.append(
            {"id": nudge.id, "token": token, "state": "failed", "outcome": error[:1000],
             "attempts": nudge.attempts + 1}
        )
        _community, settings = communities[nudge.community_id]
        if nudge.kind != n.ORGANIZER_ALERT and settings.organizer_channel:
            batch.follow_ups.append(
                NewNudge(
                    nudge.community_id, n.ORGANIZER_ALERT, self.clock.now(),
                    channel=settings.organizer_channel,
                    payload={"text": f"A {nudge.kind} message (nudge #{nudge.id}) could not "
                                     f"be delivered: {error[:300]}"},
                )
            )


__all__ = ["ChannelPost", "NudgeEngine", "RunStats", "idempotency_key"]
