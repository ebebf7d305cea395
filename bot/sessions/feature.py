"""The sessions feature, as the composition root lists it: its commands, nudge kinds and view
sections (``bot.bootstrap.features``)."""

from __future__ import annotations

import logging

from bot.feature import Feature
from bot.sessions.commands import COMMANDS, sessions_report, upcoming_section
from bot.sessions.nudges import KINDS

log = logging.getLogger(__name__)

FEATURE = Feature(
    "sessions",
    commands=COMMANDS,
    nudges=KINDS,
    home_sections=(upcoming_section,),
    report_sections=(sessions_report,),
)
