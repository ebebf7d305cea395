"""The child process of the kill test: recover, then deliver until nothing is due, then exit.

Run as ``python -m tests.kill_child <database url> <journal>``. Deliveries go to a
:class:`RecordingMessenger` that fsyncs every send to ``journal`` before returning, so what
reached the "platform" survives a SIGKILL. After each delivery a line ``sent <key>`` is printed
(flushed): the parent watches that progress to choose when to kill.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import timedelta
from pathlib import Path

from bot.clock import SystemClock
from bot.config import CommunityDefaults, NudgeSettings
from bot.messages import Message
from bot.nudges.engine import NudgeEngine
from bot.ports import Delivered, Destination
from storage.db import create_engine
from storage.store import Store
from tests.recording_port import RecordingMessenger

log = logging.getLogger(__name__)


class ReportingMessenger(RecordingMessenger):
    async def send(self, community_external_id: str, destination: Destination,
                   message: Message, idempotency_key: str) -> Delivered:
        delivered = await super().send(community_external_id, destination, message,
                                       idempotency_key)
        sys.stdout.write(f"sent {idempotency_key}\n")
        sys.stdout.flush()
        return delivered


async def main(url: str, journal: Path) -> None:
    store = Store(create_engine(url))
    port = ReportingMessenger(journal=journal)
    engine = NudgeEngine(store, port, SystemClock(), NudgeSettings(batch_size=100),
                         CommunityDefaults())
    try:
        sys.stdout.write("started\n")
        sys.stdout.flush()
        recovered = await engine.recover(older_than=timedelta(0))
        sys.stdout.write(f"recovered {recovered.recovered}\n")
        sys.stdout.flush()
        while (await engine.run_due()).handled:
            pass
        sys.stdout.write("done\n")
        sys.stdout.flush()
    finally:
        port.close()
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
