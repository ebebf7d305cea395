"""The nudge benchmark's workload: what "commands" write, and the two renderers.

A command in the bot writes its nudges in its own transaction: ``request`` three (the mentor's
notice, the 48-hour nudge, the 72-hour release), ``book`` two, ``accept`` two, ``confirm``
six or more, ``agenda`` or ``thanks`` one. :data:`SIZES` draws 1–6 nudges per command with
about that mix (3.0 on average). Every contender gets the same list of command shapes.

Two renderers:

* ``trivial``: a ping posted in a channel, made from the row alone (no reads). The kind
  ``bench.ping`` is declared here and given to the engine in its own :class:`NudgeKinds`
  (the engine takes its kinds in its constructor; nothing is registered globally).
* ``real``: the session ladder's own reminders (``ladder.mentor_reminder`` first, then the
  reminder to both and the agenda asks), rendered by the real renderers from
  ``bot.sessions.nudges``: each reads the session and both people, as in production, about
  sessions seeded in the community (``bench.community``). They are DMs, so the engine's DM
  budgets apply (the seeded community raises them, as a busy community's organizers would).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bench.community import CHANNEL, Seeded, SeededSession
from bot.bootstrap import build_registry
from bot.domain import NewNudge, Nudge
from bot.messages import MessageBuilder
from bot.nudges.kinds import NudgeKind, NudgeKinds, Outgoing, RenderContext, Rendered, nudge_kind
from bot.ports import ChannelPost
from bot.repositories import Store
from bot.sessions import ladder

log = logging.getLogger(__name__)

TRIVIAL = "trivial"
REAL = "real"
RENDERERS = (TRIVIAL, REAL)
PING = "bench.ping"

#: Nudges per command (value) and how often commands write that many (weight).
SIZES = ((1, 20), (2, 30), (3, 20), (4, 10), (5, 5), (6, 15))

#: A confirmed session's reminders, in the order a command of size k takes the first k:
#: (kind, whether the mentor gets it (else the mentee)).
LADDER = (
    (ladder.MENTOR_REMINDER, True),
    (ladder.BOTH_REMINDER, True),
    (ladder.BOTH_REMINDER, False),
    (ladder.AGENDA_REMINDER, False),
    (ladder.AGENDA_ASK, False),
    (ladder.MENTOR_REMINDER, True),
)


@nudge_kind(PING, label="benchmark ping")
async def ping(ctx: RenderContext, nudge: Nudge) -> Rendered:
    """The cheapest renderer there is: a short post in a channel, from the row alone."""
    return Outgoing(ChannelPost(nudge.channel or CHANNEL),
                    MessageBuilder().say(f"ping {nudge.payload.get('i')}").build())


def engine_kinds() -> NudgeKinds:
    """Every kind the features declare (as ``build_registry().nudges``), plus ``bench.ping``."""
    real = build_registry().nudges
    declared: list[NudgeKind] = []
    for name in real.names:
        kind = real.get(name)
        assert kind is not None
        declared.append(kind)
    return NudgeKinds([*declared, ping])


@dataclass(frozen=True)
class CommandShape:
    """One command's nudges: how many, and the session they are about (``real``)."""

    first: int
    """Index of its first nudge in the whole workload (payload ``i`` and job ids)."""
    size: int
    session: SeededSession


def command_shapes(seeded: Seeded, nudges: int, seed: int = 7) -> list[CommandShape]:
    """Commands writing ``nudges`` nudges in all, 1–6 each, about the seeded sessions."""
    if not seeded.sessions:
        raise ValueError("the template has no sessions to remind about")
    rng = random.Random(seed)
    sizes, weights = zip(*SIZES, strict=True)
    shapes: list[CommandShape] = []
    written = 0
    while written < nudges:
        size = min(rng.choices(sizes, weights)[0], nudges - written)
        session = seeded.sessions[len(shapes) % len(seeded.sessions)]
        shapes.append(CommandShape(written, size, session))
        written += size
    return shapes


def new_nudges(
    shape: CommandShape, renderer: str, community_id: int, due: datetime
) -> list[NewNudge]:
    """The NewNudge values one command writes (built inside each contender's timer)."""
    if renderer == TRIVIAL:
        return [NewNudge(community_id, PING, due, channel=CHANNEL, payload={"i": shape.first + k})
                for k in range(shape.size)]
    s = shape.session
    return [
        NewNudge(community_id, kind, due, recipient_id=s.mentor_id if to_mentor else s.member_id,
                 session_id=s.id, payload={"sequence": 0})
        for kind, to_mentor in LADDER[:shape.size]
    ]


def spread(shapes: Sequence[CommandShape], first_due: datetime, seconds: float,
           ) -> list[datetime]:
    """A due time per nudge, evenly over ``seconds`` from ``first_due``."""
    total = sum(s.size for s in shapes)
    return [first_due + timedelta(seconds=seconds * i / max(total, 1)) for i in range(total)]


async def write_nudges(
    store: Store, shapes: Sequence[CommandShape], renderer: str, community_id: int,
    dues: Sequence[datetime] | datetime, now: datetime, *, per_transaction: int = 5000,
) -> int:
    """Set-up, not measured: the workload's nudges in large transactions (a backlog, or nudges
    written before a scheduler starts)."""
    rows: list[NewNudge] = []
    for shape in shapes:
        for k, nudge in enumerate(new_nudges(shape, renderer, community_id, now)):
            due = dues if isinstance(dues, datetime) else dues[shape.first + k]
            rows.append(NewNudge(nudge.community_id, nudge.kind, due, nudge.recipient_id,
                                 nudge.channel, nudge.intro_id, nudge.session_id, nudge.payload))
    for start in range(0, len(rows), per_transaction):
        async with store.transaction() as tx:
            await tx.nudges.add(rows[start:start + per_transaction], now)
    return len(rows)
