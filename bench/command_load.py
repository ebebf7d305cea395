"""The command benchmark's workload and the process that runs it through the real core.

**People.** 200 active people of the seeded community (``bench.community``): 40 mentors, 155
members, 5 organizers, each presented as Slack presents them (a ``Caller`` with the platform
timezone), typing lines into ``core.handle_text``.

**Work.** Journeys, each one person's real way through the bot, step after step (a step is
sent only after the previous one answered, as a person would):

    find <topic> → profile <mentor> → request <mentor> topic: … context: … → (the mentor)
    accept <#> → book <mentor> when: <a free time in the mentor's window> length: 30 →
    (the mentor) confirm <#> → sessions → my

and organizers' ``settings``, one for every journey, so the nine kinds of command come about
equally often (four of the nine write). Booking times are planned so that no two bookings of
a person clash and each is inside the mentor's weekly window with more than the minimum
notice: the benchmark measures commands that do their work, and counts every refusal.

**Arrivals.** *Open loop* (the latency figures): commands arrive at a fixed average rate
(Poisson), as people on a platform send them; at each arrival the next
step of a journey whose previous step has answered is sent, else a new journey starts.
*Closed loop* (the capacity figure): 200 people each send their next command as soon as they
have the answer to the last one. In both, at most 200 journeys are under way at once: a person
waiting for an answer does not type on, so an overloaded bot sees arrivals slow down to its
pace (the "answered" rate shows by how much) rather than ever more new journeys.

Meanwhile the real engine (``assemble``'s scheduler) delivers the 10,000 due nudges the
template holds, and everything the commands queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.community import Person, Seeded
from bench.meters import StallMeter, TimedMessenger, percentile
from bot.bootstrap import assemble
from bot.caller import Caller
from bot.config import Settings, StorageSettings
from bot.core import BUSY, Mentorbot

log = logging.getLogger(__name__)

#: People under way at once (see :class:`Load`).
PEOPLE = 200
VERBS = ("find", "profile", "my", "request", "accept", "book", "confirm", "sessions", "settings")
ACTIVE_MENTORS = 40
ACTIVE_MEMBERS = 155
ORGANIZERS = 5
CONTEXT = ("I am moving from scripts to a real service and got stuck on structuring it; "
           "I tried a tutorial and the docs.")
INTRO_ID = re.compile(r"Request #(\d+) sent")
SESSION_ID = re.compile(r"Session #(\d+) proposed")


@dataclass(frozen=True)
class Step:
    verb: str
    actor: Person
    admin: bool
    line: str
    """The typed line; ``{intro}`` and ``{session}`` are filled from earlier answers."""

    def caller(self) -> Caller:
        return self.actor.caller(admin=self.admin)


@dataclass(frozen=True)
class Unit:
    steps: tuple[Step, ...]


def save_units(units: list[Unit], path: Path) -> None:
    path.write_text(json.dumps([asdict(u) for u in units]))


def load_units(path: Path) -> list[Unit]:
    out = []
    for raw in json.loads(path.read_text()):
        steps = []
        for s in raw["steps"]:
            actor = Person(**{**s["actor"], "topics": tuple(s["actor"].get("topics") or ())})
            steps.append(Step(s["verb"], actor, s["admin"], s["line"]))
        out.append(Unit(tuple(steps)))
    return out


class Calendar:
    """Free hours per person, so that the planned bookings never clash."""

    def __init__(self) -> None:
        self.taken: set[tuple[int, datetime]] = set()

    def book(self, mentor: Person, mentee: Person, first_day: date) -> datetime:
        zone = ZoneInfo(mentor.zone)
        for day in range(60):
            local_day = first_day + timedelta(days=day)
            for hour in range(8, 21):
                start = datetime(local_day.year, local_day.month, local_day.day, hour,
                                 tzinfo=zone).astimezone(UTC)
                if (mentor.id, start) in self.taken or (mentee.id, start) in self.taken:
                    continue
                self.taken.update({(mentor.id, start), (mentee.id, start)})
                return start.astimezone(zone)
        raise RuntimeError("no free hour in 60 days")


def build_units(seeded: Seeded, commands: int, seed: int = 11) -> list[Unit]:
    """Journeys and organizers' ``settings``, shuffled, enough for ``commands`` commands
    twice over (journeys cut short by a refusal must not leave arrivals with nothing to
    send)."""
    rng = random.Random(seed)
    mentors = list(seeded.mentors[:ACTIVE_MENTORS])
    mentees = list(seeded.members[:ACTIVE_MEMBERS])
    organizers = list(seeded.members[ACTIVE_MEMBERS:ACTIVE_MEMBERS + ORGANIZERS])
    pairs = [(m, t) for m in mentees for t in mentors]
    rng.shuffle(pairs)
    calendar = Calendar()
    first_day = datetime.now(UTC).date() + timedelta(days=3)
    units: list[Unit] = []
    planned = 0
    target = commands * 2
    while planned < target:
        mentee, mentor = pairs.pop()
        topic = rng.choice(mentor.topics)
        when = calendar.book(mentor, mentee, first_day)
        ref = f"<member:{mentor.user_id}>"
        journey = Unit((
            Step("find", mentee, False, f"find {topic}"),
            Step("profile", mentee, False, f"profile {ref}"),
            Step("request", mentee, False, f"request {ref} topic: {topic} context: {CONTEXT}"),
            Step("accept", mentor, False, "accept {intro}"),
            Step("book", mentee, False,
                 f"book {ref} when: {when:%Y-%m-%d %H:%M} {mentor.zone} length: 30"),
            Step("confirm", mentor, False, "confirm {session}"),
            Step("sessions", mentee, False, "sessions"),
            Step("my", mentee, False, "my"),
        ))
        organizer = organizers[len(units) % len(organizers)]
        units += [journey, Unit((Step("settings", organizer, True, "settings"),))]
        planned += len(journey.steps) + 1
    rng.shuffle(units)
    return units


@dataclass
class Outcome:
    verb: str
    seconds: float
    refused: bool
    started: float


@dataclass
class _Journey:
    unit: Unit
    ids: dict[str, str] = field(default_factory=dict)
    retries: int = 0


class Load:
    """Sends the units' steps through the core and records each answer's latency."""

    def __init__(self, core: Mentorbot, units: list[Unit], total: int,
                 people: int = PEOPLE) -> None:
        self.core = core
        self.units = deque(units)
        self.total = total
        self.people = people
        """At most this many journeys under way: a person waiting for an answer does not
        type their next command, so a slow bot is not offered ever more new journeys (which
        would also tilt the mix towards first steps)."""
        self.open_journeys = 0
        self.ready: deque[tuple[_Journey, int]] = deque()
        self.issued = 0
        self.in_flight = 0
        self.outcomes: list[Outcome] = []
        self.failures: dict[str, str] = {}
        self.changed = asyncio.Event()

    def next_step(self) -> tuple[_Journey, int] | None:
        """A step whose previous step has answered, else the first step of a new unit (if
        fewer than ``people`` are under way)."""
        if self.ready:
            return self.ready.popleft()
        if self.units and self.open_journeys < self.people:
            self.open_journeys += 1
            return _Journey(self.units.popleft()), 0
        return None

    async def send(self, journey: _Journey, index: int) -> None:
        """Send one step; a "busy" answer is sent again later (up to three times), as a person
        told "try again in a moment" would; any other refusal ends the journey."""
        step = journey.unit.steps[index]
        line = step.line.format(**journey.ids)
        self.issued += 1
        self.in_flight += 1
        began = time.perf_counter()
        try:
            reply = await self.core.handle_text(step.caller(), line)
        finally:
            self.in_flight -= 1
        took = time.perf_counter() - began
        text = reply.plain_text()
        ok = not reply.refused
        if ok and step.verb in ("request", "book"):
            found = (INTRO_ID if step.verb == "request" else SESSION_ID).search(text)
            ok = found is not None
            if found:
                journey.ids["intro" if step.verb == "request" else "session"] = found.group(1)
        self.outcomes.append(Outcome(step.verb, took, not ok, began))
        if not ok:
            self.failures.setdefault(step.verb, text[:300])
            if text == BUSY and journey.retries < 3:
                journey.retries += 1
                self.ready.append((journey, index))
            else:
                self.open_journeys -= 1
        elif index + 1 < len(journey.unit.steps):
            self.ready.append((journey, index + 1))
        else:
            self.open_journeys -= 1
        self.changed.set()

    async def _next(self) -> tuple[_Journey, int] | None:
        """The next step to send, waiting for an answer if every journey waits for one;
        None when there is nothing left at all."""
        item = self.next_step()
        while item is None and self.in_flight:
            self.changed.clear()
            await self.changed.wait()
            item = self.next_step()
        return item

    async def open_loop(self, rate: float, seed: int = 5) -> None:
        """Arrivals at ``rate`` a second on average (Poisson), whatever the answers."""
        rng = random.Random(seed)
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        start = loop.time()
        due = 0.0
        while self.issued < self.total:
            due += rng.expovariate(rate)
            wait = start + due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            item = await self._next()
            if item is None:
                break
            task = asyncio.create_task(self.send(*item))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)

    async def closed_loop(self, people: int) -> None:
        """``people`` each send a command as soon as their last one has answered (the next
        step of a journey under way, or a new one)."""

        async def person() -> None:
            while self.issued < self.total:
                item = await self._next()
                if item is None:
                    return
                await self.send(*item)

        await asyncio.gather(*(person() for _ in range(people)))


# -- autocomplete --------------------------------------------------------------------------------


async def time_suggestions(core: Mentorbot, seeded: Seeded, calls: int = 100,
                           ) -> dict[str, dict[str, float]]:
    """``core.suggest`` for each source, with a spread of typed prefixes (milliseconds)."""
    mentees = seeded.members[:ACTIVE_MEMBERS]
    mentors = seeded.mentors[:ACTIVE_MENTORS]
    cases: dict[str, tuple[str, str, list[str], list[Caller]]] = {
        "topics": ("find", "topic", ["", "p", "py", "da", "ca", "se", "k", "mach", "x"],
                   [m.caller() for m in mentees]),
        "mentors": ("request", "mentor", ["", "M", "Men", "Mentor 00", "Mentor 001", "tor 05",
                                          "zz"], [m.caller() for m in mentees]),
        "timezones": ("tz", "zone", ["", "Eu", "Europe/", "America/N", "asia/t", "Ber", "UTC"],
                      [m.caller() for m in mentees]),
        "own sessions": ("confirm", "session_id", ["", "1", "#", "2"],
                         [m.caller() for m in [*mentees, *mentors]]),
    }
    out: dict[str, dict[str, float]] = {}
    for source, (verb, param, prefixes, callers) in cases.items():
        took: list[float] = []
        empty = 0
        for i in range(calls):
            began = time.perf_counter()
            found = await core.suggest(callers[i % len(callers)], verb, param,
                                       prefixes[i % len(prefixes)])
            took.append(time.perf_counter() - began)
            empty += not found
        out[source] = {"p50_ms": percentile(took, 50) * 1000,
                       "p99_ms": percentile(took, 99) * 1000, "empty": empty, "calls": calls}
    return out


# -- one bot process running its share -----------------------------------------------------------


async def instance(url: str, seeded: str, units: str, share: int, shares: int, mode: str,
                   total: int, rate: float, people: int, backlog: int, suggest: bool,
                   profile: str | None = None) -> dict[str, Any]:
    """One bot process (``assemble``: the real core, engine and scheduler) running its share
    of the units: every ``shares``-th, at ``rate / shares`` or with ``people / shares``.

    Prints ``ready`` once assembled and starts on ``go`` (the parent starts every instance
    together). The scheduler starts with the load, so the backlog (``backlog`` nudges due,
    ids 1…backlog) is delivered while the commands run. ``mode``: ``open`` (arrivals at
    ``rate``), ``closed`` (``people`` at once) or ``serial`` (one person at a time).
    """
    from bench.nudge_contenders import Profile

    loop = asyncio.get_running_loop()
    plan = Seeded.load(Path(seeded))
    mine = [u for i, u in enumerate(load_units(Path(units))) if i % shares == share]
    port = TimedMessenger(sys.maxsize)
    settings = Settings(storage=StorageSettings(url=url))
    async with assemble(settings, port, start_scheduler=False, platform="slack") as app:
        load = Load(app.core, mine, total // shares + (share < total % shares),
                    max(1, people // shares))
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await loop.run_in_executor(None, sys.stdin.readline)  # "go"
        began = time.perf_counter()
        wall_began = time.time()
        with Profile(profile):
            async with StallMeter() as stall:
                await app.scheduler.start()
                if mode == "open":
                    await load.open_loop(rate / shares, seed=5 + share)
                else:
                    await load.closed_loop(1 if mode == "serial" else max(1, people // shares))
        ran = time.perf_counter() - began
        backlog_keys = {f"mentorbot-nudge-{i}" for i in range(1, backlog + 1)}
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(backlog_keys & port.arrived.keys()) < backlog:
            await asyncio.sleep(0.1)  # the engine carries on without commands
        delivered = [port.arrived[k] for k in backlog_keys if k in port.arrived]
        suggestions = await time_suggestions(app.core, plan) if suggest else {}
    return {
        "outcomes": [[o.verb, o.seconds, o.refused, o.started] for o in load.outcomes],
        "failures": load.failures, "ran_s": ran, "stall_ms": stall.worst * 1000,
        "backlog_delivered": len(delivered),
        "backlog_s": (max(delivered) - wall_began) if delivered else None,
        "suggest": suggestions,
    }
