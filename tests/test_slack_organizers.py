"""Organizers on Slack: workspace admins and owners, or members of the configured user group.

The adapter only reports facts (``users.info``'s admin flags, the group's members from
``usergroups.users.list``); the core decides. Groups and channels are picked the Slack way
(``@organizers``, ``#mentors``) and arrive as ids.
"""

from __future__ import annotations

from pathlib import Path

from tests.slack_harness import shown, slack_world
from tests.standins.slack import ALICE, BOB, CAROL, MENTORS, ORGANIZERS

REFUSED = "Only organizers can do that."


async def test_admins_may_change_settings_and_others_are_refused(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as world:
        assert "Settings for Mentorbot Community" in await world.say("settings", user=CAROL)
        assert REFUSED in await world.say("settings", user=ALICE)
        assert REFUSED in await world.say("settings set request_limit 5", user=BOB)
        changed = await world.say(f"settings set mentors_channel <#{MENTORS}|mentors>",
                                  user=CAROL)
        assert MENTORS in changed
        assert f"mentors_channel = {MENTORS}" in await world.say("settings", user=CAROL)


async def test_the_organizer_group_is_picked_with_its_slack_handle(tmp_path: Path) -> None:
    async with slack_world(tmp_path) as world:
        world.slack.usergroups[ORGANIZERS] = (CAROL, ALICE)
        assert REFUSED in await world.say("settings", user=ALICE)  # no group configured yet
        set_group = await world.say(
            f"settings set organizer_group <!subteam^{ORGANIZERS}|@organizers>", user=CAROL)
        assert ORGANIZERS in set_group
        assert "Settings for" in await world.say("settings", user=ALICE)
        assert REFUSED in await world.say("settings", user=BOB)
        lookups = world.slack.calls("usergroups.users.list")
        assert {c.args["usergroup"] for c in lookups} == {ORGANIZERS}
        assert len(lookups) == 1  # cached for organizer_cache_seconds


async def test_organizer_commands_in_the_menu_and_home_stay_refused_for_members(
    tmp_path: Path,
) -> None:
    async with slack_world(tmp_path) as world:
        inbound = world.slack.payloads.message_im(BOB, "report")
        await world.deliver(inbound)
        refused = await world.dm(BOB, REFUSED)
        assert "organizers group" in shown({"blocks": refused.blocks})
