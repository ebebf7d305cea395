"""The intros feature, as the composition root lists it: its commands, nudge kinds and view
sections (``bot.bootstrap.features``)."""

from __future__ import annotations

import logging

from bot.feature import Feature
from bot.intros.commands import COMMANDS, requests_section
from bot.intros.nudges import KINDS

log = logging.getLogger(__name__)

FEATURE = Feature(
    "intros",
    commands=COMMANDS,
    nudges=KINDS,
    home_sections=(requests_section,),
)
