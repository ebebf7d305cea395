"""Mentor profiles, member timezones and `my`, driven as people type them in the console.

Each test feeds lines to a console session (``/as`` switches the speaker, numbers click a shown
choice, form answers go line by line) and reads what was printed, private messages included.
"""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.console.session import ConsoleSession
from bot.caller import Caller
from bot.core import Mentorbot
from bot.repositories import Store
from tests.console_driver import click, run

GRACE_PROFILE = (
    "mentor set topics: python, career bio: Compiler engineer; happy to review code. "
    "lengths: 30, 45 availability: Tue 18:00-20:00, Sat 10:00-12:00 mentees: 3 sessions: 4"
)
CONTEXT = "I wrote a small CLI and got stuck on packaging it for PyPI."


async def profile_of(console: ConsoleSession, name: str) -> str:
    return await console.feed(f"profile {name}")


# -- becoming a mentor -----------------------------------------------------------------------


async def test_mentor_with_no_fields_offers_the_profile_form(console: ConsoleSession) -> None:
    out = await run(console, "/as Grace", "mentor")
    assert "Thanks for offering to mentor" in out
    assert "Become a mentor" in out
    assert "(1/5) Topics" in out
    assert console.in_form


async def test_filling_the_profile_form_line_by_line_creates_the_profile(
    console: ConsoleSession,
) -> None:
    await run(console, "/as Grace", "tz America/New_York", "mentor")
    out = await run(
        console,
        "python, public speaking",
        "I have given forty conference talks.",
        "Sat 10:00-12:00",
        "",  # keep the offered 30, 60
        "2",
    )
    assert "You're now a mentor" in out
    assert "Topics: python, public speaking" in out
    assert "Sessions: 30 min, 60 min" in out
    assert "Availability: Sat 10:00-12:00 (America/New_York)" in out
    assert "Capacity: 0/2 mentees" in out


async def test_mentor_set_with_every_field_creates_the_profile(console: ConsoleSession) -> None:
    out = await run(console, "/as Grace", "tz America/New_York", GRACE_PROFILE)
    assert "You're now a mentor. Thank you!" in out
    assert "Topics: python, career" in out
    assert "Bio: Compiler engineer; happy to review code." in out
    assert "Sessions: 30 min, 45 min" in out
    assert "Availability: Tue 18:00-20:00, Sat 10:00-12:00 (America/New_York)" in out
    assert "Capacity: 0/3 mentees, up to 4 sessions a month" in out


async def test_a_new_profile_needs_topics_and_a_bio(console: ConsoleSession) -> None:
    out = await run(console, "/as Grace", "mentor set bio: I like helping people.")
    assert "needs topics" in out
    out = await console.feed("mentor set topics: python")
    assert "needs a short bio" in out
    assert "You're not a mentor yet" in await console.feed("my")


async def test_others_see_the_profile_with_an_ask_button(console: ConsoleSession) -> None:
    await run(console, "/as Grace", GRACE_PROFILE)
    out = await run(console, "/as Ada", "profile Grace")
    assert "@Grace" in out and "Topics: python, career" in out
    assert "request Grace" in out
    assert "mentor edit" not in out


async def test_editing_one_field_keeps_all_the_others(console: ConsoleSession) -> None:
    await run(console, "/as Grace", "tz America/New_York", GRACE_PROFILE)
    out = await console.feed("mentor set mentees: 5")
    assert "Your mentor profile is saved." in out
    assert "Capacity: 0/5 mentees, up to 4 sessions a month" in out
    assert "Topics: python, career" in out
    assert "Bio: Compiler engineer; happy to review code." in out
    assert "Sessions: 30 min, 45 min" in out
    assert "Availability: Tue 18:00-20:00, Sat 10:00-12:00 (America/New_York)" in out


async def test_the_edit_form_keeps_what_you_skip(console: ConsoleSession) -> None:
    out = await run(console, "/as Grace", GRACE_PROFILE)
    out = await console.feed(click(out, "mentor edit"))
    assert "Enter keeps “python, career”" in out
    out = await run(console, "", "A shorter bio.", "", "", "")
    assert "Your mentor profile is saved." in out
    assert "Bio: A shorter bio." in out
    assert "Topics: python, career" in out
    assert "Sessions: 30 min, 45 min" in out
    assert "Availability: Tue 18:00-20:00, Sat 10:00-12:00" in out


# -- pause, resume, delete -------------------------------------------------------------------


