"""What Slack and Discord rely on from the core: typed refusals, ids that carry the community,
read-only views, autocomplete, a platform timezone that stays current, "busy" instead of a hang.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.bootstrap import build_core, open_store
from bot.caller import Caller
from bot.clock import ManualClock
from bot.config import CommunityDefaults, StorageSettings
from bot.core import BUSY, Mentorbot
from bot.repositories import Store
from tests.conftest import START

GRACE = Caller("slack", "T0TEAM0001", "Team", "U0GRACE001", "Grace", timezone="Europe/Berlin")
ADA = Caller("slack", "T0TEAM0001", "Team", "U0ADA00001", "Ada", timezone="America/New_York")
PROFILE = ("mentor set topics: python, public speaking bio: Backend engineer "
           "availability: Tue 18:00-20:00")
CONTEXT = "I want to learn asyncio properly and I tried the docs"


async def say(core: Mentorbot, who: Caller, line: str) -> str:
    return (await core.handle_text(who, line)).plain_text()


async def test_a_refused_form_names_the_field_that_was_wrong(core: Mentorbot) -> None:
    await say(core, GRACE, PROFILE)
    reply = await core.handle_text(ADA, "request Grace")
    form = reply.form
    assert form is not None and form.id.startswith("mb:")
    refused = await core.handle_form(ADA, form.id, {"topic": "python", "context": "too short"})
    assert refused.refused and refused.refusal is not None
    assert refused.refusal.param == "context"
    assert "too short" in refused.refusal.message
    ok = await core.handle_form(ADA, form.id, {"topic": "python", "context": CONTEXT})
    assert not ok.refused and "Request #1 sent" in ok.plain_text()


async def test_a_click_in_a_dm_carries_its_community(core: Mentorbot) -> None:
    await say(core, GRACE, PROFILE)
    sent = await core.handle_text(ADA, f"request Grace topic: python context: {CONTEXT}")
    withdraw = next(c for m in sent.messages for c in m.choices if c.command == "withdraw 1")
    in_dm = Caller("slack", None, "", "U0ADA00001", "Ada")
    reply = await core.handle_click(in_dm, withdraw.id)
    assert "Request #1 is withdrawn" in reply.plain_text()
    stranger = Caller("slack", None, "", "U0NOBODY01", "Nobody")
    refused = await core.handle_click(stranger, withdraw.id)
    assert refused.refused and "not part of" in refused.plain_text()
    elsewhere = Caller("slack", "T0OTHER001", "Other", "U0ADA00001", "Ada")
    assert "another community" in (await core.handle_click(elsewhere, withdraw.id)).plain_text()
    assert "isn't one of mine" in (await core.handle_click(ADA, "mb:zz")).plain_text()


async def test_home_is_read_only_and_lists_what_is_going_on(core: Mentorbot, store: Store) -> None:
    await say(core, GRACE, PROFILE)
    await say(core, ADA, f"request Grace topic: python context: {CONTEXT}")
    newcomer = Caller("slack", "T0TEAM0001", "Team", "U0NEW00001", "Neo")
    home = await core.home(newcomer)
    assert "Requests you sent" in home.plain_text()
    async with store.reading() as tx:
        community = await tx.communities.get("slack", "T0TEAM0001")
        assert community is not None
        neo = await tx.members.by_platform_id(community.id, "U0NEW00001")
    assert neo is not None and neo.timezone_asked_at is None  # the one question is not used up
    grace_home = (await core.home(GRACE)).plain_text()
    assert "#1 from @Ada" in grace_home


async def test_autocomplete_suggests_from_the_community(core: Mentorbot) -> None:
    await say(core, GRACE, PROFILE)
    topics = await core.suggest(ADA, "find", "topic", "pub")
    assert [s.value for s in topics] == ["public speaking"]
    mentors = await core.suggest(ADA, "request", "mentor", "gr")
    assert [(s.label, s.value) for s in mentors] == [("Grace", "<member:U0GRACE001>")]
    zones = await core.suggest(ADA, "tz", "zone", "berl")
    assert "Europe/Berlin" in [s.value for s in zones]
    await say(core, ADA, f"request Grace topic: python context: {CONTEXT}")
    mine = await core.suggest(ADA, "withdraw", "intro_id", "")
    assert [s.value for s in mine] == ["1"]
    theirs = await core.suggest(GRACE, "accept", "intro_id", "")
    assert [s.value for s in theirs] == ["1"]
    assert await core.suggest(ADA, "nope", "topic", "x") == []


async def test_the_platform_timezone_is_followed_unless_set_by_hand(core: Mentorbot) -> None:
    assert "timezone Europe/Berlin" in await say(core, GRACE, "profile")
    moved = Caller("slack", "T0TEAM0001", "Team", "U0GRACE001", "Grace", timezone="Asia/Tokyo")
    assert "timezone Asia/Tokyo" in await say(core, moved, "profile")
    await say(core, moved, "tz Europe/Lisbon")
    back = Caller("slack", "T0TEAM0001", "Team", "U0GRACE001", "Grace", timezone="Asia/Seoul")
    assert "timezone Europe/Lisbon" in await say(core, back, "profile")
    legacy = Caller("slack", "T0TEAM0001", "Team", "U0LEG00001", "Leg",
                    timezone="America/Indianapolis")
    assert "timezone America/Indiana/Indianapolis" in await say(core, legacy, "profile")


async def test_a_locked_database_answers_busy_instead_of_hanging(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}"
    store = await open_store(StorageSettings(url=url, busy_timeout_seconds=0.2))
    clock = ManualClock(START)
    core = build_core(store, clock, CommunityDefaults())
    try:
        await say(core, GRACE, PROFILE)
        held = asyncio.Event()
        release = asyncio.Event()

        async def writer() -> None:
            async with store.transaction():
                held.set()
                await release.wait()

        task = asyncio.create_task(writer())
        await held.wait()
        reply = await core.handle_text(ADA, "notify rust")
        release.set()
        await task
        assert reply.refused and reply.plain_text() == BUSY
        assert "Got it" in await say(core, ADA, "notify rust")  # nothing was half-done
    finally:
        await store.close()


async def test_no_free_connection_answers_busy_within_the_busy_timeout(tmp_path: Path) -> None:
    """Every pooled connection in use (a crowd of people at once on a slow machine): the next
    command waits for one only as long as for the lock, then answers busy, well inside a
    platform's 3 s deadline (SQLAlchemy's own pool wait is 30 s)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'crowd.db'}"
    store = await open_store(StorageSettings(url=url, busy_timeout_seconds=0.2))
    core = build_core(store, ManualClock(START), CommunityDefaults())
    try:
        await say(core, GRACE, PROFILE)
        opened = 0
        all_held = asyncio.Event()
        release = asyncio.Event()

        async def reader() -> None:
            nonlocal opened
            async with store.reading():
                opened += 1
                if opened == POOL_CONNECTIONS:
                    all_held.set()
                await release.wait()

        readers = [asyncio.create_task(reader()) for _ in range(POOL_CONNECTIONS)]
        await all_held.wait()
        loop = asyncio.get_running_loop()
        began = loop.time()
        reply = await core.handle_text(ADA, "profile")
        waited = loop.time() - began
        release.set()
        await asyncio.gather(*readers)
        assert reply.refused and reply.plain_text() == BUSY
        assert waited < 2.0
        assert "Grace" in await say(core, ADA, "find python")  # the crowd gone, it answers
    finally:
        await store.close()


