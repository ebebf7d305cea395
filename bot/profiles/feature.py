"""The profiles feature, as the composition root lists it: its commands, nudge kinds and view
sections (``bot.bootstrap.features``)."""

from __future__ import annotations

import logging

from bot.feature import Feature
from bot.profiles.commands import COMMANDS, own_profile_section

log = logging.getLogger(__name__)

FEATURE = Feature(
    "profiles",
    commands=COMMANDS,
    home_sections=(own_profile_section,),
)
