"""A community to benchmark in: organizers, mentors, members and confirmed sessions.

Why seeded through the real repositories (``tx.members.add``, ``tx.profiles.save``,
``tx.intros.add`` …) and the organizer's real ``settings set`` commands, not raw SQL: the rows
are then exactly what the bot writes, indexes and all, and a schema change cannot leave the
benchmark measuring a table the bot no longer has. Rows go in transactions of a few hundred
(seeding is not what is measured); it takes a few seconds for 11,000 people. The result is a
*template* database: every measurement starts from a copy of it (see ``bench.databases``).

Everything is deterministic (a fixed random seed), so three runs measure the same community.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.bootstrap import build_core
from bot.caller import Caller
from bot.clock import SystemClock
from bot.config import CommunityDefaults
from bot.domain import IntroState, MentorProfile, SessionState
from bot.profiles.commands import parse_topics
from bot.repositories import Store
from bot.timezones import parse_windows

log = logging.getLogger(__name__)

PLATFORM = "slack"
COMMUNITY = "T0BENCH001"
COMMUNITY_NAME = "Bench"
CHANNEL = "C0BENCH001"

TOPICS = (
    "python", "javascript", "typescript", "rust", "go", "java", "kotlin", "swift", "sql",
    "data science", "machine learning", "devops", "kubernetes", "security", "testing",
    "career growth", "public speaking", "leadership", "product management", "user experience",
    "design systems", "accessibility", "open source", "interviewing", "system design",
    "databases", "cloud", "mobile", "frontend", "backend",
)
#: Platform timezones as Slack reports them: a realistic spread over the world.
ZONES = (
    "Europe/Berlin", "Europe/London", "Europe/Madrid", "Europe/Warsaw", "America/New_York",
    "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Sao_Paulo",
    "Asia/Tokyo", "Asia/Kolkata", "Asia/Singapore", "Asia/Shanghai", "Australia/Sydney",
    "Africa/Lagos", "Africa/Nairobi",
)
WINDOWS = (
    "Mon-Fri 17:00-21:00", "Tue 18:00-20:00, Thu 18:00-20:00", "Sat 10:00-14:00",
    "Mon-Fri 08:00-10:00, Sat 09:00-12:00", "Wed 12:00-14:00", "Mon-Sun 19:00-22:00",
)
#: Mentors the command benchmark's people talk to: open all week, so bookings find room.
ACTIVE_WINDOWS = "Mon-Sun 07:00-22:00"
BIO = "Engineer who likes helping people get unstuck; happy to review code and talk careers."


@dataclass(frozen=True)
class Person:
    id: int
    user_id: str
    name: str
    zone: str
    topics: tuple[str, ...] = ()
    """A mentor's topics."""

    def caller(self, *, admin: bool = False) -> Caller:
        """How the platform presents this person (Slack reports each member's zone)."""
        return Caller(PLATFORM, COMMUNITY, COMMUNITY_NAME, self.user_id, self.name, self.zone,
                      is_platform_admin=admin)


@dataclass(frozen=True)
class SeededSession:
    id: int
    mentor_id: int
    member_id: int


@dataclass(frozen=True)
class Seeded:
    """What a template database holds, for building workloads against it."""

    community_id: int
    organizer: Person
    mentors: tuple[Person, ...]
    """The first ``active_mentors`` of them are open all week and have no seeded sessions."""
    members: tuple[Person, ...]
    sessions: tuple[SeededSession, ...]
    active_mentors: int

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @staticmethod
    def load(path: Path) -> Seeded:
        raw = json.loads(path.read_text())
        return Seeded(
            raw["community_id"], Person(**raw["organizer"]),
            tuple(_person(p) for p in raw["mentors"]),
            tuple(_person(p) for p in raw["members"]),
            tuple(SeededSession(**s) for s in raw["sessions"]),
            raw["active_mentors"],
        )


def _person(raw: dict[str, object]) -> Person:
    return Person(**{**raw, "topics": tuple(raw.get("topics") or ())})  # type: ignore[arg-type]


#: The community settings a busy community's organizers would set: DM budgets that let a
#: benchmark's thousands of reminders out in one hour (the defaults would hold most back), and
#: room for a member's several requests in flight at once.
SETTINGS = (
    ("intros_channel", CHANNEL),
    ("dm_per_community_per_hour", "100000"),
    ("dm_per_member_per_day", "500"),
    ("request_limit", "10"),
)


