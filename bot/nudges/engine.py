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
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

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
#: Yield to the event loop every so many nudges rendered or sent: a batch's Python work runs
#: without awaiting anything when renderers and the platform answer at once.
YIELD_EVERY = 100


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


class _Out(NamedTuple):
    """A claimed nudge rendered into a message, waiting to be sent (a tuple: hundreds a batch)."""

    nudge: NudgeRow
    community: Community
    settings: CommunityDefaults
    out: n.Outgoing


class _Communities(dict[int, tuple[Community, CommunityDefaults]]):
    """Communities and their settings, read once per few seconds during a run, not per row."""

    TTL = 5.0

    def __init__(self) -> None:
        super().__init__()
        self._since = time.monotonic()

    def expire(self) -> None:
        if time.monotonic() - self._since > self.TTL:
            self.clear()
            self._since = time.monotonic()


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
        self.hold_until: datetime | None = None
        """After a 429: no new claims before this time (the platform asked us to wait)."""

    async def run_due(self, *, max_batches: int | None = None) -> RunStats:
        """Deliver everything due now (in batches, yielding to the event loop between them).

        The outcomes of one batch are recorded in the same transaction that claims the next
        (one transaction per batch instead of two while a backlog drains); until then those
        rows stay ``sending``, which recovery resolves if the process dies in between.
        """
        total = RunStats()
        batches = 0
        communities = _Communities()
        unrecorded: _Batch | None = None
        try:
            while max_batches is None or batches < max_batches:
                if self.held():
                    break
                token = uuid.uuid4().hex
                async with self.store.transaction() as tx:
                    if unrecorded is not None:
                        await self._record(tx, unrecorded)
                    claimed = await tx.claim_due_nudges(
                        self.clock.now(), self.settings.batch_size, token
                    )
                    if claimed:
                        stats, outgoing = await self._render(tx, claimed, token, communities)
                unrecorded = None  # committed (on an error, ``finally`` records it alone)
                if not claimed:
                    break
                unrecorded, sent = await self._send_batch(outgoing, token)
                stats.add(sent)
                total.add(stats)
                batches += 1
                await asyncio.sleep(0)  # let commands in: never stall the loop with a backlog
        finally:
            if unrecorded is not None:
                async with self.store.transaction() as tx:
                    await self._record(tx, unrecorded)
        return total

    async def recover(self, *, older_than: timedelta | None = None) -> RunStats:
        """Resolve nudges left in ``sending`` by a process that died.

        Each is sent if and only if the platform does not already have it (asked with the
        nudge's idempotency key). ``older_than`` is how long a claim must be unanswered before
        it counts as abandoned; ``timedelta(0)`` is right only when no other process runs.
        """
        cutoff_age = (
            older_than
            if older_than is not None
            else timedelta(seconds=self.settings.claim_timeout_seconds)
        )
        total = RunStats()
        communities = _Communities()
        cutoff = self.clock.now() - cutoff_age + timedelta(microseconds=1)
        after_id = 0
        while True:
            token = uuid.uuid4().hex
            now = self.clock.now()
            async with self.store.transaction() as tx:
                mine = await tx.reclaim_stuck_nudges(
                    cutoff, after_id, self.settings.batch_size, token, now
                )
                if not mine:
                    break
                after_id = mine[-1].id
                log.warning("recovering %d nudge(s) whose sending was interrupted", len(mine))
                stats, outgoing = await self._render(tx, mine, token, communities)
            batch, sent = await self._send_batch(outgoing, token, check_platform_first=True)
            async with self.store.transaction() as tx:
                await self._record(tx, batch)
            stats.add(sent)
            stats.recovered = len(mine)
            total.add(stats)
            await asyncio.sleep(0)
        return total

    def held(self) -> bool:
        """Whether a 429 told us to wait and the wait is not over yet."""
        return self.hold_until is not None and self.clock.now() < self.hold_until

    async def next_due(self) -> datetime | None:
        """When the engine has something to do next (respecting a platform's Retry-After)."""
        async with self.store.transaction() as tx:
            due = await tx.next_nudge_due()
        if due is not None and self.held() and self.hold_until is not None:
            return max(due, self.hold_until)
        return due

    # -- internals ---------------------------------------------------------------------------

    async def _community(self, tx: Tx, community_id: int) -> tuple[Community, CommunityDefaults]:
        community = await tx.community_by_id(community_id)
        if community is None:
            raise LookupError(f"community {community_id} is gone")
        overrides = await tx.community_settings(community_id)
        return community, self.defaults.model_copy(update=overrides)

    async def _render(
        self, tx: Tx, claimed: Sequence[NudgeRow], token: str, communities: _Communities
    ) -> tuple[RunStats, list[_Out]]:
        """Render a claimed batch inside the claiming transaction.

        Stale and self-handled (``Done``) nudges are finished right here, with the renderer's
        own writes and follow-ups: a release and the message it queues are recorded together
        or not at all, even if the process dies right after.
        """
        stats = RunStats()
        now = self.clock.now()
        communities.expire()
        finished: list[dict[str, Any]] = []
        follow_ups: list[NewNudge] = []
        outgoing: list[_Out] = []
        # One context per community per batch, all appending to the batch's follow-ups (in
        # nudge order, as before): a context per nudge cost about a tenth of the rendering
        # in the 100k benchmark. A failed render drops only what it queued itself.
        contexts: dict[int, n.RenderContext] = {}
        for i, nudge in enumerate(claimed):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
            ctx = contexts.get(nudge.community_id)
            if ctx is None:
                known = communities.get(nudge.community_id)
                if known is None:
                    known = communities[nudge.community_id] = await self._community(
                        tx, nudge.community_id
                    )
                ctx = contexts[nudge.community_id] = n.RenderContext(
                    tx, known[0], known[1], now, follow_ups
                )
            queued = len(follow_ups)
            try:
                result = await n.render(ctx, nudge)
            except Exception as exc:  # a bug in a renderer must not block the others
                log.exception("rendering nudge %s (%s) failed", nudge.id, nudge.kind)
                result = n.Stale(f"could not render: {type(exc).__name__}: {exc}")
                del follow_ups[queued:]
            if type(result) is n.Outgoing:  # the usual case first: one type test, not two
                outgoing.append(_Out(nudge, ctx.community, ctx.settings, result))
            elif isinstance(result, n.Stale):
                finished.append(self._final(nudge, token, "stale", result.reason))
                stats.stale += 1
            elif isinstance(result, n.Done):
                finished.append(self._final(nudge, token, "sent", result.outcome))
                stats.sent += 1
            else:
                outgoing.append(_Out(nudge, ctx.community, ctx.settings, result))
        await tx.finish_nudges(finished)
        await tx.add_nudges(follow_ups, now)
        return stats, outgoing

    async def _send_batch(
        self, outgoing: Sequence[_Out], token: str, *, check_platform_first: bool = False
    ) -> tuple[_Batch, RunStats]:
        """Send the rendered messages one by one; the outcomes are recorded by the caller."""
        stats = RunStats()
        batch = _Batch()
        hold = self.hold_until if self.held() else None
        for i, item in enumerate(outgoing):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # a fast platform never awaits: let others in
            nudge = item.nudge
            if hold is not None:  # the platform said wait: the rest steps back, untried
                batch.outcomes.append(self._retry(nudge, token, hold, count=False))
                stats.retried += 1
                continue
            try:
                # A nudge tried before may have reached the platform (a time-out after the
                # platform took it): ask before sending again, as after a crash.
                delivered, note = await self._send(
                    item, check_platform_first=check_platform_first or nudge.attempts > 0
                )
            except RateLimited as exc:
                hold = self.hold_until = self.clock.now() + timedelta(
                    seconds=max(exc.retry_after, 0.5)
                )
                log.warning("rate limited for %.1fs; stepping back", exc.retry_after)
                batch.outcomes.append(self._retry(nudge, token, hold, count=False))
                stats.retried += 1
                continue
            except (RecipientUnreachable, PermanentFailure) as exc:
                self._give_up(item, token, f"{type(exc).__name__}: {exc}", batch)
                stats.failed += 1
                continue
            except Exception as exc:  # 5xx, time-outs, connection errors, adapter bugs
                log.warning("sending nudge %s failed: %s", nudge.id, exc, exc_info=True)
                if nudge.attempts + 1 >= self.settings.max_attempts:
                    self._give_up(
                        item, token,
                        f"gave up after {nudge.attempts + 1} attempts: "
                        f"{type(exc).__name__}: {exc}",
                        batch,
                    )
                    stats.failed += 1
                else:
                    delay = min(BACKOFF_BASE * (2 ** nudge.attempts), BACKOFF_MAX)
                    batch.outcomes.append(self._retry(nudge, token, self.clock.now() + delay))
                    stats.retried += 1
                continue
            batch.sent.append((nudge.id, token, delivered.ref, note))
            stats.sent += 1
            if note and "mentioned in" in note:
                stats.fallbacks += 1
        return batch, stats

    async def _record(self, tx: Tx, batch: _Batch) -> None:
        now = self.clock.now()
        await tx.mark_nudges_sent(batch.sent, now)
        await tx.finish_nudges(batch.outcomes)
        await tx.add_nudges(batch.follow_ups, now)

    async def _send(
        self, item: _Out, *, check_platform_first: bool
    ) -> tuple[Delivered, str | None]:
        nudge, community, _settings, out = item
        key = idempotency_key(nudge.id)
        destination = out.destination
        if isinstance(destination, n.OpenSpace):  # else no await: one coroutine less a nudge
            destination = await self._open_space(community, destination)
        if check_platform_first:
            found = await self.messenger.find_sent(community.external_id, destination, key)
            if found is not None:
                return found, "found already delivered after an interrupted send"
        try:
            return await self.messenger.send(
                community.external_id, destination, out.message, key
            ), None
        except RecipientUnreachable as exc:
            if not isinstance(destination, DirectMessage):
                raise
            fallback_to = await self._fallback_destination(nudge, out)
            if fallback_to is None:
                raise
            fb_key = key + "-fb"
            if check_platform_first:
                found = await self.messenger.find_sent(community.external_id, fallback_to, fb_key)
                if found is not None:
                    return found, f"private message refused ({exc}); mention found already sent"
            member = destination.member
            fallback = (
                MessageBuilder()
                .mention(member, ping=True)
                .say(" I tried to send you a private message but couldn't. "
                     "Please allow direct messages from me, then type `my` to catch up.")
                .build()
            )
            delivered = await self.messenger.send(
                community.external_id, fallback_to, fallback, fb_key
            )
            where = (
                fallback_to.channel if isinstance(fallback_to, ChannelPost) else "the intro space"
            )
            return delivered, f"private message refused ({exc}); mentioned in {where}"

    async def _fallback_destination(
        self, nudge: NudgeRow, out: n.Outgoing
    ) -> ChannelPost | SpacePost | None:
        """Where to mention someone whose DMs are closed: the renderer's channel, else the
        intro's private space (never a public channel for a private matter)."""
        if out.fallback_channel:
            return ChannelPost(out.fallback_channel)
        if nudge.intro_id is None:
            return None
        async with self.store.transaction() as tx:
            intro = await tx.intro(nudge.community_id, nudge.intro_id)
        if intro is not None and intro.space_ref:
            return SpacePost(intro.space_ref)
        return None

    async def _open_space(self, community: Community, space: n.OpenSpace) -> Destination:
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

    def _give_up(self, item: _Out, token: str, error: str, batch: _Batch) -> None:
        nudge = item.nudge
        log.error("nudge %s (%s) failed for good: %s", nudge.id, nudge.kind, error)
        batch.outcomes.append(
            {"id": nudge.id, "token": token, "state": "failed", "outcome": error[:1000],
             "attempts": nudge.attempts + 1}
        )
        if nudge.kind != n.ORGANIZER_ALERT and item.settings.organizer_channel:
            batch.follow_ups.append(
                NewNudge(
                    nudge.community_id, n.ORGANIZER_ALERT, self.clock.now(),
                    channel=item.settings.organizer_channel,
                    payload={"text": f"A {nudge.kind} message (nudge #{nudge.id}) could not "
                                     f"be delivered: {error[:300]}"},
                )
            )


__all__ = ["ChannelPost", "NudgeEngine", "RunStats", "idempotency_key"]
