"""The community feature, as the composition root lists it: its commands, nudge kinds and view
sections (``bot.bootstrap.features``)."""

from __future__ import annotations

import logging

from bot.community.commands import COMMANDS
from bot.community.nudges import KINDS
from bot.feature import Feature

log = logging.getLogger(__name__)

FEATURE = Feature("community", commands=COMMANDS, nudges=KINDS)
