"""Organizer settings and the report, driven as people type them in the console.

Organizers are platform admins (Slack admins, Discord Manage Server) or members of the configured
organizer group; everyone else is refused with a clear message, and nothing changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.console.session import ConsoleSession, open_console
from bot.caller import Caller
from bot.clock import ManualClock
from bot.config import CommunityDefaults, Settings
from bot.core import Mentorbot
from bot.messages import Mention, Notice, Plain, Quote, Strong
from tests.console_driver import run

CONTEXT = "My secret project: a CLI for my employer that I can't get packaged."
GRACE = (
    "mentor set topics: python bio: Happy to help people get unstuck. "
    "availability: Tue 18:00-20:00 mentees: 3"
)


@pytest.fixture
async def console(sqlite_url: str, clock: ManualClock) -> AsyncIterator[ConsoleSession]:
    """A console whose first person, Olga, is an organizer."""
    async with open_console(sqlite_url, clock) as session:
        await session.add_person("Olga", organizer=True)
        yield session


async def test_settings_start_from_the_configured_defaults(
    sqlite_url: str, clock: ManualClock
) -> None:
    settings = Settings(
        community=CommunityDefaults(request_limit=2, default_timezone="Europe/Paris",
                                    mentors_channel="mentoring")
    )
    async with open_console(sqlite_url, clock, settings=settings) as console:
        await console.add_person("Olga", organizer=True)
        out = await run(console, "/as Olga", "settings")
        assert "request_limit = 2:" in out
        assert "default_timezone = Europe/Paris:" in out
        assert "mentors_channel = mentoring:" in out
        assert "timezone Europe/Paris (the community default" in await run(
            console, "/as Ada", "my"
        )


async def test_an_organizer_sees_every_setting_with_what_it_means(
    console: ConsoleSession,
) -> None:
    out = await run(console, "/as Olga", "settings")
    assert "Settings for Console Community" in out
    for key in ("intros_channel", "mentors_channel", "organizer_channel", "default_timezone",
                "request_limit", "synonyms"):
        assert f"  {key} = " in out
    assert "request_limit = 3: open intro requests a member may have at once" in out
    assert "js=javascript" in out


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("settings set intros_channel #intros", 'intros_channel is now "intros".'),
        ("settings set mentors_channel mentoring", 'mentors_channel is now "mentoring".'),
        ("settings set organizer_channel #organizers", 'organizer_channel is now "organizers".'),
        ("settings set default_timezone Asia/Kolkata", 'default_timezone is now "Asia/Kolkata".'),
        ("settings set request_limit 5", "request_limit is now 5."),
        ("settings set organizer_group mentor-orgs", 'organizer_group is now "mentor-orgs".'),
    ],
)
async def test_an_organizer_changes_a_setting_and_it_sticks(
    console: ConsoleSession, line: str, shown: str
) -> None:
    assert shown in await run(console, "/as Olga", line)
    key = line.split()[2]
    value = shown.split(" is now ")[1].strip('.').strip('"')
    assert f"  {key} = {value}:" in await console.feed("settings")


async def test_a_channel_setting_can_be_cleared_again(console: ConsoleSession) -> None:
    await run(console, "/as Olga", "settings set mentors_channel #mentors")
    assert "mentors_channel is now not set." in await console.feed(
        "settings set mentors_channel off")
    assert "  mentors_channel = (not set):" in await console.feed("settings")


async def test_bad_setting_values_are_refused_and_change_nothing(console: ConsoleSession) -> None:
    await console.feed("/as Olga")
    assert "There is no setting “colour”" in await console.feed("settings set colour blue")
    out = await console.feed("settings set default_timezone Mars/Olympus")
    assert "I don't know the timezone “Mars/Olympus”" in out
    assert "That value doesn't work" in await console.feed("settings set request_limit 0")
    assert "That value doesn't work" in await console.feed("settings set request_limit lots")
    assert "must be true or false" in await console.feed("settings set announce_requests maybe")
    assert "not a synonym pair" in await console.feed("settings set synonyms golang")
    assert "Please say which value. For example: `settings set request_limit 5`" in (
        await console.feed("settings set request_limit"))
    out = await console.feed("settings")
    assert "request_limit = 3:" in out and "default_timezone = UTC:" in out


async def test_synonyms_are_added_and_removed_one_at_a_time(console: ConsoleSession) -> None:
    await console.feed("/as Olga")
    out = await console.feed("settings set synonyms golang=go, RS=Rust")
    assert '"golang": "go"' in out and '"rs": "rust"' in out and '"js": "javascript"' in out
    out = await console.feed("settings set synonyms js=")
    assert '"js"' not in out and '"golang": "go"' in out


@pytest.mark.parametrize(
    "line", ["settings", "settings set request_limit 10", "report"]
)
async def test_members_who_are_not_organizers_are_refused(
    console: ConsoleSession, line: str
) -> None:
    out = await run(console, "/as Ada", line)
    assert "Only organizers can do that." in out
    assert "Ask a workspace admin or someone in the organizers group." in out
    assert "request_limit = 3:" in await run(console, "/as Olga", "settings")


async def test_members_of_the_organizer_group_are_organizers(core: Mentorbot) -> None:
    admin = Caller("test", "c1", "C", "UADMIN", "Olga", is_platform_admin=True)
    helper = Caller("test", "c1", "C", "UHELP", "Hana", groups=frozenset({"mentor-orgs"}))
    member = Caller("test", "c1", "C", "UMEM", "Ada", groups=frozenset({"book-club"}))
    assert "Only organizers" in (await core.handle_text(helper, "settings")).plain_text()

    await core.handle_text(admin, "settings set organizer_group mentor-orgs")
    assert "Settings for C" in (await core.handle_text(helper, "settings")).plain_text()
    reply = await core.handle_text(helper, "settings set request_limit 4")
    assert "request_limit is now 4." in reply.plain_text()
    assert "Only organizers" in (await core.handle_text(member, "settings")).plain_text()


async def test_organizer_commands_are_listed_in_help_only_for_organizers(
    console: ConsoleSession,
) -> None:
    assert "settings set <setting> <value>" in await run(console, "/as Olga", "help")
    assert "settings set <setting> <value>" not in await run(console, "/as Ada", "help")


async def test_new_requests_are_announced_in_the_mentors_channel_without_private_context(
    console: ConsoleSession,
) -> None:
    await run(console, "/as Olga", "settings set mentors_channel #mentors",
              "settings set announce_requests true")
    await run(console, "/as Grace", GRACE)
    out = await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    assert "→ #mentors: A member is looking for mentoring on “python”." in out
    posts = console.messenger.in_channel("mentors")
    assert len(posts) == 1
    text = posts[0].message.plain_text()
    assert "secret project" not in text and "employer" not in text
    assert not any(isinstance(s, Mention) for s in posts[0].message.segments)
    # The mentor still gets the context privately.
    assert "My secret project" in console.messenger.dms_to("console-grace")[0].message.plain_text()


async def test_requests_are_not_announced_unless_organizers_opt_in(
    console: ConsoleSession,
) -> None:
    await run(console, "/as Olga", "settings set mentors_channel #mentors")
    await run(console, "/as Grace", GRACE)
    out = await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    assert "→ #mentors" not in out
    assert console.messenger.in_channel("mentors") == []


async def test_a_member_whose_dms_are_closed_is_reached_in_the_intros_channel(
    console: ConsoleSession,
) -> None:
    await run(console, "/as Olga", "settings set intros_channel #intros")
    await run(console, "/as Grace", GRACE)
    await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    console.messenger.refuse_dms("console-ada")
    out = await run(console, "/as Grace", "accept 1")
    assert "→ #intros: @Ada" in out
    post = console.messenger.in_channel("intros")[0].message
    assert "secret project" not in post.plain_text()


async def test_the_report_counts_mentors_requests_and_nudges(console: ConsoleSession) -> None:
    await run(console, "/as Grace", GRACE)
    await run(console, "/as Linus", GRACE)
    await run(console, "/as Ada", f"request Grace topic: python context: {CONTEXT}")
    await run(console, "/as Bob", f"request Grace topic: python context: {CONTEXT}")
    await run(console, "/as Kemi", f"request Linus topic: python context: {CONTEXT}")
    await run(console, "/as Grace", "accept 1", "decline 2")
    out = await run(console, "/as Olga", "report")
    assert "Mentorship in Console Community" in out
    assert "Mentors: 2" in out
    assert "waiting for the mentor 1" in out
    assert "accepted 1" in out and "declined 1" in out
    assert "Nudges: " in out and "sent " in out


async def test_settings_replies_keep_user_values_as_plain_text(core: Mentorbot) -> None:
    admin = Caller("test", "c1", "C", "UADMIN", "Olga", is_platform_admin=True)
    reply = await core.handle_text(admin, "settings set intros_channel <!channel>")
    segments = reply.messages[0].segments
    assert any(isinstance(s, Plain) and "<!channel>" in s.text for s in segments)
    for seg in segments:
        if isinstance(seg, Notice | Strong | Quote):
            assert "<!channel>" not in seg.text
