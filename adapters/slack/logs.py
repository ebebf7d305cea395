"""No token in any log line, whatever a library decides to log.

slack_sdk redacts the Authorization header, but a DEBUG log of a response body or an exception
message can still carry a secret. Every handler of the root logger gets a filter that replaces
the bot token, the app token and the signing secret with ``<redacted>`` in the message and in
the formatted traceback, before any handler writes the record anywhere.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable

log = logging.getLogger(__name__)

REDACTED = "<redacted>"


class Redactor(logging.Filter):
    """Rewrites records that mention one of ``secrets``; never drops a record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s and len(s) >= 8)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[0] is not None:
            formatted = record.exc_text or "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = self.redact(formatted).rstrip("\n")
        return True


def install_redaction(secrets: Iterable[str], logger: logging.Logger | None = None) -> Redactor:
    """Adds a :class:`Redactor` to every handler of ``logger`` (the root logger)."""
    redactor = Redactor(secrets)
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, Redactor) for f in handler.filters):
            handler.addFilter(redactor)
    return redactor
