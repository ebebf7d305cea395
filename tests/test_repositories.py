"""The storage port, repository by repository, on SQLite and PostgreSQL (``any_db_url``).

Each test writes through the repositories the core uses and reads back what was recorded: the
same calls must mean the same thing on both databases. Tables are read directly (``tx.conn``)
only where a column is not part of any value the core sees (a nudge's platform, for one).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import AsyncIterator
from datetime import time as daytime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection

from bot.config import StorageSettings
from bot.domain import (
    IntroState,
    MentorProfile,
    NewNudge,
    NudgeOutcome,
    SentNudge,
    SessionState,
    Window,
    Worker,
)
from bot.errors import StorageBusy, StorageConflict, StorageUnavailable
from storage import schema as t
from storage.db import alembic_config, create_engine, migrate
from storage.store import SqlStore, SqlTx
from tests.conftest import START

HOUR = timedelta(hours=1)


async def open_store(url: str, **settings: Any) -> SqlStore:
    storage = StorageSettings(url=url, **settings)
    engine = create_engine(storage)
    await migrate(engine)
    return SqlStore(engine, busy_timeout_seconds=storage.busy_timeout_seconds)


@pytest.fixture
async def db(any_db_url: str) -> AsyncIterator[SqlStore]:
    store = await open_store(any_db_url)
    yield store
    await store.close()


class Seed:
    """A community with a few members, made through the repositories."""

    def __init__(self, tx: SqlTx) -> None:
        self.tx = tx

    async def community(self, external_id: str = "C1", platform: str = "slack") -> int:
        return (await self.tx.communities.create(platform, external_id, "Club", START)).id

    async def member(self, community_id: int, name: str, tz: str | None = None) -> int:
        member = await self.tx.members.add(community_id, f"U-{name}", name, tz, START)
        return member.id

    async def intro(self, community_id: int, member_id: int, mentor_id: int) -> int:
        intro = await self.tx.intros.add(
            community_id, member_id, mentor_id, "python", "context", START
        )
        return intro.id


def nudge(community_id: int, kind: str = "ping", due_in: timedelta = timedelta(0),
          **values: Any) -> NewNudge:
    return NewNudge(community_id, kind, START + due_in, **values)


# -- communities ------------------------------------------------------------------------------


async def test_a_community_is_found_by_its_platform_id_and_keeps_its_settings(
    db: SqlStore,
) -> None:
    async with db.transaction() as tx:
        made = await tx.communities.create("discord", "G1", "Guild", START)
        assert await tx.communities.settings(made.id) == {}
        await tx.communities.save_settings(made.id, {"request_limit": 5, "synonyms": {"a": "b"}})
    async with db.reading() as tx:
        assert await tx.communities.get("discord", "G1") == made
        assert await tx.communities.by_id(made.id) == made
        assert await tx.communities.get("slack", "G1") is None
        assert await tx.communities.by_id(made.id + 1) is None
        assert await tx.communities.settings(made.id) == {
            "request_limit": 5, "synonyms": {"a": "b"}
        }


async def test_a_stashed_command_is_found_only_from_its_own_community(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        red, blue = await seed.community("red"), await seed.community("blue")
        stash_id = await tx.communities.stash_command(red, "accept 12 note: " + "x" * 300, START)
    async with db.reading() as tx:
        assert await tx.communities.stashed_command(red, stash_id) == (
            "accept 12 note: " + "x" * 300
        )
        assert await tx.communities.stashed_command(blue, stash_id) is None
        assert await tx.communities.stashed_command(red, stash_id + 1) is None


# -- members ----------------------------------------------------------------------------------


async def test_members_are_found_by_platform_id_id_and_name_within_their_community(
    db: SqlStore,
) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        red, blue = await seed.community("red"), await seed.community("blue")
        ada = await tx.members.add(
            red, "U1", "Ada", "Europe/Berlin", START, timezone_source="platform"
        )
        bob = await tx.members.add(red, "U2", "Bob", None, START)
        other_ada = await tx.members.add(blue, "U1", "ADA", None, START)
    async with db.reading() as tx:
        assert ada.timezone_source == "platform" and bob.timezone_source is None
        assert await tx.members.by_platform_id(red, "U1") == ada
        assert await tx.members.by_platform_id(blue, "U1") == other_ada
        assert await tx.members.get(red, bob.id) == bob
        assert await tx.members.get(blue, bob.id) is None
        assert await tx.members.by_ids(red, [ada.id, bob.id, other_ada.id, ada.id]) == {
            ada.id: ada, bob.id: bob
        }
        assert await tx.members.by_ids(red, []) == {}
        assert await tx.members.named(red, "aDa") == [ada]
        assert await tx.members.named(blue, "ada") == [other_ada]
        assert await tx.members.named(red, "Ad") == []


async def test_member_search_puts_names_starting_with_the_text_first(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        club, other = await seed.community("club"), await seed.community("other")
        for name in ("Maria", "Adam", "Mark", "Amara", "mary_ann", "Tom", "100% Mario"):
            await seed.member(club, name)
        await seed.member(other, "Marco")
    async with db.reading() as tx:
        found = [m.display_name for m in await tx.members.search(club, "MAR", 10)]
        assert found == ["Maria", "Mark", "mary_ann", "100% Mario", "Amara"]
        assert [m.display_name for m in await tx.members.search(club, "mar", 2)] == [
            "Maria", "Mark"
        ]
        # LIKE's wildcards are taken literally.
        assert [m.display_name for m in await tx.members.search(club, "_a", 10)] == ["mary_ann"]
        assert [m.display_name for m in await tx.members.search(club, "%", 10)] == [
            "100% Mario"
        ]
        assert await tx.members.search(club, "zz", 10) == []


async def test_member_update_changes_only_the_listed_columns(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        club = await seed.community()
        ada = await seed.member(club, "Ada")
        await tx.members.update(
            ada, display_name="Ada L.", timezone="Asia/Tokyo", timezone_source="manual",
            quiet_hours="21:00-07:00", followups_paused_until=START + HOUR, followups_off=True,
            timezone_asked_at=START,
        )
        with pytest.raises(ValueError, match="platform_user_id"):
            await tx.members.update(ada, platform_user_id="U-other")
    async with db.reading() as tx:
        member = await tx.members.get(club, ada)
    assert member is not None
    assert (member.display_name, member.timezone, member.timezone_source) == (
        "Ada L.", "Asia/Tokyo", "manual"
    )
    assert member.quiet_hours == "21:00-07:00" and member.followups_off is True
    assert member.followups_paused_until == START + HOUR
    assert member.timezone_asked_at == START
    assert member.platform_user_id == "U-Ada"


async def test_a_second_writer_for_locked_members_is_told_busy_after_the_busy_timeout(
    any_db_url: str,
) -> None:
    """Bookings lock their people; another booking for them waits, then answers "busy"."""
    store = await open_store(any_db_url, busy_timeout_seconds=0.3)
    try:
        async with store.transaction() as tx:
            seed = Seed(tx)
            club = await seed.community()
            ada, bob = await seed.member(club, "Ada"), await seed.member(club, "Bob")
        async with store.transaction() as first:
            await first.members.lock(club, [bob, ada])
            started = time.monotonic()
            with pytest.raises(StorageBusy):
                async with store.transaction() as second:
                    await second.members.lock(club, [ada])
            waited = time.monotonic() - started
        assert 0.25 <= waited < 2.0
    finally:
        await store.close()


# -- profiles ---------------------------------------------------------------------------------


def profile(community_id: int, member_id: int, topics: tuple[str, ...]) -> MentorProfile:
    return MentorProfile(
        member_id=member_id, community_id=community_id, bio="I review code.", topics=topics,
        session_lengths=(30, 45),
        windows=(Window(3, daytime(9), daytime(10)), Window(1, daytime(18), daytime(20))),
        availability_timezone="Europe/Berlin", max_mentees=3, max_sessions_per_month=4,
        paused_until=None, created_at=START, updated_at=START,
    )


async def test_profiles_are_saved_replaced_listed_and_deleted(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        club, other = await seed.community("club"), await seed.community("other")
        ada, bob = await seed.member(club, "Ada"), await seed.member(club, "Bob")
        eve = await seed.member(other, "Eve")
        await tx.profiles.save(profile(club, ada, ("python", "career")))
        await tx.profiles.save(profile(club, bob, ("rust", "python")))
        await tx.profiles.save(profile(other, eve, ("go",)))
    async with db.transaction() as tx:
        written = profile(club, ada, ("python", "career"))
        # Windows come back in week order (Tue before Thu), topics in the mentor's order.
        assert await tx.profiles.get(club, ada) == dataclasses.replace(
            written, windows=tuple(sorted(written.windows))
        )
        assert await tx.profiles.topics(club) == ["career", "python", "rust"]
        replaced = profile(club, ada, ("design",))
        await tx.profiles.save(replaced)
    async with db.transaction() as tx:
        got = await tx.profiles.get(club, ada)
        assert got is not None and got.topics == ("design",)
        assert sorted(p.member_id for p in await tx.profiles.all(club)) == sorted([ada, bob])
        assert await tx.profiles.get(other, ada) is None
        assert await tx.profiles.delete(other, ada) is False
        assert await tx.profiles.delete(club, ada) is True
        assert await tx.profiles.delete(club, ada) is False
    async with db.reading() as tx:
        assert await tx.profiles.get(club, ada) is None
        assert await tx.profiles.topics(club) == ["python", "rust"]
        assert await tx.profiles.topics(other) == ["go"]


# -- intros, notes, waitlist ------------------------------------------------------------------


async def test_intro_state_changes_only_from_the_expected_state(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        club, other = await seed.community("club"), await seed.community("other")
        ada, bob = await seed.member(club, "Ada"), await seed.member(club, "Bob")
        intro = await tx.intros.add(club, bob, ada, "python", "packaging help", START)
        assert intro.state is IntroState.PENDING and intro.answered_at is None
    later = START + HOUR
    async with db.transaction() as tx:
        assert await tx.intros.set_state(
            intro.id, IntroState.PENDING, IntroState.DECLINED, later,
            answer_note="busy month", answered=True,
        )
        # A second answer based on the old state changes nothing.
        assert not await tx.intros.set_state(
            intro.id, IntroState.PENDING, IntroState.ACCEPTED, later
        )
        await tx.intros.set_space(intro.id, "D-123")
    async with db.reading() as tx:
        got = await tx.intros.get(club, intro.id)
        assert await tx.intros.get(other, intro.id) is None
    assert got is not None
    assert (got.state, got.answer_note, got.answered_at, got.updated_at, got.space_ref) == (
        IntroState.DECLINED, "busy month", later, later, "D-123"
    )


async def test_intros_are_listed_newest_first_and_counted_per_mentor(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        club = await seed.community()
        ada, bob, cy = [await seed.member(club, n) for n in ("Ada", "Bob", "Cy")]
        first = await tx.intros.add(club, bob, ada, "python", "c", START)
        second = await tx.intros.add(club, cy, ada, "python", "c", START + HOUR)
        third = await tx.intros.add(club, cy, bob, "rust", "c", START + 2 * HOUR)
        await tx.intros.set_state(third.id, IntroState.PENDING, IntroState.ACCEPTED, START)
    async with db.reading() as tx:
        assert [i.id for i in await tx.intros.of(club)] == [third.id, second.id, first.id]
        assert [i.id for i in await tx.intros.of(club, mentor_id=ada)] == [second.id, first.id]
        assert [i.id for i in await tx.intros.of(club, member_id=cy)] == [third.id, second.id]
        assert [i.id for i in await tx.intros.of(
            club, member_id=cy, states=[IntroState.ACCEPTED]
        )] == [third.id]
        assert [i.id for i in await tx.intros.of(club, limit=1)] == [third.id]
        assert await tx.intros.counts_by_mentor(club, [IntroState.PENDING]) == {ada: 2}
        assert await tx.intros.counts_by_mentor(
            club, [IntroState.PENDING, IntroState.ACCEPTED], since=START + HOUR
        ) == {ada: 1, bob: 1}


async def test_notes_on_a_request_come_back_in_the_order_written(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        club = await seed.community()
        ada, bob = await seed.member(club, "Ada"), await seed.member(club, "Bob")
        intro = await seed.intro(club, bob, ada)
        question = await tx.intros.add_note(club, intro, ada, "Which Python?", START)
        answer = await tx.intros.add_note(club, intro, bob, "3.12", START + HOUR)
    async with db.reading() as tx:
        assert await tx.intros.notes(intro) == [question, answer]
    assert (answer.author_id, answer.text, answer.created_at) == (bob, "3.12", START + HOUR)


async def test_waitlist_entries_are_told_once_first_come_first_told(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        club = await seed.community()
        ada, bob = await seed.member(club, "Ada"), await seed.member(club, "Bob")
        first = await tx.waitlist.add(club, ada, "rust", START)
        second = await tx.waitlist.add(club, bob, "rust", START)
        mine = await tx.waitlist.add(club, ada, "go", START)
    async with db.transaction() as tx:
        assert await tx.waitlist.open(club) == [first, second, mine]
        assert await tx.waitlist.open(club, ada) == [first, mine]
        assert await tx.waitlist.close(first.id, START + HOUR)
        assert not await tx.waitlist.close(first.id, START + 2 * HOUR)
    async with db.reading() as tx:
        assert await tx.waitlist.open(club) == [second, mine]


# -- sessions ---------------------------------------------------------------------------------


async def add_session(tx: SqlTx, club: int, intro: int, mentor: int, member: int,
                      start: Any, state: SessionState = SessionState.CONFIRMED,
                      minutes: int = 60) -> Any:
    return await tx.sessions.add(
        community_id=club, intro_id=intro, mentor_id=mentor, member_id=member, topic="python",
        agenda=None, start_at=start, duration_minutes=minutes, state=state,
        proposed_by=member, now=START,
    )


async def test_a_session_changes_only_if_nobody_changed_it_meanwhile(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        club, other = await seed.community("club"), await seed.community("other")
        ada, bob = await seed.member(club, "Ada"), await seed.member(club, "Bob")
        intro = await seed.intro(club, bob, ada)
        session = await add_session(tx, club, intro, ada, bob, START + 24 * HOUR,
                                    SessionState.PROPOSED)
    later = START + HOUR
    async with db.transaction() as tx:
        moved = await tx.sessions.update(
            session, later, bump_sequence=True, state=SessionState.CONFIRMED,
            start_at=START + 26 * HOUR, agenda="packaging",
        )
        assert moved is not None
        assert (moved.state, moved.sequence, moved.start_at, moved.agenda, moved.updated_at) == (
            SessionState.CONFIRMED, 1, START + 26 * HOUR, "packaging", later
        )
        # The stale copy (sequence 0, proposed) no longer matches the row.
        assert await tx.sessions.update(session, later, cancel_reason="late") is None
        with pytest.raises(ValueError, match="mentor_id"):
            await tx.sessions.update(moved, later, mentor_id=bob)
        with pytest.raises(ValueError, match="HELD or MISSED"):
            await tx.sessions.set_outcome(moved.id, SessionState.CONFIRMED,
                                          SessionState.CANCELLED, later)
        assert await tx.sessions.set_outcome(
            moved.id, SessionState.CONFIRMED, SessionState.HELD, later
        )
        assert not await tx.sessions.set_outcome(
            moved.id, SessionState.CONFIRMED, SessionState.MISSED, later
        )
    async with db.reading() as tx:
        got = await tx.sessions.get(club, session.id)
        assert await tx.sessions.get(other, session.id) is None
    assert got is not None and got.state is SessionState.HELD and got.sequence == 1


async def test_sessions_of_a_person_their_busy_times_and_monthly_counts(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        club = await seed.community()
        ada, bob, cy = [await seed.member(club, n) for n in ("Ada", "Bob", "Cy")]
        intro = await seed.intro(club, bob, ada)
        day = START + 24 * HOUR
        slots = await add_session(tx, club, intro, ada, bob, None, SessionState.PROPOSED)
        held = await add_session(tx, club, intro, ada, bob, day - 48 * HOUR, SessionState.HELD)
        confirmed = await add_session(tx, club, intro, ada, bob, day, minutes=90)
        cancelled = await add_session(tx, club, intro, ada, cy, day, SessionState.CANCELLED)
        other = await add_session(tx, club, intro, bob, cy, day + 3 * HOUR)
    async with db.reading() as tx:
        # By start time; proposals without a time yet come last.
        assert [s.id for s in await tx.sessions.of(club, ada)] == [
            held.id, confirmed.id, cancelled.id, slots.id
        ]
        assert [s.id for s in await tx.sessions.of(
            club, bob, states=[SessionState.CONFIRMED]
        )] == [confirmed.id, other.id]
        assert [s.id for s in await tx.sessions.of(club, ada, limit=1)] == [held.id]
        # 90 minutes from `day`: overlaps [day+1h, day+2h) but not [day+90min, day+3h).
        assert [s.id for s in await tx.sessions.busy(
            club, [ada], day + HOUR, day + 2 * HOUR
        )] == [confirmed.id]
        assert await tx.sessions.busy(club, [ada], day + 90 * timedelta(minutes=1),
                                      day + 3 * HOUR) == []
        assert {s.id for s in await tx.sessions.busy(
            club, [cy], day, day + 4 * HOUR
        )} == {other.id}
        assert {s.id for s in await tx.sessions.of_mentor_between(
            club, ada, day - 72 * HOUR, day + HOUR
        )} == {held.id, confirmed.id}
        assert await tx.sessions.counts_by_mentor(club, day - 72 * HOUR, day + 24 * HOUR) == {
            ada: 2, bob: 1
        }
        assert await tx.sessions.month_stats(club, day - 72 * HOUR, day + 24 * HOUR) == {
            "booked": 3, "held": 1, "missed": 0, "cancelled": 1
        }


async def test_proposed_slots_and_a_series_with_its_occurrences(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        club = await seed.community()
        ada, bob = await seed.member(club, "Ada"), await seed.member(club, "Bob")
        intro = await seed.intro(club, bob, ada)
        proposal = await add_session(tx, club, intro, ada, bob, None, SessionState.PROPOSED)
        await tx.sessions.add_slots(proposal.id, [START + 50 * HOUR, START + 26 * HOUR])
        series = await tx.sessions.add_series(
            community_id=club, intro_id=intro, frequency="weekly", timezone="Europe/Berlin",
            until_at=None, count=3, sequence=0, now=START,
        )
        week = 7 * 24 * HOUR
        occurrences = []
        for n in (2, 0, 1):
            occurrences.append(await tx.sessions.add(
                community_id=club, intro_id=intro, mentor_id=ada, member_id=bob,
                topic="python", agenda=None, start_at=START + n * week, duration_minutes=60,
                state=SessionState.CONFIRMED, proposed_by=ada, now=START, series_id=series.id,
                original_start_at=START + n * week,
            ))
    async with db.transaction() as tx:
        assert await tx.sessions.slots(proposal.id) == [START + 26 * HOUR, START + 50 * HOUR]
        assert await tx.sessions.series(club, series.id) == series
        assert series.count == 3 and series.timezone == "Europe/Berlin"
        ended = await tx.sessions.update_series(series, ended_at=START + HOUR)
        assert ended is not None and ended.sequence == 1 and ended.ended_at == START + HOUR
        assert await tx.sessions.update_series(series) is None  # a stale copy
        assert [s.id for s in await tx.sessions.series_sessions(series.id)] == [
            occurrences[1].id, occurrences[2].id, occurrences[0].id
        ]


# -- follow-ups -------------------------------------------------------------------------------


async def test_attendance_answers_and_feedback_are_recorded_and_summed_up(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        club, other = await seed.community("club"), await seed.community("other")
        ada, bob = await seed.member(club, "Ada"), await seed.member(club, "Bob")
        intro = await seed.intro(club, bob, ada)
        session = await add_session(tx, club, intro, ada, bob, START - 24 * HOUR)
        await tx.followups.record_attendance(club, session.id, bob, 0, "met", START)
        await tx.followups.record_attendance(club, session.id, ada, 0, "missed", START + HOUR)
        await tx.followups.record_attendance(club, session.id, ada, 1, "met", START + HOUR)
        thanks = await tx.followups.add_feedback(
            club, session.id, bob, "thanks", START, text="Thank you!", public=True
        )
        five = await tx.followups.add_feedback(club, session.id, bob, "rating", START, rating=5)
        two = await tx.followups.add_feedback(
            club, session.id, ada, "rating", START + HOUR, rating=2
        )
    async with db.reading() as tx:
        assert [(a.member_id, a.sequence, a.answer) for a in
                await tx.followups.attendance(session.id)] == [
            (bob, 0, "met"), (ada, 0, "missed"), (ada, 1, "met")
        ]
        assert [a.member_id for a in await tx.followups.attendance(session.id, 1)] == [ada]
        assert [a.member_id for a in await tx.followups.recent_attendance(
            club, "met", START
        )] == [ada, bob]
        assert await tx.followups.recent_attendance(club, "missed", START + 2 * HOUR) == []
        assert await tx.followups.feedback(session.id) == [thanks, five, two]
        assert await tx.followups.feedback(session.id, author_id=bob, kind="rating") == [five]
        assert await tx.followups.feedback_by_id(club, thanks.id) == thanks
        assert await tx.followups.feedback_by_id(other, thanks.id) is None
        assert await tx.followups.recent_feedback(club, "rating", START) == [two, five]
        assert await tx.followups.recent_feedback(club, "rating", START, limit=1) == [two]
        assert await tx.followups.feedback_counts(club, START) == {"thanks": 1, "rating": 2}
        assert await tx.followups.average_rating(club, START) == 3.5
        assert await tx.followups.average_rating(club, START + 2 * HOUR) is None
    assert thanks.public is True and thanks.text == "Thank you!" and five.public is False


async def test_answering_twice_at_the_same_time_is_a_storage_conflict(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        club = await seed.community()
        ada, bob = await seed.member(club, "Ada"), await seed.member(club, "Bob")
        session = await add_session(tx, club, await seed.intro(club, bob, ada), ada, bob, START)
        await tx.followups.record_attendance(club, session.id, bob, 0, "met", START)
    with pytest.raises(StorageConflict):
        async with db.transaction() as tx:
            await tx.followups.record_attendance(club, session.id, bob, 0, "missed", START)
    async with db.reading() as tx:
        assert [a.answer for a in await tx.followups.attendance(session.id)] == ["met"]


# -- nudges -----------------------------------------------------------------------------------


async def platforms_of(tx: SqlTx) -> list[tuple[int, str]]:
    rows = await tx.conn.execute(select(t.nudges.c.id, t.nudges.c.platform).order_by("id"))
    return [(r.id, r.platform) for r in rows]


async def test_new_nudges_take_the_platform_of_their_community(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        slack = await seed.community("S", "slack")
        discord = await seed.community("D", "discord")
        ada = await seed.member(slack, "Ada")
        await tx.nudges.add([
            nudge(slack, recipient_id=ada, payload={"b": 1, "a": [1, "é"]}),
            nudge(discord, channel="C1"),
            nudge(slack, due_in=HOUR),
        ], START)
    async with db.reading() as tx:
        assert [p for _, p in await platforms_of(tx)] == ["slack", "discord", "slack"]
        listed = await tx.nudges.list(slack)
        assert [(n.kind, n.recipient_id, n.state, n.attempts) for n in listed] == [
            ("ping", ada, "pending", 0), ("ping", None, "pending", 0)
        ]
        assert listed[0].payload == {"a": [1, "é"], "b": 1} and listed[1].payload == {}


async def test_a_claim_takes_due_nudges_in_due_order_for_its_platform_only(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        slack = await seed.community("S", "slack")
        discord = await seed.community("D", "discord")
        await tx.nudges.add([
            nudge(slack, "late", -HOUR), nudge(discord, "d"), nudge(slack, "early", -2 * HOUR),
            nudge(slack, "future", HOUR), nudge(slack, "now"),
        ], START)
    async with db.transaction() as tx:
        claimed = await tx.nudges.claim_due(START, 2, "tok1", worker="w1", platform="slack")
        assert [n.kind for n in claimed] == ["early", "late"]
        assert {(n.state, n.claim_token, n.claimed_by) for n in claimed} == {
            ("sending", "tok1", "w1")
        }
        rest = await tx.nudges.claim_due(START, 10, "tok2", worker="w1", platform="slack")
        assert [n.kind for n in rest] == ["now"]
        everything = await tx.nudges.claim_due(START, 10, "tok3", worker="w2", platform=None)
        assert [n.kind for n in everything] == ["d"]
        assert await tx.nudges.claim_due(START, 10, "tok4", worker="w2", platform=None) == []
        assert await tx.nudges.next_due("slack") == START + HOUR
        assert await tx.nudges.next_due("discord") is None
        assert await tx.nudges.next_due() == START + HOUR


async def test_claimers_at_the_same_moment_never_get_the_same_nudge(any_db_url: str) -> None:
    stores = [await open_store(any_db_url) for _ in range(3)]
    try:
        async with stores[0].transaction() as tx:
            club = await Seed(tx).community()
            await tx.nudges.add([nudge(club, due_in=-timedelta(seconds=i)) for i in range(120)],
                                START)

        async def claim_all(store: SqlStore, worker: str) -> list[int]:
            got: list[int] = []
            while True:
                async with store.transaction() as tx:
                    batch = await tx.nudges.claim_due(START, 7, f"{worker}-{len(got)}",
                                                      worker=worker, platform=None)
                if not batch:
                    return got
                got.extend(n.id for n in batch)

        results = await asyncio.gather(
            *(claim_all(store, f"w{i}") for i, store in enumerate(stores))
        )
        every = [i for ids in results for i in ids]
        assert len(every) == len(set(every)) == 120
    finally:
        for store in stores:
            await store.close()


async def test_recoverers_at_the_same_moment_never_take_the_same_nudge(any_db_url: str) -> None:
    stores = [await open_store(any_db_url) for _ in range(3)]
    try:
        async with stores[0].transaction() as tx:
            club = await Seed(tx).community()
            await tx.nudges.add([nudge(club) for _ in range(90)], START)
            await tx.nudges.claim_due(START, 90, "dead", worker="dead", platform=None)

        async def recover(store: SqlStore, worker: str) -> list[int]:
            got: list[int] = []
            while True:
                async with store.transaction() as tx:
                    batch = await tx.nudges.reclaim(
                        gone_workers=["dead"], claimed_before=START - HOUR, after_id=0,
                        limit=7, token=f"{worker}-{len(got)}", now=START, worker=worker,
                        platform=None,
                    )
                if not batch:
                    return got
                got.extend(n.id for n in batch)

        results = await asyncio.gather(
            *(recover(store, f"w{i}") for i, store in enumerate(stores))
        )
        every = [i for ids in results for i in ids]
        assert len(every) == len(set(every)) == 90
    finally:
        for store in stores:
            await store.close()


async def test_reclaim_takes_a_gone_workers_claims_at_once_and_leaves_a_live_ones(
    db: SqlStore,
) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        slack = await seed.community("S", "slack")
        discord = await seed.community("D", "discord")
        await tx.nudges.add([nudge(slack, "gone")] * 3 + [nudge(slack, "live")] * 2
                            + [nudge(discord, "gone-discord")], START)
        await tx.nudges.claim_due(START, 3, "t-gone", worker="gone", platform="slack")
        await tx.nudges.claim_due(START, 2, "t-live", worker="live", platform="slack")
        await tx.nudges.claim_due(START, 1, "t-gd", worker="gone", platform="discord")
    now = START + timedelta(seconds=30)
    long_ago = START - HOUR
    async with db.transaction() as tx:
        first = await tx.nudges.reclaim(
            gone_workers=["gone"], claimed_before=long_ago, after_id=0, limit=2, token="r1",
            now=now, worker="me", platform="slack",
        )
        assert [n.kind for n in first] == ["gone", "gone"]
        assert {(n.claim_token, n.claimed_by) for n in first} == {("r1", "me")}
        second = await tx.nudges.reclaim(
            gone_workers=["gone"], claimed_before=long_ago, after_id=first[-1].id, limit=2,
            token="r2", now=now, worker="me", platform="slack",
        )
        assert [n.kind for n in second] == ["gone"]
        assert await tx.nudges.reclaim(
            gone_workers=["gone"], claimed_before=long_ago, after_id=second[-1].id, limit=2,
            token="r3", now=now, worker="me", platform="slack",
        ) == []
    async with db.transaction() as tx:
        # Claims older than the cut-off are taken whoever holds them (the safety net).
        old = await tx.nudges.reclaim(
            gone_workers=[], claimed_before=now, after_id=0, limit=10, token="r4", now=now,
            worker="me", platform=None,
        )
        assert sorted(n.kind for n in old) == ["gone-discord", "live", "live"]
        assert [n.id for n in old] == sorted(n.id for n in old)


async def test_outcomes_change_only_rows_still_claimed_under_the_same_token(
    db: SqlStore,
) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        club = await seed.community()
        await tx.nudges.add([nudge(club, f"n{i}") for i in range(6)], START)
        n = await tx.nudges.claim_due(START, 6, "tok", worker="w1", platform=None)
    sent_at = START + timedelta(minutes=1)
    async with db.transaction() as tx:
        with pytest.raises(ValueError, match="sent_at"):
            await tx.nudges.finish([NudgeOutcome(n[0].id, "tok", "sent")])
        await tx.nudges.finish([
            NudgeOutcome(n[0].id, "tok", "pending", due_at=START + HOUR, attempts=1,
                         outcome="quiet hours"),
            NudgeOutcome(n[1].id, "tok", "sent", sent_at=sent_at, delivery_ref="m1",
                         delivered_via="channel"),
            NudgeOutcome(n[2].id, "tok", "stale", outcome="request withdrawn"),
            NudgeOutcome(n[3].id, "tok", "failed", outcome="gave up", attempts=6),
            NudgeOutcome(n[4].id, "other-token", "failed", outcome="too late"),
        ])
        await tx.nudges.mark_sent([
            SentNudge(n[5].id, "tok", "m5", "sent as a channel mention", "dm"),
            SentNudge(n[4].id, "other-token", "m4", None, "dm"),
        ], sent_at)
    async with db.transaction() as tx:
        rows = {
            r.id: r for r in await tx.conn.execute(select(t.nudges).order_by(t.nudges.c.id))
        }
    retry, sent, stale, failed, untouched, marked = (rows[x.id] for x in n)
    assert (retry.state, retry.due_at, retry.attempts, retry.outcome) == (
        "pending", START + HOUR, 1, "quiet hours"
    )
    assert (retry.claim_token, retry.claimed_at, retry.claimed_by) == (None, None, None)
    assert (sent.state, sent.sent_at, sent.delivery_ref, sent.delivered_via) == (
        "sent", sent_at, "m1", "channel"
    )
    assert (stale.state, stale.outcome) == ("stale", "request withdrawn")
    assert (failed.state, failed.outcome, failed.attempts) == ("failed", "gave up", 6)
    assert (untouched.state, untouched.claim_token, untouched.outcome) == (
        "sending", "tok", None
    )
    assert (marked.state, marked.sent_at, marked.delivery_ref, marked.outcome,
            marked.delivered_via) == ("sent", sent_at, "m5", "sent as a channel mention", "dm")


async def test_nudges_are_listed_a_page_at_a_time_and_counted(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        club, other = await seed.community("club"), await seed.community("other")
        ada, bob = await seed.member(club, "Ada"), await seed.member(club, "Bob")
        intro = await seed.intro(club, bob, ada)
        await tx.nudges.add(
            [nudge(club, f"k{i}", i * HOUR, intro_id=intro if i % 2 else None,
                   session_id=7 if i == 4 else None) for i in range(5)]
            + [nudge(other, "elsewhere")],
            START,
        )
        skipped = await tx.nudges.skip_pending("request withdrawn", intro_id=intro)
        assert skipped == 2
        assert await tx.nudges.skip_pending("cancelled", session_id=7, kinds=["other"]) == 0
        assert await tx.nudges.skip_pending("cancelled", session_id=7, kinds=["k4"]) == 1
        with pytest.raises(ValueError, match="intro or the session"):
            await tx.nudges.skip_pending("why")
    async with db.reading() as tx:
        assert [n.kind for n in await tx.nudges.list(club, limit=2)] == ["k0", "k1"]
        assert [n.kind for n in await tx.nudges.list(club, limit=2, offset=2)] == ["k2", "k3"]
        assert [n.kind for n in await tx.nudges.list(club, limit=2, offset=4)] == ["k4"]
        assert [n.kind for n in await tx.nudges.list(club, newest_first=True, limit=2)] == [
            "k4", "k3"
        ]
        assert [(n.kind, n.outcome) for n in await tx.nudges.list(club, states=["stale"])] == [
            ("k1", "request withdrawn"), ("k3", "request withdrawn"), ("k4", "cancelled")
        ]
        assert [n.kind for n in await tx.nudges.list(club, intro_id=intro)] == ["k1", "k3"]
        assert [n.kind for n in await tx.nudges.list(club, session_id=7)] == ["k4"]
        assert await tx.nudges.count(club) == 5
        assert await tx.nudges.count(club, states=["pending", "sent"]) == 2
        assert await tx.nudges.state_counts(club) == {"pending": 2, "stale": 3}


async def test_dms_sent_counts_direct_messages_in_the_window(db: SqlStore) -> None:
    async with db.transaction() as tx:
        seed = Seed(tx)
        club, other = await seed.community("club"), await seed.community("other")
        ada, bob = await seed.member(club, "Ada"), await seed.member(club, "Bob")
        eve = await seed.member(other, "Eve")
        await tx.nudges.add(
            [nudge(club, recipient_id=ada)] * 3 + [nudge(club, recipient_id=bob)] * 2
            + [nudge(other, recipient_id=eve)],
            START,
        )
        n = await tx.nudges.claim_due(START, 10, "tok", worker="w", platform=None)
        ids = [x.id for x in n]
        await tx.nudges.mark_sent([SentNudge(ids[0], "tok", "r", None, "dm")], START - 2 * HOUR)
        await tx.nudges.mark_sent([
            SentNudge(ids[1], "tok", "r", None, "dm"),
            SentNudge(ids[2], "tok", "r", None, "channel"),
            SentNudge(ids[3], "tok", "r", None, "dm"),
            SentNudge(ids[5], "tok", "r", None, "dm"),
        ], START)
        # Not sent (yet): does not count even with a route recorded.
        await tx.nudges.finish([NudgeOutcome(ids[4], "tok", "pending", due_at=START,
                                             delivered_via="dm")])
    async with db.reading() as tx:
        assert await tx.nudges.dms_sent(club, START - HOUR) == 2
        assert await tx.nudges.dms_sent(club, START - 3 * HOUR) == 3
        assert await tx.nudges.dms_sent(club, START - 3 * HOUR, recipient_id=ada) == 2
        assert await tx.nudges.dms_sent(club, START - HOUR, recipient_id=bob) == 1
        assert await tx.nudges.dms_sent(other, START - HOUR) == 1


# -- workers ----------------------------------------------------------------------------------


async def test_workers_register_beat_and_go(db: SqlStore) -> None:
    me = Worker("host:1:abc", "slack", "host", 1, START, START)
    peer = Worker("host:2:def", None, "host", 2, START + HOUR, START + HOUR)
    async with db.transaction() as tx:
        await tx.workers.register(me)
        await tx.workers.register(peer)
        assert await tx.workers.beat(me.id, START + 2 * HOUR)
        # Registering again (taken for gone, then back) refreshes the row.
        await tx.workers.register(Worker(peer.id, "discord", "host", 2, START, START))
    async with db.transaction() as tx:
        assert await tx.workers.all() == [
            Worker(me.id, "slack", "host", 1, START, START + 2 * HOUR),
            Worker(peer.id, "discord", "host", 2, START, START),
        ]
        await tx.workers.remove(me.id)
        assert not await tx.workers.beat(me.id, START + 3 * HOUR)
        assert [w.id for w in await tx.workers.all()] == [peer.id]


# -- transactions and errors ------------------------------------------------------------------


async def test_a_duplicate_unique_row_is_a_storage_conflict(db: SqlStore) -> None:
    async with db.transaction() as tx:
        await tx.communities.create("slack", "T1", "One", START)
    with pytest.raises(StorageConflict):
        async with db.transaction() as tx:
            await tx.communities.create("slack", "T1", "One again", START)


async def test_reading_on_postgresql_refuses_writes(postgres_url: str) -> None:
    store = await open_store(postgres_url)
    try:
        with pytest.raises(Exception, match="read-only transaction"):
            async with store.reading() as tx:
                await tx.communities.create("slack", "T1", "One", START)
        async with store.transaction() as tx:  # the connection went back read-write
            await tx.communities.create("slack", "T1", "One", START)
        async with store.reading() as tx:
            assert await tx.communities.get("slack", "T1") is not None
    finally:
        await store.close()


async def test_reading_on_sqlite_does_not_wait_for_a_writer(sqlite_url: str) -> None:
    store = await open_store(sqlite_url, busy_timeout_seconds=0.3)
    try:
        async with store.transaction() as tx:
            await tx.communities.create("slack", "T1", "Before", START)
        async with store.transaction() as writer:
            await writer.communities.create("slack", "T2", "Uncommitted", START)
            async with store.reading() as reader:
                seen = await reader.communities.get("slack", "T1")
                unseen = await reader.communities.get("slack", "T2")
            with pytest.raises(StorageBusy):  # while another writer has to wait
                async with store.transaction() as tx:
                    await tx.communities.get("slack", "T1")
        assert seen is not None and seen.name == "Before" and unseen is None
    finally:
        await store.close()


async def test_a_locked_sqlite_database_answers_busy_after_the_configured_timeout(
    sqlite_url: str,
) -> None:
    holder = await open_store(sqlite_url)
    waiter = await open_store(sqlite_url, busy_timeout_seconds=0.4)
    try:
        async with holder.transaction() as tx:
            await tx.communities.create("slack", "T1", "Held", START)
            started = time.monotonic()
            with pytest.raises(StorageBusy):
                async with waiter.transaction() as other:
                    await other.communities.create("slack", "T2", "Waits", START)
            waited = time.monotonic() - started
        assert 0.35 <= waited < 2.0
        async with waiter.transaction() as tx:  # once the lock is gone, it works again
            await tx.communities.create("slack", "T2", "Waits", START)
    finally:
        await holder.close()
        await waiter.close()


async def test_a_statement_over_the_postgresql_timeout_answers_busy(postgres_url: str) -> None:
    store = await open_store(postgres_url, statement_timeout_seconds=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(StorageBusy):
            async with store.reading() as tx:
                await tx.conn.execute(text("SELECT pg_sleep(5)"))
        assert time.monotonic() - started < 2.0
    finally:
        await store.close()


async def test_a_database_that_cannot_be_reached_is_unavailable(tmp_path: Path) -> None:
    missing_dir = tmp_path / "no" / "such" / "dir" / "bot.db"
    for url in (f"sqlite+aiosqlite:///{missing_dir}",
                "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"):
        store = SqlStore(create_engine(StorageSettings(url=url)))
        try:
            with pytest.raises(StorageUnavailable):
                async with store.reading() as tx:
                    await tx.communities.get("slack", "T1")
        finally:
            await store.close()
    await aiosqlite_threads_finished()


async def aiosqlite_threads_finished() -> None:
    """After a failed connect aiosqlite stops its worker thread without waiting for it; wait
    here, while this test's event loop still runs, so the thread does not finish on a closed
    loop (an "unhandled thread exception" warning in whatever test runs next)."""
    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name:
            await asyncio.to_thread(thread.join, 5)


# -- migration 0005 ---------------------------------------------------------------------------


async def test_migration_0005_backfills_timezone_source_and_nudge_platforms(
    any_db_url: str,
) -> None:
    """A database of the previous version, with data, is upgraded in place."""
    engine = create_engine(StorageSettings(url=any_db_url))

    def upgrade_to(revision: str) -> Any:
        def run(connection: Connection) -> None:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

        return run

    async with engine.begin() as conn:
        await conn.run_sync(upgrade_to("0004"))
        console = (await conn.execute(insert(t.communities).values(
            platform="console", external_id="local", name="Local", settings_json="{}",
            created_at=START).returning(t.communities.c.id))).scalar_one()
        slack = (await conn.execute(insert(t.communities).values(
            platform="slack", external_id="T1", name="Team", settings_json="{}",
            created_at=START).returning(t.communities.c.id))).scalar_one()
        for community, user, tz in ((console, "U1", "Europe/Berlin"), (console, "U2", None)):
            await conn.execute(insert(t.members).values(
                community_id=community, platform_user_id=user, display_name=user, timezone=tz,
                followups_off=False, created_at=START))
        for community, state in ((console, "pending"), (slack, "sent"), (slack, "pending")):
            await conn.execute(insert(t.nudges).values(
                community_id=community, kind="ping", payload="{}", due_at=START, state=state,
                attempts=0, created_at=START))
    await migrate(engine)
    store = SqlStore(engine)
    try:
        async with store.transaction() as tx:
            typed = await tx.members.by_platform_id(console, "U1")
            never_set = await tx.members.by_platform_id(console, "U2")
            assert typed is not None and typed.timezone_source == "manual"
            assert never_set is not None and never_set.timezone_source is None
            assert [p for _, p in await platforms_of(tx)] == ["console", "slack", "slack"]
            claimed = await tx.nudges.claim_due(START, 10, "tok", worker="w", platform="slack")
            assert [n.state for n in claimed] == ["sending"]
    finally:
        await store.close()
