"""Who is acting, as Discord tells it: facts for the core, never rules.

``is_platform_admin`` is Discord's Manage Server (or Administrator) permission as the
interaction reports it; ``groups`` are the member's role ids and role names, so the configured
organizer role works by either, even where the organizer command's default permission hides
it. In a DM there is no server: ``community_id`` is None and the core takes the community from
the button's or form's id. Discord gives no timezone: the core asks once.
"""

from __future__ import annotations

import logging

import discord

from bot.caller import Caller

log = logging.getLogger(__name__)

PLATFORM = "discord"


def caller_of(interaction: discord.Interaction) -> Caller:
    user = interaction.user
    guild_id = str(interaction.guild_id) if interaction.guild_id is not None else None
    guild = interaction.guild
    admin = False
    groups: set[str] = set()
    if guild_id is not None and isinstance(user, discord.Member):
        permissions = interaction.permissions
        admin = permissions.manage_guild or permissions.administrator
        for role in user.roles:
            if not role.is_default():
                groups.update((str(role.id), role.name))
    return Caller(
        platform=PLATFORM,
        community_id=guild_id,
        community_name=guild.name if guild is not None and guild.name else (guild_id or ""),
        user_id=str(user.id),
        display_name=user.display_name,
        timezone=None,
        is_platform_admin=admin,
        groups=frozenset(groups),
        channel=str(interaction.channel_id) if interaction.channel_id is not None else None,
    )
