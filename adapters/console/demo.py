"""The demo community the console seeds on first run, so a newcomer can try everything at once.

Seeded through the core's own commands (exactly what these people would type), never by writing
rows, so the demo always satisfies the same rules as real data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

COMMUNITY_ID = "demo"
COMMUNITY_NAME = "Demo Community"


@dataclass(frozen=True)
class DemoPerson:
    name: str
    timezone: str
    role: str
    commands: tuple[str, ...] = ()


DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("Ada", "Europe/Berlin", "newcomer looking for a mentor (you start as Ada)"),
    DemoPerson(
        "Grace", "America/New_York", "mentor: python, career growth, public speaking",
        ("mentor set topics: python, career growth, public speaking "
         "bio: Compiler engineer for 30 years; happy to talk code reviews and first jobs. "
         "lengths: 30, 60 availability: Mon-Fri 12:00-14:00, Sat 10:00-12:00 mentees: 3",),
    ),
    DemoPerson(
        "Linus", "Europe/Helsinki", "mentor: linux, kubernetes, open source (1 mentee at a time)",
        ("mentor set topics: linux, kubernetes, open source "
         "bio: Maintainer of a few CLI tools; I like helping first-time contributors. "
         "lengths: 45 availability: Tue 18:00-20:00, Thu 18:00-20:00 mentees: 1",),
    ),
    DemoPerson(
        "Yuki", "Asia/Tokyo", "mentor: javascript, typescript, user experience",
        ("mentor set topics: javascript, typescript, user experience "
         "bio: Front-end lead; design systems, accessibility and career switches. "
         "lengths: 30 availability: Wed 09:00-11:00, Sun 14:00-17:00 mentees: 2",),
    ),
    DemoPerson(
        "Margaret", "America/Los_Angeles", "mentor: python, machine learning (paused)",
        ("mentor set topics: python, machine learning "
         "bio: Data scientist; notebooks to production. "
         "lengths: 30, 60 availability: Mon 17:00-19:00 mentees: 2",
         "mentor pause in 3 weeks"),
    ),
    DemoPerson("Kofi", "Africa/Accra", "member"),
)

DEFAULT_SPEAKER = "Ada"
