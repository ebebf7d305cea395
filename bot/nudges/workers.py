"""Which process owns a claim, and whether that process is still alive.

Every running process has an identity (host, pid and a random part) and records a heartbeat.
A nudge it claims carries that identity. When a process dies mid-batch, its claims are taken
over as soon as another process (or its own restart) sees that the owner is gone:

* on the same host, at once, if the owner's pid no longer runs (a restart resolves its own
  interrupted sends immediately);
* on another host, once the owner's heartbeat is older than the lease (seconds, not the old
  five-minute claim timeout).

A slow but live process keeps beating, so its claims are never taken.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.domain import Worker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """This process, as other processes see it."""

    id: str
    platform: str | None
    host: str
    pid: int

    @staticmethod
    def of_this_process(platform: str | None) -> Identity:
        host = socket.gethostname()[:100] or "localhost"
        pid = os.getpid()
        return Identity(f"{host}:{pid}:{uuid.uuid4().hex[:8]}", platform, host, pid)

    def as_worker(self, now: datetime) -> Worker:
        return Worker(self.id, self.platform, self.host, self.pid, now, now)


def pid_running(pid: int) -> bool:
    """Whether a process with this pid runs on this host (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def gone_workers(
    workers: list[Worker], me: Identity, now: datetime, lease: timedelta
) -> list[str]:
    """The ids of processes whose claims may be taken over now."""
    gone = []
    for w in workers:
        if w.id == me.id:
            continue
        if w.host == me.host:
            if w.pid == me.pid:
                continue  # another engine in this very process (tests): alive
            if not pid_running(w.pid):
                gone.append(w.id)
                continue
        if now - w.heartbeat_at > lease:
            gone.append(w.id)
    return gone
