"""Driving the console as a person would: type lines, click a printed choice by its number.

Scenario tests use the console's parser and renderer on purpose: what they check is what a
newcomer would see, with the real core and database behind it.
"""

from __future__ import annotations

import logging
import re

from adapters.console.session import ConsoleSession

log = logging.getLogger(__name__)


async def run(console: ConsoleSession, *lines: str) -> str:
    """Feed lines in order; everything printed by the last one."""
    out = ""
    for line in lines:
        out = await console.feed(line)
    return out


def click(output: str, command: str) -> str:
    """The number the console shows for the (latest) choice that runs ``command``."""
    numbers = re.findall(r"\[(\d+)\][^\[\n]*\(" + re.escape(command) + r"\)", output)
    assert numbers, f"no choice running {command!r} in:\n{output}"
    return numbers[-1]