#: SQLAlchemy's pool for aiosqlite: 5 connections and 10 more on demand.
POOL_CONNECTIONS = 15


async def test_a_command_carried_by_an_event_runs_once_whichever_instance_gets_it(
    store: Store, clock: ManualClock,
) -> None:
    """Slack retries an event it got no answer for: the id is recorded with the command's own
    changes, so two instances sharing the database agree, and a delivery that died before its
    command committed is run by the retry."""
    first, second = (build_core(store, clock, CommunityDefaults()) for _ in range(2))
    done = await first.handle_text(ADA, "notify rust", event_id="Ev0NOTIFY01")
    assert "Got it" in done.plain_text() and not done.duplicate
    again = await second.handle_text(ADA, "notify rust", event_id="Ev0NOTIFY01")
    assert again.duplicate and again.messages == () and again.refusal is None
    # A refusal and a view are recorded right after them: their retries show nothing either.
    for event_id, line in (("Ev0REFUSE01", "withdraw 99"), ("Ev0VIEW0001", "my")):
        shown = await first.handle_text(ADA, line, event_id=event_id)
        assert shown.messages and not shown.duplicate, line
        assert (await second.handle_text(ADA, line, event_id=event_id)).duplicate, line
    # The same event delivered to both instances at once: exactly one runs it.
    both = await asyncio.gather(
        first.handle_text(ADA, "notify go", event_id="Ev0RACE0001"),
        second.handle_text(ADA, "notify go", event_id="Ev0RACE0001"),
    )
    assert sorted(r.duplicate for r in both) == [False, True]
    # Without an event id nothing is recorded: every call runs.
    assert not (await first.handle_text(ADA, "my")).duplicate
    assert not (await first.handle_text(ADA, "my")).duplicate


