"""Refusals a person should read: what went wrong and what to do instead.

Flows raise :class:`UserError` before changing anything (or inside the transaction, which then
rolls back), and the dispatcher turns it into a friendly private reply. Any other exception is a
bug: it is logged with its trace, and the person only sees that nothing was changed.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class UserError(Exception):
    """A friendly refusal: ``message`` says what is wrong, ``hint`` what to try."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class NotAllowed(UserError):
    """The caller may not do this (not an organizer, not their request...)."""


class StorageConflict(Exception):
    """Two writers collided (a unique row created twice at once): the command may be retried."""


class StorageBusy(Exception):
    """The database did not answer in time (a long write holds the lock): try again shortly."""


class StorageUnavailable(Exception):
    """The database cannot be reached at all."""