async def test_pausing_until_a_date_hides_the_mentor_until_they_resume(
    console: ConsoleSession,
) -> None:
    await run(console, "/as Grace", "tz Asia/Tokyo", GRACE_PROFILE)
    out = await console.feed("mentor pause 2026-12-24")
    assert "Paused. You won't get new requests until Thu 24 Dec 2026" in out

    out = await run(console, "/as Ada", "find python")
    assert "No mentor is free for “python”" in out
    assert "full or paused" in out
    out = await console.feed(f"request Grace topic: python context: {CONTEXT}")
    assert "Grace is taking a break right now" in out

    out = await run(console, "/as Grace", "mentor resume")
    assert "Welcome back!" in out
    out = await run(console, "/as Ada", "find python")
    assert "1. @Grace" in out


async def test_a_pause_ends_by_itself_on_its_date(console: ConsoleSession) -> None:
    await run(console, "/as Grace", GRACE_PROFILE, "mentor pause in 2 weeks")
    assert "No mentor is free" in await run(console, "/as Ada", "find python")
    await console.feed("/time +15d")
    assert "1. @Grace" in await console.feed("find python")


async def test_a_pause_date_is_read_and_stored_in_the_mentors_own_timezone(
    console: ConsoleSession,
) -> None:
    await run(console, "/as Grace", "tz Asia/Tokyo", GRACE_PROFILE, "mentor pause 2026-12-24")
    async with console.app.store.transaction() as tx:
        community = await tx.communities.get("console", "demo")
        assert community is not None
        grace = await tx.members.by_platform_id(community.id, "console-grace")
        assert grace is not None
        profile = await tx.profiles.get(community.id, grace.id)
    assert profile is not None and profile.paused_until is not None
    # Midnight on 24 December in Tokyo is 15:00 UTC on the 23rd.
    assert profile.paused_until == datetime(2026, 12, 23, 15, 0, tzinfo=UTC)


async def test_a_pause_in_the_past_or_unreadable_changes_nothing(console: ConsoleSession) -> None:
    await run(console, "/as Grace", GRACE_PROFILE)
    assert "in the past" in await console.feed("mentor pause 2020-01-01")
    assert "can't read the date" in await console.feed("mentor pause whenever-ish soonish")
    assert "Paused until" not in await console.feed("my")


async def test_resuming_when_not_paused_says_so(console: ConsoleSession) -> None:
    await run(console, "/as Grace", GRACE_PROFILE)
    assert "You're not paused" in await console.feed("mentor resume")


async def test_deleting_asks_first_then_declines_open_requests_and_tells_the_members(
    console: ConsoleSession,
) -> None:
    await run(console, "/as Grace", GRACE_PROFILE)
    await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    await run(console, "/as Bob", f"request Grace topic: career context: {CONTEXT}")

    out = await run(console, "/as Grace", "mentor delete")
    assert "Delete your mentor profile? Open requests to you will be declined." in out
    assert "Topics: python" in await profile_of(console, "Grace")  # nothing deleted yet

    out = await console.feed(click(out, "mentor delete confirm"))
    assert "Your mentor profile is deleted. 2 open requests to you were declined" in out
    assert "→ DM to Ada: @Grace can't take request #1" in out
    assert "→ DM to Bob: @Grace can't take request #2" in out
    assert "the mentor stopped mentoring" in out
    assert "You're not a mentor yet." in await profile_of(console, "Grace")

    assert "Not a mentor." in await run(console, "/as Ada", "profile Grace")
    out = await console.feed("my")
    assert "#1 to @Grace about “python”: declined" in out
    assert "No mentor is free" in await console.feed("find python")


async def test_deleting_without_a_profile_is_refused(console: ConsoleSession) -> None:
    assert "You're not a mentor yet" in await run(console, "/as Ada", "mentor delete confirm")


# -- timezones -------------------------------------------------------------------------------


async def test_a_new_member_uses_the_community_default_until_they_set_tz(
    console: ConsoleSession,
) -> None:
    await console.add_person("Olga", organizer=True)
    await run(console, "/as Olga", "settings set default_timezone Asia/Kolkata")
    out = await run(console, "/as Ada", "my")
    assert "timezone Asia/Kolkata (the community default" in out

    out = await console.feed("tz europe/berlin")
    assert "Your timezone is now Europe/Berlin. It's 13:00 CET for you now." in out
    assert "timezone Europe/Berlin (change with" in await console.feed("my")


async def test_times_shown_follow_each_readers_timezone(console: ConsoleSession) -> None:
    await run(console, "/as Grace", "tz America/Los_Angeles", GRACE_PROFILE)
    out = await console.feed("mentor pause 2026-12-24")
    assert "until Thu 24 Dec 2026" in out
    # The pause ends at midnight in Los Angeles (08:00 UTC on the 24th): Ada in Auckland reads
    # that instant as the 24th, Bob in Honolulu as the evening of the 23rd.
    await run(console, "/as Ada", "tz Pacific/Auckland")
    assert "Paused until Thu 24 Dec 2026" in await profile_of(console, "Grace")
    await run(console, "/as Bob", "tz Pacific/Honolulu")
    assert "Paused until Wed 23 Dec 2026" in await profile_of(console, "Grace")


