"""The followups feature, as the composition root lists it: its commands, nudge kinds and view
sections (``bot.bootstrap.features``)."""

from __future__ import annotations

import logging

from bot.feature import Feature
from bot.followups.commands import COMMANDS, followups_report, unanswered_section
from bot.followups.nudges import KINDS

log = logging.getLogger(__name__)

FEATURE = Feature(
    "followups",
    commands=COMMANDS,
    nudges=KINDS,
    home_sections=(unanswered_section,),
    report_sections=(followups_report,),
)
