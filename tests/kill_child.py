"""The child process of the kill test: start the bot's engine the way the bot starts, deliver
until nothing is left, exit.

Run as ``python -m tests.kill_child <database url> <journal>``. It goes through the composition
root (``bot.bootstrap.assemble``) with the real scheduler, so a restart takes over the claims
the killed process left behind exactly as a restarted bot does. Deliveries go to a
:class:`RecordingMessenger` that fsyncs every send to ``journal`` before returning, so what
reached the "platform" survives a SIGKILL. The child prints ``recovered <n> <seconds>`` once
start-up is done, and ``sent <key>`` after each delivery (flushed): the parent watches that
progress to choose when to kill.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path

from bot.bootstrap import assemble
from bot.clock import SystemClock
from bot.config import NudgeSettings, Settings, StorageSettings
from bot.messages import Message
from bot.ports import Delivered, Destination
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
    began = time.monotonic()
    settings = Settings(
        storage=StorageSettings(url=url),
        nudges=NudgeSettings(batch_size=100, sweep_seconds=3600),
    )
    port = ReportingMessenger(journal=journal)
    sys.stdout.write("started\n")
    sys.stdout.flush()
    try:
        async with assemble(settings, port, SystemClock(), start_scheduler=False) as app:
            recovered = await app.scheduler.start()  # the bot's own start-up path
            sys.stdout.write(f"recovered {recovered.recovered} {time.monotonic() - began:.3f}\n")
            sys.stdout.flush()
            while True:
                await app.scheduler.run()
                async with app.store.reading() as tx:
                    counts = await tx.nudges.state_counts(1)
                if not counts.get("pending") and not counts.get("sending"):
                    break
        sys.stdout.write("done\n")
        sys.stdout.flush()
    finally:
        port.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
