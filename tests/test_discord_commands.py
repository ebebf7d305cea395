"""App commands on Discord: generated from the core's declarations, synced, typed, completed.

The stand-in checks every synced command against Discord's OpenAPI spec and limits (a command
Discord would refuse fails the test); these tests check what a member then finds: every core
command under a few top-level commands, typed options, autocomplete, and values that reach the
core as typed (text stays text).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.discord.commands import CommandBook
from bot.bootstrap import build_registry
from bot.clock import ManualClock
from bot.command import CommandSpec, command, param
from bot.feature import Feature
from bot.messages import Reply
from bot.registry import Registry
from tests.discord_harness import CONTEXT, Bot, discord_bot
from tests.standins.discord import ALICE_ID, GUILD_ID, MENTORS_ROLE_ID


@pytest.fixture
async def bot(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Bot]:
    async with discord_bot(tmp_path, clock) as running:
        yield running


def synced(bot: Bot) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in bot.sd.synced_commands(GUILD_ID)}


def option(bot: Bot, slash: str, name: str) -> dict[str, Any]:
    top, sub = slash.split()
    (found,) = [s for s in synced(bot)[top]["options"] if s["name"] == sub]
    (opt,) = [o for o in found.get("options", []) if o["name"] == name]
    return dict(opt)


async def test_every_core_command_is_a_subcommand_named_after_its_verb(bot: Bot) -> None:
    commands = synced(bot)
    assert {"mentor", "session", "after", "organizer"} <= set(commands)
    subcommands = {(top, s["name"]) for top, c in commands.items() for s in c["options"]}
    registry = bot.app.registry
    for spec in registry.commands:
        found = {(t, s) for t, s in subcommands
                 if f"{t} {s}" == spec.verb or s == spec.verb.replace(" ", "-")}
        assert len(found) == 1, f"{spec.verb} should be exactly one subcommand, is {found}"
    assert len(subcommands) == len(registry.commands)
    assert all(len(c["options"]) <= 25 for c in commands.values())
    assert ("mentor", "set") in subcommands and ("organizer", "settings-set") in subcommands
    assert commands["organizer"]["contexts"] == [0], "organizers act in their server"
    assert all(c["contexts"] == [0, 1] for top, c in commands.items() if top != "organizer"), \
        "the others also in the DM with the bot"
    assert str(commands["organizer"]["default_member_permissions"]) == "32"  # Manage Server
    assert all(c["default_member_permissions"] is None
               for top, c in commands.items() if top != "organizer")


async def test_options_are_typed_with_the_cores_lengths_ranges_and_sources(bot: Bot) -> None:
    assert option(bot, "mentor request", "mentor") == {
        "type": 3, "name": "mentor", "description": "Mentor", "required": True,
        "autocomplete": True, "max_length": 100,
    }
    context = option(bot, "mentor request", "context")
    assert (context["type"], context["min_length"], context["max_length"]) == (3, 20, 1500)
    assert "required" not in context, "asked for in a modal when left out"
    accept = option(bot, "mentor accept", "request")
    assert (accept["type"], accept["min_value"], accept["required"], accept["autocomplete"]) \
        == (4, 1, True, True)
    assert option(bot, "mentor set", "mentees")["max_value"] == 20
    assert [c["value"] for c in option(bot, "after rate", "rating")["choices"]] == [1, 2, 3, 4, 5]
    assert option(bot, "after thanks", "public")["type"] == 5
    assert option(bot, "session book", "other")["type"] == 6  # Discord's member picker
    assert option(bot, "mentor tz", "zone")["autocomplete"] is True
    assert [c["value"] for c in option(bot, "organizer nudges", "state")["choices"]] == [
        "pending", "sending", "sent", "stale", "failed"]


async def test_hints_are_clickable_mentions_of_the_synced_commands(bot: Bot) -> None:
    mentor_id = synced(bot)["mentor"]["id"]
    said = await bot.say("mentor help", expect="After sessions")
    assert f"</mentor find:{mentor_id}> `<topic>`: Find mentors" in said
    assert f"</mentor my:{mentor_id}>:" in said


async def test_text_options_stay_text_even_with_labels_inside(bot: Bot) -> None:
    await bot.say("mentor set", {"topics": "python", "bio": "I teach"}, expect="mentor")
    context = "I tried the docs. topic: rust context: this is still my context, mentor: nobody"
    said = await bot.say("mentor request", {"mentor": f"<member:{ALICE_ID}>", "topic": "python",
                                            "context": context}, user="bob", expect="sent")
    assert "Request #1 sent to @Alice" in said
    await bot.deliver()
    (request,) = bot.sd.dms_to("alice")
    assert "about “python”" in request.content
    assert request.content.count("> ") == 1
    assert "this is still my context, mentor: nobody" in request.content


async def test_a_member_picked_from_discord_reaches_the_core_as_that_member(bot: Bot) -> None:
    await bot.say("mentor set", {"topics": "python", "bio": "Compilers"}, expect="mentor")
    said = await bot.say("mentor profile", {"of": "alice"}, user="bob", expect="Compilers")
    assert "@Alice" in said and "Topics: python" in said


async def test_timezones_and_request_numbers_are_completed(bot: Bot) -> None:
    sd = bot.sd
    typing = await sd.autocomplete("mentor tz", {"zone": "europe/be"}, focused="zone")
    zones = [c["value"] for c in (await typing.reply()).data["choices"]]
    assert "Europe/Berlin" in zones and len(zones) <= 25
    assert "Europe/Berlin" in await bot.say("mentor tz", {"zone": "Europe/Berlin"},
                                            expect="Berlin")

    await bot.say("mentor set", {"topics": "python", "bio": "I teach"}, expect="mentor")
    await bot.say("mentor request", {"mentor": f"<member:{ALICE_ID}>", "topic": "python",
                                     "context": CONTEXT}, user="bob", expect="sent")
    typing = await sd.autocomplete("mentor accept", {"request": ""}, focused="request")
    (choice,) = (await typing.reply()).data["choices"]
    assert choice["value"] == 1 and choice["name"].startswith("#1 · python")
    assert "Accepted!" in await bot.say("mentor accept", {"request": 1}, expect="Accepted")


async def test_organizer_commands_are_for_organizers_only(bot: Bot) -> None:
    refused = await bot.say("organizer report", user="bob", expect="organizers")
    assert refused.startswith("Only organizers can do that.")
    # olivia has Manage Server: Discord says so in the interaction, the core decides.
    report = await bot.say("organizer report", user="olivia", expect="\n")
    assert "Only organizers" not in report
    # A configured organizer role works by name or id, whatever Discord's default hides.
    await bot.say("organizer settings-set", {"key": "organizer_group", "value": "Mentors"},
                  user="olivia", expect="organizer_group")
    assert "Only organizers" not in await bot.say("organizer settings", user="alice",
                                                  expect="\n")
    # The role's name as an organizer typed it: Discord shows "Mentors", the core casefolds.
    await bot.say("organizer settings-set", {"key": "organizer_group", "value": "mentors"},
                  user="olivia", expect="organizer_group")
    assert "Only organizers" not in await bot.say("organizer settings", user="alice",
                                                  expect="\n")
    await bot.say("organizer settings-set", {"key": "organizer_group", "value": MENTORS_ROLE_ID},
                  user="olivia", expect="organizer_group")
    assert "Only organizers" not in await bot.say("organizer settings", user="alice",
                                                  expect="\n")
    assert "Only organizers" in await bot.say("organizer settings", user="carol",
                                              expect="organizers")


async def test_commands_in_the_dm_act_for_the_one_server_the_member_uses(
        tmp_path: Path, clock: ManualClock) -> None:
    async with discord_bot(tmp_path, clock, global_commands=True) as bot:
        await _in_the_dm(bot)


async def _in_the_dm(bot: Bot) -> None:
    """Discord offers only global commands in DMs (a server's own stay in that server)."""
    sd = bot.sd
    newcomer = await bot.say("mentor my", user="bob", dm=True, expect="server")
    assert "Please use this command in your server" in newcomer
    await bot.say("mentor set", {"topics": "python", "bio": "I teach"}, expect="mentor")
    await bot.say("mentor help", user="bob", expect="After sessions")  # bob uses it there
    typing = await sd.autocomplete("mentor request", {"mentor": "al"}, focused="mentor",
                                   user="bob", dm=True)
    assert [c["name"] for c in (await typing.reply()).data["choices"]] == ["Alice"]
    said = await bot.say("mentor request", {"mentor": f"<member:{ALICE_ID}>", "topic": "python",
                                            "context": CONTEXT}, user="bob", dm=True,
                         expect="sent")
    assert "Request #1 sent to @Alice" in said
    assert "Requests you sent" in await bot.say("mentor my", user="bob", dm=True,
                                                expect="Requests you sent")
    with pytest.raises(ValueError, match="does not offer /organizer"):
        await sd.slash("organizer report", user="olivia", dm=True)


# -- the generation rules, without Discord -------------------------------------------------------


def _registry(group: str, verbs: int) -> Registry:
    @dataclass(frozen=True)
    class Nothing:
        note: str = param.text("Note")

    async def handler(cmd: Nothing, ctx: Any) -> Reply:
        return Reply()

    specs: list[CommandSpec[Any]] = []
    for n in range(verbs):
        kind = type(f"Nothing{n}", (Nothing,), {"__annotations__": {}})
        specs.append(command(dataclass(frozen=True)(kind), f"do thing{n}", group=group,
                             summary=f"Does thing {n}.")(handler))
    return Registry((Feature("things", tuple(specs)),))


def test_a_new_group_gets_its_own_command_and_more_than_25_is_refused() -> None:
    book = CommandBook(_registry("Book club", 3))
    (payload,) = book.payloads()
    assert payload["name"] == "book-club"
    assert [s["name"] for s in payload["options"]] == ["do-thing0", "do-thing1", "do-thing2"]
    with pytest.raises(ValueError, match="26 subcommands"):
        CommandBook(_registry("Book club", 26))


def test_the_real_registry_fits_discords_limits() -> None:
    book = CommandBook(build_registry())
    assert {"mentor", "session", "after", "organizer"} <= set(book.tops)
    assert all(len(subs) <= 25 for subs in book.tops.values())
