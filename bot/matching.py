"""Finding mentors: topic matching and ranking, with the reasons a person can read.

Matching is tolerant: case, plurals, small typos (rapidfuzz, rather than a hand-rolled edit
distance) and the community's synonyms ("js" = "javascript"). Ranking weighs, in this order:
how well the topics fit, how much room the mentor has left, how much of their week falls in the
member's waking hours, and fewer recent intros first, so load spreads across mentors.
"In this order" is by weight (a weighted sum, see ``*_WEIGHT``): topic fit counts as much as
the other three together, so a close topic match is never outranked by a merely idle mentor.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from bot.domain import Member, MentorProfile
from bot.timezones import WakingWeek, part_of_day

log = logging.getLogger(__name__)

FUZZY_THRESHOLD = 80
TOPIC_WEIGHT = 0.5
CAPACITY_WEIGHT = 0.2
OVERLAP_WEIGHT = 0.2
SPREAD_WEIGHT = 0.1


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def normalize_topic(topic: str, synonyms: Mapping[str, str]) -> str:
    """Lower-case, singular, synonyms applied: "JS" → "javascript", "APIs" → "api"."""
    words = re.findall(r"[\w+#.]+", topic.lower())
    phrase = " ".join(words)
    if phrase in synonyms:
        # Map once: "career" → "career growth" must not become "career growth growth".
        mapped = synonyms[phrase].split()
    else:
        mapped = " ".join(synonyms.get(w, w) for w in words).split()
    return " ".join(_singular(w) for w in mapped)


def _without_plural_s(phrase: str) -> str:
    """Every word without a trailing "s": "apis" and "api" meet ("is"/"us" endings aside)."""
    return " ".join(w[:-1] if len(w) > 2 and w.endswith("s") else w for w in phrase.split())


def similarity(a: str, b: str) -> float:
    """0-100: the better of indel ratio and transposition-aware edit similarity ("pyhton").

    0 when the first letters differ: typos rarely hit the first letter, while different words
    often differ exactly there ("rust" and "trust", "java" and "lava").
    """
    if a[:1] != b[:1]:
        return 0.0
    return max(fuzz.ratio(a, b), OSA.normalized_similarity(a, b) * 100)


def topic_fit(query: str, topic: str, synonyms: Mapping[str, str]) -> float:
    """1.0 for the same topic, less for a partial or fuzzy match, 0.0 for none."""
    return _fit(normalize_topic(query, synonyms), normalize_topic(topic, synonyms))


class TopicMatcher:
    """One search's query against many mentors' topics.

    Why a class: a search compares one query with every topic of every mentor (thousands in a
    big community), and most topics recur ("python" on a hundred profiles). Normalizing the
    query once and each distinct topic once, for this search only, keeps ``find`` fast
    without a cache that outlives the community's synonyms.
    """

    def __init__(self, query: str, synonyms: Mapping[str, str]) -> None:
        self.synonyms = synonyms
        self.query = normalize_topic(query, synonyms)
        self._fits: dict[str, float] = {}

    def fit(self, topic: str) -> float:
        found = self._fits.get(topic)
        if found is None:
            found = self._fits[topic] = _fit(self.query, normalize_topic(topic, self.synonyms))
        return found

    def best(self, profile: MentorProfile) -> float:
        """How well the mentor's best-fitting topic fits (0.0: none does)."""
        return max((self.fit(topic) for topic in profile.topics), default=0.0)


def _fit(q: str, t: str) -> float:
    if not q or not t:
        return 0.0
    if q == t or _without_plural_s(q) == _without_plural_s(t):
        return 1.0
    q_words, t_words = set(q.split()), set(t.split())
    if q_words <= t_words or t_words <= q_words:
        return 0.8
    ratio = similarity(q, t)
    if ratio >= FUZZY_THRESHOLD:
        return 0.7 * ratio / 100
    if q_words & t_words:
        return 0.5
    best_word = max(
        (similarity(a, b) for a in q_words for b in t_words if len(a) > 3 and len(b) > 3),
        default=0.0,
    )
    if best_word >= FUZZY_THRESHOLD:
        return 0.45
    return 0.0


