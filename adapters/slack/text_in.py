"""Slack's escaped text → the core's syntax.

With ``should_escape: true`` (the manifest sets it) Slack hands a slash command's text, and
every message event's text, with people, channels and groups as ids:
``<@U0ALICE001|alice>``, ``<#C0INTROS01|intros>``, ``<!subteam^S0ORGANIZE|@organizers>``, and
``&``, ``<``, ``>`` as entities. The core names members as ``<member:PLATFORM_ID>`` and
channels and groups by id, so a person is always matched by the id Slack gave, never by a
display name that two people may share.

Anything else in angle brackets (``<!here>``, links) becomes the literal text a person would
read; the core treats it as text and the renderer escapes it again on the way out.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"<([^<>]*)>")
_ID = r"[A-Z0-9]{2,40}"
_USER = re.compile(rf"^@({_ID})(?:\|[^|]*)?$")
_CHANNEL = re.compile(rf"^#({_ID})(?:\|[^|]*)?$")
_GROUP = re.compile(rf"^!subteam\^({_ID})(?:\|[^|]*)?$")
_SPECIAL = re.compile(r"^!(here|channel|everyone)(?:\|[^|]*)?$")
_DATE = re.compile(r"^!date\^[^|]*\|(.*)$")
_LINK = re.compile(r"^((?:https?|mailto|tel|slack):[^|]*)(?:\|(.*))?$")


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _token(inner: str) -> str:
    if match := _USER.match(inner):
        return f"<member:{match.group(1)}>"
    if match := _CHANNEL.match(inner):
        return match.group(1)
    if match := _GROUP.match(inner):
        return match.group(1)
    if match := _SPECIAL.match(inner):
        return "@" + match.group(1)
    if match := _DATE.match(inner):
        return _unescape(match.group(1))
    if match := _LINK.match(inner):
        url, label = _unescape(match.group(1)), match.group(2)
        if label is None or _unescape(label) == url:
            return url
        return f"{_unescape(label)} ({url})"
    return _unescape(inner)


def from_slack(text: str) -> str:
    """``text`` as Slack sent it, in the core's syntax (see the module docstring)."""
    out: list[str] = []
    last = 0
    for match in _TOKEN.finditer(text):
        out.append(_unescape(text[last:match.start()]))
        out.append(_token(match.group(1)))
        last = match.end()
    out.append(_unescape(text[last:]))
    return "".join(out)