async def test_an_event_whose_command_could_not_commit_is_run_by_the_retry(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'retry.db'}"
    store = await open_store(StorageSettings(url=url, busy_timeout_seconds=0.2))
    core = build_core(store, ManualClock(START), CommunityDefaults())
    try:
        await say(core, ADA, "help")
        held, release = asyncio.Event(), asyncio.Event()

        async def writer() -> None:
            async with store.transaction():
                held.set()
                await release.wait()

        task = asyncio.create_task(writer())
        await held.wait()
        busy = await core.handle_text(ADA, "notify rust", event_id="Ev0BUSY0001")
        release.set()
        await task
        assert busy.plain_text() == BUSY and busy.refusal is not None and busy.refusal.transient
        retried = await core.handle_text(ADA, "notify rust", event_id="Ev0BUSY0001")
        assert "Got it" in retried.plain_text()
        assert (await core.handle_text(ADA, "notify rust", event_id="Ev0BUSY0001")).duplicate
    finally:
        await store.close()


async def test_community_settings_are_read_through_the_core(core: Mentorbot) -> None:
    assert await core.community_settings("slack", "T0NEVERSEEN") == CommunityDefaults()
    admin = Caller("slack", "T0TEAM0001", "Team", "U0ADMIN001", "Root", is_platform_admin=True)
    await say(core, admin, "settings set organizer_group S0ORGS0001")
    await say(core, admin, "settings set intros_channel #intros")
    settings = await core.community_settings("slack", "T0TEAM0001")
    assert (settings.organizer_group, settings.intros_channel) == ("S0ORGS0001", "intros")
    assert (await core.community_settings("slack", "T0OTHER001")).organizer_group == ""


async def test_the_organizer_group_is_matched_whatever_its_case(core: Mentorbot) -> None:
    admin = Caller("discord", "G1", "Guild", "1001", "Root", is_platform_admin=True)
    await say(core, admin, "settings set organizer_group organizers")
    ada = Caller("discord", "G1", "Guild", "1002", "Ada", groups=frozenset({"Organizers"}))
    assert not (await core.handle_text(ada, "settings")).refused
    bob = Caller("discord", "G1", "Guild", "1003", "Bob", groups=frozenset({"Organizing"}))
    assert "Only organizers" in await say(core, bob, "settings")


async def test_a_form_is_rebuilt_from_its_id_after_a_restart(core: Mentorbot) -> None:
    await say(core, GRACE, PROFILE)
    opened = (await core.handle_text(ADA, "request Grace")).form
    assert opened is not None
    rebuilt = await core.form(ADA, opened.id)
    assert rebuilt is not None and rebuilt.id == opened.id and rebuilt.command == opened.command
    assert [(f.name, f.label, f.kind, f.required, f.max_length) for f in rebuilt.fields] == [
        (f.name, f.label, f.kind, f.required, f.max_length) for f in opened.fields]
    values = {"topic": "python", "context": CONTEXT}
    assert "Request #1 sent" in (await core.handle_form(ADA, rebuilt.id, values)).plain_text()
    elsewhere = Caller("slack", "T0OTHER001", "Other", "U0ADA00001", "Ada")
    assert await core.form(elsewhere, opened.id) is None  # another community's form
    assert await core.form(ADA, "mb:zz") is None
    assert await core.form(ADA, "not ours") is None


async def test_the_only_community_of_a_person_among_candidates(core: Mentorbot) -> None:
    in_first = Caller("discord", "G1", "One", "1002", "Ada")
    await say(core, in_first, "help")
    await say(core, Caller("discord", "G2", "Two", "1003", "Bob"), "help")
    assert await core.only_community("discord", "1002", ["G1", "G2", "G9"]) == "G1"
    assert await core.only_community("discord", "1002", ["G2", "G9"]) is None
    assert await core.only_community("discord", "1004", ["G1", "G2"]) is None
    await say(core, Caller("discord", "G2", "Two", "1002", "Ada"), "help")
    assert await core.only_community("discord", "1002", ["G1", "G2"]) is None  # two: ask
    assert await core.only_community("slack", "1002", ["G1"]) is None  # another platform
