"""Which process owns a claim, and whether that process is still alive.

Every running process has an identity (host, pid and a random part) and records a heartbeat.
A nudge it claims carries that identity. When a process dies mid-batch, its claims are taken
over as soon as another process (or its own restart) sees that the owner is gone:

* on the same host, at once, if the owner's pid no longer runs (a restart resolves its own
  interrupted sends immediately);
* on another host, once the owner's heartbeat is older than the lease (seconds, not the old
  five-minute claim timeout);
* with this very host and pid but another identity (a container restarted under the same host
  name gets the same pid, often 1), once its heartbeat is older than the lease: that pid is
  running, but it is us, so only the heartbeat can tell.

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
) -> list[Worker]:
    """The processes whose claims may be taken over now."""
    gone = []
    for w in workers:
        if w.id == me.id:
            continue
        # Our own pid runs (it is us): a row with it and another identity is a previous life
        # of this container, or another engine in this process (tests), which beats.
        if w.host == me.host and w.pid != me.pid and not pid_running(w.pid):
            gone.append(w)
            continue
        if now - w.heartbeat_at > lease:
            gone.append(w)
    return gone


def ours_to_settle(worker: Worker, platform: str | None) -> bool:
    """Whether an engine claiming ``platform``'s nudges takes over all of ``worker``'s claims
    (and so may forget the worker afterwards): the same platform, or every platform (None).

    Why it matters: a Slack instance that forgot a dead Discord instance would hide it from
    the Discord instances, whose claims would then wait for the claim timeout.
    """
    return platform is None or worker.platform == platform
