"""Help, the home view, and the organizers' settings, report, nudge log and alerts."""

from __future__ import annotations

import logging

from bot.community.commands import COMMANDS
from bot.community.nudges import KINDS
from bot.feature import Feature

log = logging.getLogger(__name__)

FEATURE = Feature("community", commands=COMMANDS, nudges=KINDS)
