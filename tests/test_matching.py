"""Topic matching, ranking and availability overlap, as pure functions.

The scenario tests show the same behaviour through the console; these pin the rules down one at
a time (each factor of the ranking alone, time zones with half-hour offsets, daylight saving).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from bot.config import CommunityDefaults
from bot.domain import Member, MentorProfile, Window
from bot.errors import UserError
from bot.matching import Load, is_full, normalize_topic, rank_mentors, topic_fit
from bot.timezones import (
    overlap_with_waking_hours,
    parse_timezone,
    parse_windows,
    part_of_day,
    waking_hours,
)
from bot.when import parse_date_until

SYNONYMS = CommunityDefaults().synonyms
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday
ADA = Member(1, 1, "U1", "Ada", "Europe/Berlin")


def mentor(
    member_id: int,
    name: str,
    topics: tuple[str, ...] = ("python",),
    *,
    windows: str = "Tue 18:00-20:00",
    zone: str = "Europe/Berlin",
    mentees: int = 3,
    sessions: int = 4,
    paused_until: datetime | None = None,
) -> tuple[Member, MentorProfile]:
    member = Member(member_id, 1, f"U{member_id}", name, zone)
    profile = MentorProfile(
        member_id=member_id, community_id=1, bio="bio", topics=topics, session_lengths=(30,),
        windows=parse_windows(windows), availability_timezone=zone, max_mentees=mentees,
        max_sessions_per_month=sessions, paused_until=paused_until, created_at=NOW,
        updated_at=NOW,
    )
    return member, profile


def rank(
    query: str,
    mentors: list[tuple[Member, MentorProfile]],
    loads: dict[int, Load] | None = None,
    *,
    seeker_zone: str = "Europe/Berlin",
    synonyms: dict[str, str] | None = None,
) -> tuple[list[str], list[str]]:
    found, unavailable = rank_mentors(
        query, seeker=ADA, seeker_zone=seeker_zone, quiet_hours="22:00-08:00", mentors=mentors,
        loads=loads or {}, synonyms=SYNONYMS if synonyms is None else synonyms, now=NOW,
    )
    return [c.mentor.display_name for c in found], [f"{u.mentor.display_name}:{u.why}"
                                                    for u in unavailable]


# -- topic fit -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "topic"),
    [("python", "python"), ("Python", "python"), ("PYTHON", "Python"), ("APIs", "api"),
     ("libraries", "library"), ("js", "javascript"), ("k8s", "Kubernetes"),
     ("ML", "machine learning"), ("Machine-Learning", "machine learning"),
     ("🐍 python", "python")],
)
def test_same_topic_regardless_of_case_plurals_and_synonyms(query: str, topic: str) -> None:
    assert topic_fit(query, topic, SYNONYMS) == 1.0


@pytest.mark.parametrize(("query", "topic"), [("pyhton", "python"), ("pythno", "python"),
                                                ("kubernetse", "kubernetes"),
                                                ("javascirpt", "javascript")])
def test_small_typos_still_match_but_below_an_exact_match(query: str, topic: str) -> None:
    assert 0.45 <= topic_fit(query, topic, SYNONYMS) < 0.8


def test_a_word_of_a_longer_topic_is_a_partial_match() -> None:
    assert topic_fit("speaking", "public speaking", SYNONYMS) == 0.8
    assert topic_fit("python", "python packaging", SYNONYMS) == 0.8


@pytest.mark.parametrize(("query", "topic"), [("java", "javascript"), ("go", "golang"),
                                                ("cooking", "python"), ("c", "c++"),
                                                ("data", "databases"), ("", "python"),
                                                ("rust", "trust"), ("java", "lava"),
                                                ("rust", "trust and safety")])
def test_unrelated_topics_do_not_match(query: str, topic: str) -> None:
    assert topic_fit(query, topic, SYNONYMS) == 0.0


def test_a_community_synonym_joins_two_topics() -> None:
    assert topic_fit("golang", "go", SYNONYMS) == 0.0
    assert topic_fit("golang", "go", {**SYNONYMS, "golang": "go"}) == 1.0


def test_normalizing_applies_phrase_synonyms_then_singulars() -> None:
    assert normalize_topic("JS frameworks", SYNONYMS) == "javascript framework"
    assert normalize_topic("career", SYNONYMS) == "career growth"
    assert normalize_topic("Status", SYNONYMS) == "status"
    assert normalize_topic("career advice", SYNONYMS) == "career growth advice"


# -- ranking, one factor at a time -----------------------------------------------------------


def test_exact_topics_rank_above_partial_and_fuzzy_ones() -> None:
    names, _ = rank("python", [
        mentor(2, "Fuzzy", ("pyton",)), mentor(3, "Partial", ("python packaging",)),
        mentor(4, "Exact", ("python",)),
    ])
    assert names == ["Exact", "Partial", "Fuzzy"]


def test_more_room_left_ranks_higher() -> None:
    names, _ = rank("python", [mentor(2, "Busy"), mentor(3, "Free")],
                    {2: Load(active_mentees=2, recent_intros=1),
                     3: Load(active_mentees=0, recent_intros=1)})
    assert names == ["Free", "Busy"]


def test_fewer_sessions_left_this_month_ranks_lower_and_is_said() -> None:
    found, _ = rank_mentors(
        "python", seeker=ADA, seeker_zone="Europe/Berlin", quiet_hours="22:00-08:00",
        mentors=[mentor(2, "Anna"), mentor(3, "Bert")], loads={2: Load(sessions_this_month=3)},
        synonyms=SYNONYMS, now=NOW,
    )
    assert [c.mentor.display_name for c in found] == ["Bert", "Anna"]
    assert "1 session free this month" in found[1].reasons
    assert "4 sessions free this month" in found[0].reasons


def test_more_overlap_with_waking_hours_ranks_higher() -> None:
    names, _ = rank("python", [
        mentor(2, "Night", windows="Tue 02:00-04:00"),
        mentor(3, "Evening", windows="Tue 18:00-22:00"),
        mentor(4, "Short", windows="Tue 18:00-19:00"),
    ])
    assert names == ["Evening", "Short", "Night"]


def test_fewer_recent_intros_rank_higher() -> None:
    found, _ = rank_mentors(
        "python", seeker=ADA, seeker_zone="Europe/Berlin", quiet_hours="22:00-08:00",
        mentors=[mentor(2, "Anna"), mentor(3, "Bert")], loads={2: Load(recent_intros=2)},
        synonyms=SYNONYMS, now=NOW,
    )
    assert [c.mentor.display_name for c in found] == ["Bert", "Anna"]
    assert "no recent intros" in found[0].reasons
    assert "no recent intros" not in found[1].reasons


def test_equal_mentors_come_in_a_stable_order_by_name() -> None:
    names, _ = rank("python", [mentor(3, "bert"), mentor(2, "Anna")])
    assert names == ["Anna", "bert"]


def test_full_and_paused_mentors_are_not_suggested_but_counted() -> None:
    names, unavailable = rank("python", [
        mentor(2, "Full", mentees=1), mentor(3, "Paused", paused_until=NOW + timedelta(days=3)),
        mentor(4, "Booked", sessions=2), mentor(5, "Open"),
        mentor(6, "WasPaused", paused_until=NOW - timedelta(days=1)),
    ], {2: Load(active_mentees=1), 4: Load(sessions_this_month=2)})
    assert names == ["Open", "WasPaused"]
    assert sorted(unavailable) == ["Booked:full", "Full:full", "Paused:paused"]


def test_mentors_of_other_topics_are_neither_suggested_nor_counted() -> None:
    names, unavailable = rank("python", [mentor(2, "Rusty", ("rust",), mentees=1)],
                              {2: Load(active_mentees=1)})
    assert names == [] and unavailable == []


def test_the_seeker_is_never_suggested_to_themselves() -> None:
    me = mentor(1, "Ada")
    assert rank("python", [me, mentor(2, "Bert")])[0] == ["Bert"]


def test_is_full_means_no_mentee_slot_or_no_session_left() -> None:
    _, profile = mentor(2, "X", mentees=2, sessions=4)
    assert not is_full(profile, Load(active_mentees=1, sessions_this_month=3))
    assert is_full(profile, Load(active_mentees=2))
    assert is_full(profile, Load(sessions_this_month=4))


def test_reasons_name_the_matched_topics_first() -> None:
    found, _ = rank_mentors(
        "python", seeker=ADA, seeker_zone="Europe/Berlin", quiet_hours="22:00-08:00",
        mentors=[mentor(2, "Anna", ("career", "python", "python testing"))], loads={},
        synonyms=SYNONYMS, now=NOW,
    )
    assert found[0].reasons[0] == "python, python testing"


# -- availability and waking hours -----------------------------------------------------------


def test_overlap_is_computed_in_each_persons_own_zone() -> None:
    # Tue 18:00-20:00 in Kolkata (UTC+5:30) is 13:30-15:30 in Berlin: all of it overlaps.
    total, starts = overlap_with_waking_hours(
        parse_windows("Tue 18:00-20:00"), "Asia/Kolkata", "Europe/Berlin", "22:00-08:00", NOW
    )
    assert total == timedelta(hours=2)
    assert [part_of_day(s, "Europe/Berlin") for s in starts] == ["afternoons"]


def test_a_window_half_in_the_members_night_counts_half() -> None:
    # 21:00-23:00 in Berlin, the member sleeps from 22:00.
    total, _ = overlap_with_waking_hours(
        parse_windows("Wed 21:00-23:00"), "Europe/Berlin", "Europe/Berlin", "22:00-08:00", NOW
    )
    assert total == timedelta(hours=1)


def test_overlap_follows_daylight_saving_of_the_coming_week() -> None:
    # The week of 23 March 2026: New York is on summer time (UTC-4), Berlin not yet (UTC+1).
    spring = datetime(2026, 3, 23, 12, 0, tzinfo=UTC)
    _, starts = overlap_with_waking_hours(
        parse_windows("Tue 17:00-18:00"), "America/New_York", "Europe/Berlin", "", spring
    )
    assert [s.astimezone(UTC).hour for s in starts] == [21]  # 22:00 in Berlin
    winter_total, winter_starts = overlap_with_waking_hours(
        parse_windows("Tue 17:00-18:00"), "America/New_York", "Europe/Berlin", "", NOW
    )
    assert [s.hour for s in winter_starts] == [22]  # 23:00 in Berlin
    assert winter_total == timedelta(hours=1)


def test_no_quiet_hours_means_awake_all_day() -> None:
    assert waking_hours("") == (time(0, 0), time(0, 0))
    total, _ = overlap_with_waking_hours(
        parse_windows("Fri 00:00-24:00"), "UTC", "UTC", "", NOW
    )
    assert total == timedelta(hours=23, minutes=59)  # the window itself ends at 23:59
    assert waking_hours("23:00-07:00") == (time(7, 0), time(23, 0))


@pytest.mark.parametrize(("hour", "part"), [(7, "mornings"), (12, "afternoons"),
                                            (16, "afternoons"), (17, "evenings")])
def test_parts_of_day(hour: int, part: str) -> None:
    assert part_of_day(datetime(2026, 11, 23, hour, tzinfo=UTC), "UTC") == part


# -- reading windows, zones and dates --------------------------------------------------------


def test_windows_are_read_in_several_spellings() -> None:
    assert parse_windows("Tue 18:00-20:00, Sat 10:00-12:00") == (
        Window(1, time(18), time(20)), Window(5, time(10), time(12)))
    assert parse_windows("Mon-Wed 7pm-9pm") == tuple(
        Window(d, time(19), time(21)) for d in (0, 1, 2))
    assert parse_windows("sun-tue 7.30-9") == tuple(
        Window(d, time(7, 30), time(9)) for d in (0, 1, 6))
    assert parse_windows("Friday 22:00 to 24:00") == (Window(4, time(22), time(23, 59)),)
    assert parse_windows("") == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [("Tue 20:00-18:00", "ends before it starts"), ("Tue 18:00-18:00", "ends before it starts"),
     ("Funday 18:00-20:00", "can't read"), ("Tue 25:00-26:00", "can't read"),
     ("Tue 13pm-14pm", "can't read"), ("18:00-20:00", "can't read")],
)
def test_bad_windows_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_windows(text)


def test_timezones_are_checked_against_the_iana_database() -> None:
    assert parse_timezone("Europe/Berlin") == "Europe/Berlin"
    assert parse_timezone("america/new_york") == "America/New_York"
    for bad in ("Mars/Olympus", "../../etc/passwd", "", "Europe/Berlin/Mitte"):
        with pytest.raises(UserError):
            parse_timezone(bad)


def test_pause_dates_are_read_in_the_persons_zone_and_must_be_in_the_future() -> None:
    assert parse_date_until("2026-12-24", "Asia/Tokyo", NOW) == datetime(
        2026, 12, 23, 15, tzinfo=UTC)
    assert parse_date_until("in 2 weeks", "UTC", NOW) == NOW + timedelta(weeks=2)
    with pytest.raises(UserError, match="in the past"):
        parse_date_until("2026-01-01", "UTC", NOW)
    with pytest.raises(UserError, match="can't read"):
        parse_date_until("when the cows come home", "UTC", NOW)