@dataclass(frozen=True)
class Load:
    """What a mentor has on their plate right now."""

    active_mentees: int = 0
    sessions_this_month: int = 0
    recent_intros: int = 0


@dataclass(frozen=True)
class Candidate:
    mentor: Member
    profile: MentorProfile
    score: float
    matched_topics: tuple[str, ...]
    mentee_slots_left: int
    sessions_left: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Unavailable:
    """A mentor whose topics fit but who is full or paused right now."""

    mentor: Member
    why: str


def is_full(profile: MentorProfile, load: Load) -> bool:
    return (
        load.active_mentees >= profile.max_mentees
        or load.sessions_this_month >= profile.max_sessions_per_month
    )


def rank_mentors(
    query: str,
    *,
    seeker: Member,
    seeker_zone: str,
    quiet_hours: str,
    mentors: Sequence[tuple[Member, MentorProfile]],
    loads: Mapping[int, Load],
    synonyms: Mapping[str, str],
    now: datetime,
    limit: int = 5,
) -> tuple[list[Candidate], list[Unavailable]]:
    """Mentors that fit ``query``, best first, and those that fit but can't take anyone now.

    ``mentors`` may hold every mentor of the community, or only those :func:`fitting` kept.
    """
    candidates: list[Candidate] = []
    unavailable: list[Unavailable] = []
    matcher = TopicMatcher(query, synonyms)
    waking = WakingWeek(seeker_zone, quiet_hours, now)
    most_recent = max((loads.get(m.id, Load()).recent_intros for m, _ in mentors), default=0)
    for mentor, profile in mentors:
        if mentor.id == seeker.id:
            continue
        fits = sorted(((matcher.fit(topic), topic) for topic in profile.topics), reverse=True)
        fits = [f for f in fits if f[0] > 0]
        if not fits:
            continue
        load = loads.get(mentor.id, Load())
        if profile.is_paused(now):
            unavailable.append(Unavailable(mentor, "paused"))
            continue
        if is_full(profile, load):
            unavailable.append(Unavailable(mentor, "full"))
            continue
        best = fits[0][0]
        slots = profile.max_mentees - load.active_mentees
        sessions_left = profile.max_sessions_per_month - load.sessions_this_month
        capacity = min(
            slots / profile.max_mentees, sessions_left / profile.max_sessions_per_month
        )
        overlap, starts = waking.overlap(profile.windows, profile.availability_timezone)
        overlap_score = min(overlap / timedelta(hours=4), 1.0)
        spread = 1.0 - (load.recent_intros / most_recent if most_recent else 0.0)
        score = (
            TOPIC_WEIGHT * best
            + CAPACITY_WEIGHT * capacity
            + OVERLAP_WEIGHT * overlap_score
            + SPREAD_WEIGHT * spread
        )
        matched = tuple(topic for fit, topic in fits if fit >= best * 0.6)[:3]
        reasons = [", ".join(matched)]
        reasons.append(
            f"{sessions_left} session{'s' if sessions_left != 1 else ''} free this month"
        )
        if starts:
            parts = sorted({part_of_day(s, seeker_zone) for s in starts})
            reasons.append(" and ".join(parts) + " overlap")
        else:
            reasons.append("no overlap with your waking hours")
        if load.recent_intros == 0:
            reasons.append("no recent intros")
        candidates.append(
            Candidate(
                mentor=mentor,
                profile=profile,
                score=round(score, 4),
                matched_topics=matched,
                mentee_slots_left=slots,
                sessions_left=sessions_left,
                reasons=tuple(reasons),
            )
        )
    candidates.sort(key=lambda c: (-c.score, c.mentor.display_name.lower(), c.mentor.id))
    return candidates[:limit], unavailable


def fitting_topics(query: str, topics: Sequence[str], synonyms: Mapping[str, str]
                   ) -> list[str]:
    """The community's topics that fit ``query`` at all: a search then reads only the mentors
    listing one of them, not a big community's thousand profiles."""
    matcher = TopicMatcher(query, synonyms)
    return [topic for topic in topics if matcher.fit(topic) > 0]
