"""One bot instance of the multi-instance tests: it starts the way the bot starts, delivers to a
platform it shares with the other instances, and stops the way the bot stops.

Run as ``python -m tests.instance_child URL JOURNAL [--batch N] [--sweep S] [--heartbeat H]
[--lease L]``. The parent talks to it in lines:

* the child prints ``loaded`` once imported, then waits for ``start`` on stdin, so a parent can
  start several at the same moment;
* it goes through the bot's start-up: ``bot.bootstrap.assemble`` (migrations under the advisory
  lock, the engine of platform ``test``) and ``scheduler.start()`` (register, recover what dead
  processes left, arm the sweep, heartbeat and alarm), then prints ``ready <worker id>
  <recovered> <seconds since start>``;
* ``go`` wakes the scheduler, as a command that queued nudges does; the end of stdin stops the
  bot (the scheduler finishes and records its run, the process unregisters), then ``stopped``.

What it tells the parent on the way: ``sent <key>`` after each delivery reached the platform,
``found <key>`` / ``missing <key>`` when the engine asked the platform about a nudge whose send
was interrupted, and ``log <message>`` for what the storage logs about migrations.

The platform (:class:`SharedPlatform`) is one journal file shared by every instance: a send
appends a line before it returns (one ``write`` with ``O_APPEND``: whole or not at all, and
kept by the kernel when the process is killed, so no fsync is needed for SIGKILL), and
``find_sent`` reads what any instance delivered, as Slack or Discord would answer. The journal
keeps every send *attempt*, so a duplicate send of ours cannot hide behind the platform's
deduplication.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from bot.bootstrap import assemble
from bot.clock import SystemClock
from bot.config import NudgeSettings, Settings, StorageSettings
from bot.messages import MemberAddress, Message
from bot.ports import Delivered, Destination
from tests.recording_port import destination_key

log = logging.getLogger(__name__)

PLATFORM = "test"


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class SharedPlatform:
    """A platform every instance sends to: deliveries deduplicated by idempotency key, and
    ``find_sent`` answered from all instances' deliveries (read back from the journal)."""

    platform = PLATFORM

    def __init__(self, journal: Path) -> None:
        self.journal = journal
        self._fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._read = journal.open("rb")
        self._partial = b""
        self._delivered: dict[tuple[str, str, str], str] = {}
        self._spaces: dict[tuple[str, str], str] = {}

    def _catch_up(self) -> None:
        """Read what was delivered since the last look (by any instance)."""
        data = self._partial + self._read.read()
        *lines, self._partial = data.split(b"\n")
        for line in lines:
            community, dest, key = line.decode().split("\t")
            self._delivered.setdefault((community, dest, key), f"msg-{key}")

    async def send(self, community_external_id: str, destination: Destination,
                   message: Message, idempotency_key: str) -> Delivered:
        dest = destination_key(destination)
        os.write(self._fd, f"{community_external_id}\t{dest}\t{idempotency_key}\n".encode())
        self._catch_up()
        say(f"sent {idempotency_key}")
        return Delivered(self._delivered[(community_external_id, dest, idempotency_key)])

    async def find_sent(self, community_external_id: str, destination: Destination,
                        idempotency_key: str, *, since: datetime | None = None,
                        ) -> Delivered | None:
        self._catch_up()
        ref = self._delivered.get(
            (community_external_id, destination_key(destination), idempotency_key))
        say(f"{'found' if ref else 'missing'} {idempotency_key}")
        return Delivered(ref) if ref else None

    async def open_space(self, community_external_id: str, key: str,
                         members: Sequence[MemberAddress], title: str,
                         parent_channel: str | None) -> str:
        return self._spaces.setdefault((community_external_id, key), f"space-{key}")

    def close(self) -> None:
        os.close(self._fd)
        self._read.close()


class _ToParent(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        say(f"log {record.getMessage()}")


async def _stdin() -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    storage_log = logging.getLogger("storage.db")
    storage_log.setLevel(logging.INFO)
    storage_log.addHandler(_ToParent())
    stdin = await _stdin()
    say("loaded")
    if (await stdin.readline()).strip() != b"start":
        return
    began = time.monotonic()
    settings = Settings(
        storage=StorageSettings(url=args.url),
        nudges=NudgeSettings(batch_size=args.batch, sweep_seconds=args.sweep,
                             heartbeat_seconds=args.heartbeat,
                             worker_lease_seconds=args.lease),
    )
    port = SharedPlatform(args.journal)
    try:
        async with assemble(settings, port, SystemClock(), start_scheduler=False,
                            platform=PLATFORM) as app:
            recovered = await app.scheduler.start()  # what assemble does, with the stats
            say(f"ready {app.engine.identity.id} {recovered.recovered} "
                f"{time.monotonic() - began:.3f}")
            while line := await stdin.readline():
                if line.strip() == b"go":
                    app.scheduler.wake()
        say("stopped")
    finally:
        port.close()


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("journal", type=Path)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--sweep", type=float, default=30.0)
    parser.add_argument("--heartbeat", type=float, default=5.0)
    parser.add_argument("--lease", type=float, default=20.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse(sys.argv[1:])))
