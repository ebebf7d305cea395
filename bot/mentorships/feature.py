"""The mentorships feature, as the composition root lists it: its commands, nudge kinds and view
sections (``bot.bootstrap.features``)."""

from __future__ import annotations

import logging

from bot.feature import Feature
from bot.mentorships.commands import COMMANDS, home_section, mentorships_report
from bot.mentorships.nudges import KINDS

log = logging.getLogger(__name__)

FEATURE = Feature(
    "mentorships",
    commands=COMMANDS,
    nudges=KINDS,
    home_sections=(home_section,),
    report_sections=(mentorships_report,),
)