async def seed(
    store: Store,
    *,
    mentors: int = 1000,
    members: int = 10_000,
    sessions: int = 0,
    active_mentors: int = 40,
    batch: int = 500,
) -> Seeded:
    """Create the community (through the organizer's commands) and its people and sessions.

    Sessions are confirmed, between the non-active mentors and members, start 10–11 weeks
    from now (after any booking the command benchmark makes, and never "already started"),
    each from an accepted intro. No nudges: each benchmark writes its own.
    """
    rng = random.Random(20261201)
    clock = SystemClock()
    now = clock.now()
    organizer_seed = Person(0, "U0ORGANIZ1", "Organizer", "Europe/Berlin")
    core = build_core(store, clock, CommunityDefaults())
    org_caller = organizer_seed.caller(admin=True)
    for key, value in SETTINGS:
        reply = await core.handle_text(org_caller, f"settings set {key} {value}")
        if reply.refused:
            raise RuntimeError(f"seeding: settings set {key} was refused: {reply.plain_text()}")
    async with store.reading() as tx:
        community = await tx.communities.get(PLATFORM, COMMUNITY)
        assert community is not None
        me = await tx.members.by_platform_id(community.id, org_caller.user_id)
        assert me is not None
    organizer = Person(me.id, organizer_seed.user_id, organizer_seed.name, organizer_seed.zone)

    async def add_people(prefix: str, label: str, count: int) -> list[Person]:
        people: list[Person] = []
        for start in range(0, count, batch):
            async with store.transaction() as tx:
                for i in range(start, min(count, start + batch)):
                    zone = ZONES[rng.randrange(len(ZONES))]
                    name = f"{label} {i:05d}"
                    row = await tx.members.add(community.id, f"{prefix}{i:07d}", name, zone, now,
                                               timezone_source="platform")
                    people.append(Person(row.id, row.platform_user_id, name, zone))
        return people

    mentor_people = await add_people("UM", "Mentor", mentors)
    member_people = await add_people("UP", "Member", members)

    for start in range(0, len(mentor_people), batch):
        async with store.transaction() as tx:
            for i, person in enumerate(mentor_people[start:start + batch], start=start):
                active = i < active_mentors
                topics = parse_topics(", ".join(rng.sample(TOPICS, 3)))
                mentor_people[i] = Person(person.id, person.user_id, person.name, person.zone,
                                          topics)
                await tx.profiles.save(MentorProfile(
                    member_id=person.id, community_id=community.id, bio=BIO,
                    topics=topics,
                    session_lengths=(30, 60),
                    windows=parse_windows(ACTIVE_WINDOWS if active else rng.choice(WINDOWS)),
                    availability_timezone=person.zone,
                    max_mentees=20 if active else rng.randint(2, 5),
                    max_sessions_per_month=40 if active else rng.randint(4, 12),
                    paused_until=None, created_at=now, updated_at=now,
                ))

    seeded_sessions: list[SeededSession] = []
    others = mentor_people[active_mentors:]
    first_start = now + timedelta(weeks=10)
    intro_of: dict[tuple[int, int], int] = {}
    for start in range(0, sessions, batch):
        async with store.transaction() as tx:
            for i in range(start, min(sessions, start + batch)):
                mentor = others[i % len(others)]
                mentee = member_people[(i * 7) % len(member_people)]
                intro_id = intro_of.get((mentor.id, mentee.id))
                if intro_id is None:
                    intro = await tx.intros.add(
                        community.id, mentee.id, mentor.id, rng.choice(TOPICS),
                        "I want to get better at this and would value an experienced view.", now)
                    await tx.intros.set_state(intro.id, IntroState.PENDING, IntroState.ACCEPTED,
                                              now, answered=True)
                    intro_id = intro_of[(mentor.id, mentee.id)] = intro.id
                session = await tx.sessions.add(
                    community_id=community.id, intro_id=intro_id, mentor_id=mentor.id,
                    member_id=mentee.id, topic=rng.choice(TOPICS), agenda=None,
                    start_at=_on_the_minute(first_start + timedelta(minutes=17 * i)),
                    duration_minutes=30, state=SessionState.CONFIRMED, proposed_by=mentee.id,
                    now=now,
                )
                seeded_sessions.append(SeededSession(session.id, mentor.id, mentee.id))
    log.info("seeded %d mentors, %d members, %d sessions", mentors, members, sessions)
    return Seeded(community.id, organizer, tuple(mentor_people), tuple(member_people),
                  tuple(seeded_sessions), active_mentors)


def _on_the_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)