async def test_the_platform_timezone_is_used_when_the_adapter_knows_it(core: Mentorbot) -> None:
    known = Caller("test", "c1", "C", "U1", "Kemi", timezone="Africa/Lagos")
    unknown = Caller("test", "c1", "C", "U2", "Lin")
    bogus = Caller("test", "c1", "C", "U3", "Max", timezone="Not/AZone")
    reply = await core.handle_text(known, "my")
    assert "timezone Africa/Lagos (change with" in reply.plain_text()
    assert "timezone UTC (the community default" in (
        await core.handle_text(unknown, "my")
    ).plain_text()
    assert "timezone UTC (the community default" in (
        await core.handle_text(bogus, "my")
    ).plain_text()


ASKED = "One question, asked only once: what's your timezone?"


async def test_a_member_without_a_zone_is_asked_for_it_once(core: Mentorbot) -> None:
    lin = Caller("test", "c1", "C", "U2", "Lin")
    # Looking around changes nothing, so it doesn't use up the one question.
    assert ASKED not in (await core.handle_text(lin, "my")).plain_text()
    assert ASKED not in (await core.handle_text(lin, "find python")).plain_text()
    first = (await core.handle_text(lin, "notify python")).plain_text()
    assert ASKED in first and "I show times in UTC" in first and "`tz Area/City`" in first
    assert ASKED not in (await core.handle_text(lin, "notify rust")).plain_text()
    # A refused first command asks nothing (nothing at all changes); the next one asks.
    max_ = Caller("test", "c1", "C", "U3", "Max")
    assert ASKED not in (await core.handle_text(max_, "withdraw 99")).plain_text()
    assert ASKED in (await core.handle_text(max_, "notify python")).plain_text()


async def test_nobody_is_asked_whose_zone_is_known_or_who_sets_it_first(core: Mentorbot) -> None:
    kemi = Caller("test", "c1", "C", "U1", "Kemi", timezone="Africa/Lagos")
    assert ASKED not in (await core.handle_text(kemi, "my")).plain_text()
    ola = Caller("test", "c1", "C", "U4", "Ola")
    assert ASKED not in (await core.handle_text(ola, "tz Africa/Lagos")).plain_text()
    assert ASKED not in (await core.handle_text(ola, "my")).plain_text()


async def test_a_zone_set_with_tz_wins_over_the_platform_zone(core: Mentorbot) -> None:
    caller = Caller("test", "c1", "C", "U1", "Kemi", timezone="Africa/Lagos")
    await core.handle_text(caller, "tz Asia/Tokyo")
    assert "timezone Asia/Tokyo" in (await core.handle_text(caller, "my")).plain_text()


async def test_an_unknown_timezone_is_refused(console: ConsoleSession, store: Store) -> None:
    out = await run(console, "/as Ada", "tz Mars/Olympus_Mons")
    assert "I don't know the timezone “Mars/Olympus_Mons”" in out
    assert "Europe/Berlin" in out


# -- my stuff --------------------------------------------------------------------------------


async def test_my_shows_profile_and_requests_sent_and_received_with_their_states(
    console: ConsoleSession,
) -> None:
    await run(console, "/as Grace", GRACE_PROFILE)
    await run(console, "/as Linus", GRACE_PROFILE.replace("python, career", "linux"))
    await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    await run(console, "/as Ada", f"request Linus topic: linux context: {CONTEXT}")
    await run(console, "/as Grace", "ask 1 Which packaging tool did you use?")
    await run(console, "/as Linus", "accept 2")
    await run(console, "/as Linus", f"request Grace topic: career context: {CONTEXT}")

    ada = await run(console, "/as Ada", "my")
    assert "You're not a mentor yet." in ada
    assert "#2 to @Linus about “linux”: accepted" in ada
    assert "#1 to @Grace about “python”: mentor asked for more info" in ada
    assert "(answer 1)" in ada and "(withdraw 1)" in ada

    grace = await run(console, "/as Grace", "my")
    assert "Topics: python, career" in grace
    assert "Requests you received" in grace
    assert "#1 from @Ada about “python”: mentor asked for more info" in grace
    assert "#3 from @Linus about “career”: waiting for the mentor" in grace
    assert "(accept 3)" in grace and "(decline 3)" in grace

    linus = await run(console, "/as Linus", "my")
    assert "#3 to @Grace about “career”: waiting for the mentor" in linus
    assert "#2 from @Ada about “linux”: accepted" in linus
    assert "Capacity: 1/3 mentees" in linus
