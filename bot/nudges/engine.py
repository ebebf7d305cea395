"""The nudge engine: deliver every due nudge exactly once, from the nudge table.

The table is the truth. A run claims due rows atomically (``pending`` → ``sending`` under a
fresh token and this process's identity, so two processes never take the same row), renders
each from the current state, sends it through the adapter's :class:`~bot.ports.Messenger` with
an idempotency key, and records the outcome: ``sent``, ``stale`` (with the reason) or ``failed``
(with the error, and organizers told). Rows left in ``sending`` by a process that is gone are
taken over (``recover``): the platform is asked whether it already has the message, and it is
sent if and only if not. Outcomes this process could not record (the database went away after
the batch was sent) are kept here and recorded first thing at the next run, so that batch is
settled as soon as the database is back, not after the claim timeout.

When a nudge may arrive is each kind's declared :class:`~bot.nudges.kinds.Timing`, applied
here once: prompts wait for the recipient's quiet hours, follow-ups also honour "follow-ups off"
and snoozes. A postponed nudge keeps its row (its due time moves), so one event is one row.

Platform trouble: a 429 holds back only what the platform said (a destination, a community, or
everything) until Retry-After; 5xx and time-outs back off exponentially up to
``max_attempts``; a refused DM falls back to a mention in a channel or the intro's space.
Direct messages are budgeted per member per day and per community per hour: what is over the
budget waits (never dropped).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot import choice_ids
from bot import quiet_hours as qh
from bot.clock import Clock
from bot.config import CommunityDefaults, NudgeSettings
from bot.domain import Community, NewNudge, Nudge, NudgeOutcome, SentNudge, Worker
from bot.messages import MessageBuilder
from bot.nudges.kinds import (
    Done,
    NudgeKind,
    NudgeKinds,
    OpenSpace,
    Outgoing,
    RenderContext,
    Stale,
    Timing,
)
from bot.nudges.workers import Identity, gone_workers, ours_to_settle
from bot.ports import (
    ChannelPost,
    Delivered,
    Destination,
    DirectMessage,
    HoldScope,
    Messenger,
    PermanentFailure,
    RateLimited,
    RecipientUnreachable,
    SpacePost,
    destination_key,
)
from bot.repositories import Store, Tx

log = logging.getLogger(__name__)

ORGANIZER_ALERT = "organizer.alert"
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
MEMBER_BUDGET_WINDOW = timedelta(days=1)
REFUSAL_MEMORY = timedelta(days=1)
"""After a refused DM, further ones to that member within this time fail quietly: no second
public mention, no second organizer alert."""
COMMUNITY_BUDGET_WINDOW = timedelta(hours=1)
#: Yield to the event loop every so many nudges rendered or sent: a batch's Python work runs
#: without awaiting anything when renderers and the platform answer at once.
YIELD_EVERY = 100
#: Where writers exclude each other (SQLite), how long one claiming transaction aims to hold
#: the write lock while it renders: long enough that a batch takes few transactions, short
#: enough that a command waiting for the lock still answers within 50 ms. The number of
#: nudges per transaction follows from how long the last ones took (see ``_next_chunk``).
CHUNK_TARGET_SECONDS = 0.02
#: Nudges in the first claiming transaction of a process; later ones follow the machine.
FIRST_CHUNK = 20
#: The fewest nudges in a claiming transaction: on a slow machine a real reminder takes
#: several milliseconds to render, and a floor of 20 held the lock ~90 ms per chunk.
MIN_CHUNK = 2
#: How far this host's clock may be ahead of the platform's: the earliest time a platform is
#: asked to search from (``find_sent``'s ``since``) is moved back by this much, so a message it
#: stamped a little "earlier" than our clock said is still found.
PLATFORM_CLOCK_SKEW = timedelta(minutes=10)


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
    postponed: int = 0

    def add(self, other: RunStats) -> None:
        for key in vars(self):
            setattr(self, key, getattr(self, key) + getattr(other, key))

    @property
    def handled(self) -> int:
        return self.sent + self.stale + self.failed + self.retried + self.postponed


@dataclass(frozen=True)
class _Out:
    """A claimed nudge rendered into a message, waiting to be sent."""

    nudge: Nudge
    community: Community
    settings: CommunityDefaults
    out: Outgoing


@dataclass
class _Batch:
    """A batch's results, recorded in one transaction."""

    sent: list[SentNudge] = field(default_factory=list)
    outcomes: list[NudgeOutcome] = field(default_factory=list)
    follow_ups: list[NewNudge] = field(default_factory=list)


