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