@dataclass(frozen=True)
class _Unrecorded:
    """A batch sent whose outcomes the database would not take (kept to record later)."""

    batch: _Batch
    since: datetime


@dataclass
class _Budget:
    """Direct messages already sent in the windows, counted once per batch."""

    per_member: Counter[int] = field(default_factory=Counter)
    per_community: Counter[int] = field(default_factory=Counter)


class NudgeEngine:
    """Claims, renders, sends and records nudges. Safe to run in several processes at once."""

    def __init__(
        self,
        store: Store,
        messenger: Messenger,
        clock: Clock,
        settings: NudgeSettings,
        defaults: CommunityDefaults,
        kinds: NudgeKinds,
        *,
        identity: Identity | None = None,
        platform: str | None = None,
    ) -> None:
        self.store = store
        self.messenger = messenger
        self.clock = clock
        self.settings = settings
        self.defaults = defaults
        self.kinds = kinds
        self.platform = platform
        """Claim only this platform's nudges (None: every platform, as the console does)."""
        self.identity = identity or Identity.of_this_process(platform)
        self._holds: dict[str, datetime] = {}
        self._refused: dict[tuple[int, int], datetime] = {}
        """DMs refused lately, by (community, member): answered before the database knows."""
        self._unrecorded: list[_Unrecorded] = []
        """Outcomes of sent batches that could not be recorded yet, oldest first."""
        self._chunk = FIRST_CHUNK if store.one_writer else settings.batch_size
        """Nudges to claim and render in the next transaction."""

    # -- holds after a 429 -------------------------------------------------------------------

    @property
    def hold_until(self) -> datetime | None:
        """When a hold on everything ends (a global 429), if one is on."""
        return self._holds.get("*")

    def held(self) -> bool:
        """Whether the platform told us to stop everything and the wait is not over yet."""
        until = self._holds.get("*")
        return until is not None and self.clock.now() < until

    def _hold_for(self, item: _Out, destination: Destination | None) -> datetime | None:
        now = self.clock.now()
        keys = ["*", f"c{item.community.id}"]
        if destination is not None:
            keys.append(f"c{item.community.id}:{destination_key(destination)}")
        ends = [self._holds[k] for k in keys if k in self._holds and self._holds[k] > now]
        return max(ends) if ends else None

    def _hold(self, item: _Out, destination: Destination | None, exc: RateLimited) -> datetime:
        until = self.clock.now() + timedelta(seconds=max(exc.retry_after, 0.5))
        if exc.scope is HoldScope.EVERYTHING or destination is None:
            key = "*"
        elif exc.scope is HoldScope.COMMUNITY:
            key = f"c{item.community.id}"
        else:
            key = f"c{item.community.id}:{destination_key(destination)}"
        self._holds[key] = max(until, self._holds.get(key, until))
        log.warning("rate limited (%s) for %.1fs; holding %s", exc, exc.retry_after, key)
        return until

    # -- running -----------------------------------------------------------------------------

    async def register(self) -> None:
        """Record this process as alive (its claims carry its identity)."""
        async with self.store.transaction() as tx:
            await tx.workers.register(self.identity.as_worker(self.clock.now()))

    async def heartbeat(self) -> list[Worker]:
        """Record that this process is alive; return the peers found gone whose claims this
        engine takes over (so the caller can recover them now instead of at the next sweep)."""
        now = self.clock.now()
        async with self.store.transaction() as tx:
            if not await tx.workers.beat(self.identity.id, now):
                log.warning("this process was taken for gone; registering again")
                await tx.workers.register(self.identity.as_worker(now))
            workers = await tx.workers.all()
        lease = timedelta(seconds=self.settings.worker_lease_seconds)
        return [w for w in gone_workers(workers, self.identity, now, lease)
                if ours_to_settle(w, self.platform)]

    async def unregister(self) -> None:
        async with self.store.transaction() as tx:
            await tx.workers.remove(self.identity.id)

    async def run_due(self, *, max_batches: int | None = None) -> RunStats:
        """Deliver everything due now, in batches, yielding to the event loop between them.

        A batch (up to ``batch_size``) is claimed and rendered a chunk at a time, each chunk in
        its own transaction, then sent. Why chunks: on SQLite the claiming transaction holds
        the one write lock while it renders, and rendering a real reminder reads the session
        and both people; a whole batch at once kept every command waiting for about as long.
        So there a chunk is sized to hold the lock about ``CHUNK_TARGET_SECONDS``; where
        writers don't exclude each other (PostgreSQL) a chunk is the whole batch.

        The outcomes of one batch are recorded in the transaction that claims the next chunk;
        until then those rows stay ``sending`` under this process's identity, which recovery
        resolves if the process dies in between. Outcomes the database refused earlier are
        recorded before anything new is claimed (and the run fails, claiming nothing, while
        the database still refuses them).
        """
        await self.settle_unrecorded()
        total = RunStats()
        batches = 0
        unrecorded: _Batch | None = None
        try:
            while max_batches is None or batches < max_batches:
                if self.held():
                    break
                token = uuid.uuid4().hex
                stats, outgoing, budget = RunStats(), [], _Budget()
                claimed = 0
                try:
                    while claimed < self.settings.batch_size:
                        started = time.perf_counter()
                        wanted = min(self._chunk, self.settings.batch_size - claimed)
                        async with self.store.transaction() as tx:
                            if unrecorded is not None:
                                await self._record(tx, unrecorded)
                            chunk = await tx.nudges.claim_due(
                                self.clock.now(), wanted, token,
                                worker=self.identity.id, platform=self.platform,
                            )
                            if chunk:
                                rendered, out = await self._render(tx, chunk, token, budget)
                        unrecorded = None  # committed (on an error, ``finally`` records it)
                        if not chunk:
                            break
                        self._next_chunk(len(chunk), time.perf_counter() - started)
                        claimed += len(chunk)
                        stats.add(rendered)
                        outgoing.extend(out)
                        if len(chunk) < wanted:
                            break  # all that is due now: send it, don't wait for more to fall due
                        await asyncio.sleep(0)  # let commands have the write lock in between
                except Exception:
                    # The chunks rendered so far are committed as ``sending``: send them now
                    # rather than leave them to recovery, then fail the run. (Cancelled, the
                    # process is stopping: recovery at the next start settles them.)
                    if outgoing:
                        sent_batch, _ = await self._send_batch(outgoing, token)
                        await self._record_or_keep(sent_batch)
                    raise
                if not claimed:
                    break
                unrecorded, sent = await self._send_batch(outgoing, token)
                stats.add(sent)
                total.add(stats)
                batches += 1
                await asyncio.sleep(0)  # let commands in: never stall the loop with a backlog
        finally:
            if unrecorded is not None:
                await self._record_or_keep(unrecorded)
        return total

    def _next_chunk(self, size: int, seconds: float) -> None:
        """Size the next claiming transaction so it holds the write lock about
        ``CHUNK_TARGET_SECONDS`` (at most doubling at a time; only where writers exclude
        each other, elsewhere it stays a whole batch). Measured with the process's own timer:
        this is about the machine's speed, not about when nudges are due."""
        if not self.store.one_writer or size < self._chunk:
            return  # a short chunk (the backlog ran out) says nothing about the speed
        wanted = size * CHUNK_TARGET_SECONDS / seconds if seconds > 0 else 2 * size
        self._chunk = max(MIN_CHUNK, min(int(wanted), 2 * size, self.settings.batch_size))

    async def settle_unrecorded(self) -> None:
        """Record the outcomes kept since the database refused them (all in one transaction).

        Kept outcomes older than ``claim_timeout_seconds`` are dropped instead (logged): by
        then any process may take those rows over and ask the platform, so nothing is sent
        twice, and an outcome the database refuses for good cannot stop the engine forever.
        """
        if not self._unrecorded:
            return
        too_old = self.clock.now() - timedelta(seconds=self.settings.claim_timeout_seconds)
        kept = [u for u in self._unrecorded if u.since > too_old]
        if len(kept) < len(self._unrecorded):
            log.error("dropping the outcomes of %d sent batch(es) the database would not take "
                      "for %.0f s; recovery settles those nudges",
                      len(self._unrecorded) - len(kept), self.settings.claim_timeout_seconds)
        self._unrecorded = kept
        if not kept:
            return
        async with self.store.transaction() as tx:
            for held in kept:
                await self._record(tx, held.batch)
        log.info("recorded the outcomes of %d batch(es) sent while the database was away",
                 len(kept))
        self._unrecorded = []

    async def _record_or_keep(self, batch: _Batch) -> None:
        """Record a sent batch's outcomes now, or keep them for the next run if the database
        refuses (and re-raise: the run failed)."""
        try:
            async with self.store.transaction() as tx:
                await self._record(tx, batch)
        except BaseException:
            self._unrecorded.append(_Unrecorded(batch, self.clock.now()))
            log.warning("the outcomes of %d sent nudge(s) could not be recorded; kept for the "
                        "next run", len(batch.sent) + len(batch.outcomes))
            raise

    async def recover(self) -> RunStats:
        """Resolve nudges left in ``sending`` by processes that are gone.

        A process on this host whose pid no longer runs is gone at once (so a restart resolves
        its own interrupted batch immediately); elsewhere, when its heartbeat is older than the
        lease. Claims without an owner count after ``claim_timeout_seconds``. Each nudge is sent
        if and only if the platform does not already have it (asked with its key). Outcomes this
        engine kept (the database refused them) are recorded first: those rows are its own.
        """
        await self.settle_unrecorded()
        now = self.clock.now()
        lease = timedelta(seconds=self.settings.worker_lease_seconds)
        async with self.store.transaction() as tx:
            gone = gone_workers(await tx.workers.all(), self.identity, now, lease)
        total = RunStats()
        # Claims at least claim_timeout_seconds old (the repository compares strictly).
        cutoff = now - timedelta(seconds=self.settings.claim_timeout_seconds, microseconds=-1)
        after_id = 0
        while True:
            token = uuid.uuid4().hex
            async with self.store.transaction() as tx:
                mine = await tx.nudges.reclaim(
                    gone_workers=[w.id for w in gone], claimed_before=cutoff, after_id=after_id,
                    limit=self.settings.batch_size, token=token, now=self.clock.now(),
                    worker=self.identity.id, platform=self.platform,
                )
                if not mine:
                    break
                after_id = mine[-1].id
                log.warning("recovering %d nudge(s) whose sending was interrupted", len(mine))
                stats, outgoing = await self._render(tx, mine, token, fate_unknown=True)
            batch, sent = await self._send_batch(outgoing, token, check_platform_first=True)
            await self._record_or_keep(batch)
            stats.add(sent)
            stats.recovered = len(mine)
            total.add(stats)
            await asyncio.sleep(0)
        # Forget only the processes whose claims this engine takes over: a Slack instance must
        # not hide a dead Discord instance from the Discord instances.
        settled = [w.id for w in gone if ours_to_settle(w, self.platform)]
        if settled:
            async with self.store.transaction() as tx:
                for worker_id in settled:
                    await tx.workers.remove(worker_id)
        return total

    async def next_due(self) -> datetime | None:
        """When the engine has something to do next (respecting a global Retry-After)."""
        async with self.store.reading() as tx:
            due = await tx.nudges.next_due(self.platform)
        hold = self.hold_until
        if due is not None and hold is not None and self.held():
            return max(due, hold)
        return due

    # -- rendering ---------------------------------------------------------------------------

    async def _community(self, tx: Tx, community_id: int) -> tuple[Community, CommunityDefaults]:
        community = await tx.communities.by_id(community_id)
        if community is None:
            raise LookupError(f"community {community_id} is gone")
        overrides = await tx.communities.settings(community_id)
        return community, self.defaults.model_copy(update=overrides)

    async def _render(
        self, tx: Tx, claimed: Sequence[Nudge], token: str, budget: _Budget | None = None, *,
        fate_unknown: bool = False,
    ) -> tuple[RunStats, list[_Out]]:
        """Render a claimed batch inside the claiming transaction.

        Stale and self-handled (``Done``) nudges are finished right here, with the renderer's
        own writes and follow-ups: a release and the message it queues are recorded together
        or not at all, even if the process dies right after.

        ``fate_unknown``: the batch was taken over from a process that may have sent it. One
        postponed now (quiet hours began meanwhile) counts that send as an attempt, so the
        platform is asked before it goes out later (see :meth:`_since`).
        """
        stats = RunStats()
        now = self.clock.now()
        finished: list[NudgeOutcome] = []
        follow_ups: list[NewNudge] = []
        outgoing: list[_Out] = []
        contexts: dict[int, RenderContext] = {}
        budget = budget or _Budget()  # one batch's chunks share it: their DMs are not sent yet
        for i, nudge in enumerate(claimed):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
            ctx = contexts.get(nudge.community_id)
            if ctx is None:
                community, settings = await self._community(tx, nudge.community_id)
                ctx = contexts[nudge.community_id] = RenderContext(
                    tx, community, settings, now, follow_ups
                )
            queued = len(follow_ups)
            kind = self.kinds.get(nudge.kind)
            try:
                if kind is None:
                    raise Stale(f"unknown nudge kind {nudge.kind!r}")
                result = await kind.render(ctx, nudge)
                if isinstance(result, Outgoing):
                    later = await self._when_allowed(ctx, kind, nudge)
                    if later is None:
                        later = await self._over_budget(ctx, nudge, result, budget)
                    if later is not None:
                        del follow_ups[queued:]
                        finished.append(NudgeOutcome(
                            nudge.id, token, "pending", due_at=later[0],
                            outcome=f"postponed until {later[0].isoformat()} ({later[1]})",
                            attempts=nudge.attempts + 1 if fate_unknown else None,
                        ))
                        stats.postponed += 1
                        continue
            except Stale as stale:
                del follow_ups[queued:]
                finished.append(self._final(nudge, token, "stale", stale.reason))
                stats.stale += 1
                continue
            except Exception as exc:  # a bug in a renderer must not block the others
                log.exception("rendering nudge %s (%s) failed", nudge.id, nudge.kind)
                del follow_ups[queued:]
                finished.append(self._final(
                    nudge, token, "stale", f"could not render: {type(exc).__name__}: {exc}"
                ))
                stats.stale += 1
                continue
            if isinstance(result, Done):
                finished.append(self._final(nudge, token, "sent", result.outcome))
                stats.sent += 1
                continue
            sealed = await self._seal(tx, ctx.community, result)
            outgoing.append(_Out(nudge, ctx.community, ctx.settings, sealed))
        await tx.nudges.finish(finished)
        await tx.nudges.add(follow_ups, now)
        return stats, outgoing

    async def _when_allowed(
        self, ctx: RenderContext, kind: NudgeKind, nudge: Nudge
    ) -> tuple[datetime, str] | None:
        """Later, and why, if this kind of nudge may not reach its recipient now."""
        if kind.timing in (Timing.NOW, Timing.BEFORE_SESSION) or nudge.recipient_id is None:
            return None
        member = await ctx.tx.members.get(ctx.community.id, nudge.recipient_id)
        if member is None:
            raise Stale("member no longer exists")
        quiet = qh.of_member(member, ctx.settings.quiet_hours, ctx.settings.default_timezone)
        if kind.timing is Timing.FOLLOWUP:
            if member.followups_off:
                raise Stale("follow-ups turned off")
            paused = member.followups_paused_until
            if paused is not None and paused > ctx.now:
                return qh.next_allowed(paused, quiet), "follow-ups snoozed"
        if quiet is not None and quiet.contains(ctx.now):
            return quiet.next_allowed(ctx.now), "quiet hours"
        return None

    async def _over_budget(
        self, ctx: RenderContext, nudge: Nudge, out: Outgoing, budget: _Budget
    ) -> tuple[datetime, str] | None:
        """Later, if sending this DM would go over the member's or the community's budget."""
        if not isinstance(out.destination, DirectMessage) or nudge.recipient_id is None:
            return None
        settings, community_id = ctx.settings, ctx.community.id
        if community_id not in budget.per_community:
            budget.per_community[community_id] = await ctx.tx.nudges.dms_sent(
                community_id, ctx.now - COMMUNITY_BUDGET_WINDOW
            )
        if nudge.recipient_id not in budget.per_member:
            budget.per_member[nudge.recipient_id] = await ctx.tx.nudges.dms_sent(
                community_id, ctx.now - MEMBER_BUDGET_WINDOW, recipient_id=nudge.recipient_id
            )
        if budget.per_member[nudge.recipient_id] >= settings.dm_per_member_per_day:
            return ctx.now + timedelta(hours=1), (
                f"queued: over the DM budget of {settings.dm_per_member_per_day} a day "
                "for this member"
            )
        if budget.per_community[community_id] >= settings.dm_per_community_per_hour:
            return ctx.now + timedelta(minutes=10), (
                f"queued: over the DM budget of {settings.dm_per_community_per_hour} an hour "
                "for this community"
            )
        budget.per_member[nudge.recipient_id] += 1
        budget.per_community[community_id] += 1
        return None

    async def _seal(self, tx: Tx, community: Community, out: Outgoing) -> Outgoing:
        """Give the message's buttons their ids (with the community, see ``choice_ids``)."""
        if not out.message.choices and out.message.form is None:
            return out
        now = self.clock.now()

        async def stash(command: str) -> int:
            return await tx.communities.stash_command(community.id, command, now)

        message = await choice_ids.seal(out.message, community.id, stash)
        return Outgoing(out.destination, message, out.fallback_channel)

    # -- sending -----------------------------------------------------------------------------

    async def _send_batch(
        self, outgoing: Sequence[_Out], token: str, *, check_platform_first: bool = False
    ) -> tuple[_Batch, RunStats]:
        """Send the rendered messages one by one; the outcomes are recorded by the caller."""
        stats = RunStats()
        batch = _Batch()
        for i, item in enumerate(outgoing):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # a fast platform never awaits: let others in
            nudge = item.nudge
            plain = item.out.destination
            known = plain if not isinstance(plain, OpenSpace) else None
            hold = self._hold_for(item, known)
            if hold is not None:  # the platform said wait: this one steps back, untried
                batch.outcomes.append(self._retry(nudge, token, hold, count=False))
                stats.retried += 1
                continue
            try:
                # A nudge tried before may have reached the platform (a time-out after the
                # platform took it): ask before sending again, as after a crash.
                delivered, note, via = await self._send(
                    item, check_platform_first=check_platform_first or nudge.attempts > 0
                )
            except RateLimited as exc:
                until = self._hold(item, known, exc)
                batch.outcomes.append(self._retry(nudge, token, until, count=False))
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
            batch.sent.append(SentNudge(nudge.id, token, delivered.ref, note, via))
            stats.sent += 1
            if via != "dm" and isinstance(item.out.destination, DirectMessage):
                stats.fallbacks += 1
        return batch, stats

    async def _record(self, tx: Tx, batch: _Batch) -> None:
        now = self.clock.now()
        await tx.nudges.mark_sent(batch.sent, now)
        await tx.nudges.finish(batch.outcomes)
        await tx.nudges.add(batch.follow_ups, now)

    async def _send(
        self, item: _Out, *, check_platform_first: bool
    ) -> tuple[Delivered, str | None, str]:
        """Deliver one message: (what the platform said, a note for organizers, how)."""
        nudge, community, out = item.nudge, item.community, item.out
        key = idempotency_key(nudge.id)
        destination = out.destination
        if isinstance(destination, OpenSpace):
            destination = await self._open_space(community, destination)
        via = _via(destination)
        since = self._since(nudge)
        if check_platform_first:
            found = await self.messenger.find_sent(
                community.external_id, destination, key, since=since)
            if found is not None:
                return found, "found already delivered after an interrupted send", via
        try:
            return await self.messenger.send(
                community.external_id, destination, out.message, key
            ), None, via
        except RecipientUnreachable as exc:
            if not isinstance(destination, DirectMessage):
                raise
            if await self._refused_lately(nudge):
                # One mention (and one organizer alert) a day is enough: a member whose DMs
                # stay closed is not pinged in public for every message.
                raise RecipientUnreachable(
                    f"{exc}; already mentioned or reported in the last day") from None
            fallback_to = await self._fallback_destination(nudge, out)
            if fallback_to is None:
                raise
            fb_key = key + "-fb"
            if check_platform_first:
                found = await self.messenger.find_sent(
                    community.external_id, fallback_to, fb_key, since=since)
                if found is not None:
                    return found, (f"private message refused ({exc}); "
                                   "mention found already sent"), _via(fallback_to)
            fallback = (
                MessageBuilder()
                .mention(destination.member, ping=True)
                .say(" I tried to send you a private message but couldn't. "
                     "Please allow direct messages from me, then type ")
                .hint("my").say(" to catch up.")
                .build()
            )
            delivered = await self.messenger.send(
                community.external_id, fallback_to, fallback, fb_key
            )
            where = (
                fallback_to.channel if isinstance(fallback_to, ChannelPost) else "the intro space"
            )
            return delivered, f"private message refused ({exc}); mentioned in {where}", _via(
                fallback_to)

    @staticmethod
    def _since(nudge: Nudge) -> datetime | None:
        """The earliest moment the platform may have got this nudge, for ``find_sent``; None
        when no bound is known.

        Why ``due_at`` is one when no attempt is counted: a claim takes only rows already due
        and leaves ``due_at`` as it is while sending, and every outcome that moves ``due_at``
        either counts an attempt (a try that may have reached the platform), or follows a
        try that did not (a 429, a hold), or comes before any send of that claim (a
        postponement; in recovery, where a send may have happened, it counts an attempt).
        The claim time itself is not kept on the nudge; ``due_at`` is at most that.
        """
        if nudge.attempts > 0:
            return None
        return nudge.due_at - PLATFORM_CLOCK_SKEW

    async def _refused_lately(self, nudge: Nudge) -> bool:
        """Whether a DM to this member was refused within the last day (remembered here for
        this batch, whose outcomes are not recorded yet, and in the table for the rest)."""
        if nudge.recipient_id is None:
            return False
        key = (nudge.community_id, nudge.recipient_id)
        since = self.clock.now() - REFUSAL_MEMORY
        if self._refused.get(key, since) > since:
            return True
        self._refused[key] = self.clock.now()
        async with self.store.reading() as tx:
            return await tx.nudges.recently_unreachable(
                nudge.community_id, nudge.recipient_id, since)

    async def _fallback_destination(
        self, nudge: Nudge, out: Outgoing
    ) -> ChannelPost | SpacePost | None:
        """Where to mention someone whose DMs are closed: the renderer's channel, else the
        intro's private space (never a public channel for a private matter)."""
        if out.fallback_channel:
            return ChannelPost(out.fallback_channel)
        if nudge.intro_id is None:
            return None
        async with self.store.reading() as tx:
            intro = await tx.intros.get(nudge.community_id, nudge.intro_id)
        if intro is not None and intro.space_ref:
            return SpacePost(intro.space_ref)
        return None

    async def _open_space(self, community: Community, space: OpenSpace) -> Destination:
        ref = await self.messenger.open_space(
            community.external_id, space.key, space.members, space.title, space.parent_channel
        )
        async with self.store.transaction() as tx:
            await tx.intros.set_space(space.intro_id, ref)
        return SpacePost(ref)

    # -- outcomes ----------------------------------------------------------------------------

    def _final(self, nudge: Nudge, token: str, state: str, outcome: str) -> NudgeOutcome:
        return NudgeOutcome(nudge.id, token, state, outcome=outcome[:1000],
                            sent_at=self.clock.now() if state == "sent" else None)

    def _retry(
        self, nudge: Nudge, token: str, due_at: datetime, *, count: bool = True
    ) -> NudgeOutcome:
        return NudgeOutcome(nudge.id, token, "pending", due_at=due_at,
                            attempts=nudge.attempts + (1 if count else 0))

    def _give_up(self, item: _Out, token: str, error: str, batch: _Batch) -> None:
        nudge = item.nudge
        log.error("nudge %s (%s) failed for good: %s", nudge.id, nudge.kind, error)
        batch.outcomes.append(NudgeOutcome(nudge.id, token, "failed", outcome=error[:1000],
                                           attempts=nudge.attempts + 1))
        already_reported = error.endswith("already mentioned or reported in the last day")
        if nudge.kind != ORGANIZER_ALERT and item.settings.organizer_channel \
                and not already_reported:
            batch.follow_ups.append(
                NewNudge(
                    nudge.community_id, ORGANIZER_ALERT, self.clock.now(),
                    channel=item.settings.organizer_channel,
                    payload={"text": f"A {self.kinds.readable(nudge.kind)} message "
                                     f"(nudge #{nudge.id}) could not be delivered: "
                                     f"{error[:300]}"},
                )
            )


def _via(destination: Destination) -> str:
    if isinstance(destination, DirectMessage):
        return "dm"
    if isinstance(destination, ChannelPost):
        return "channel"
    return "space"
