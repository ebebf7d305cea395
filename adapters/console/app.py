"""The interactive console: a terminal loop around a :class:`ConsoleSession`.

stdin is read in a daemon thread so the event loop stays free: the scheduler keeps delivering
nudges while the person thinks, and those are printed as they arrive, followed by the prompt
again. A daemon thread (not ``asyncio.to_thread``) because a thread blocked in ``input()`` would
keep Ctrl-C from exiting until Enter is pressed: the default executor is joined at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sys
import threading
from pathlib import Path

from adapters.console.session import open_console
from bot.clock import OffsetClock
from bot.config import Settings

log = logging.getLogger(__name__)

BANNER = """mentorbot console: the same bot as on Slack or Discord, in your terminal.
Type `help` for bot commands, /help for console commands (/as, /time, /inbox, /who), /quit to leave.
"""


def _read_line(prompt: str) -> str | None:
    """One line from stdin (None at end of input); runs in a worker thread."""
    if sys.stdin.isatty():
        try:
            return input(prompt)
        except EOFError:
            return None
    sys.stdout.write(prompt)
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        return None
    if not sys.stdin.isatty():
        sys.stdout.write(line if line.endswith("\n") else line + "\n")  # echo piped input
    return line


class LineReader:
    """Reads stdin in a daemon thread, one line per :meth:`read` (None at end of input)."""

    def __init__(self) -> None:
        self._prompts: queue.Queue[str] = queue.Queue()
        self._loop = asyncio.get_running_loop()
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        threading.Thread(target=self._work, name="stdin", daemon=True).start()

    def _work(self) -> None:
        while True:
            prompt = self._prompts.get()
            try:
                line = _read_line(prompt)
            except (OSError, ValueError):
                line = None
            self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
            if line is None:
                return

    async def read(self, prompt: str) -> str | None:
        self._prompts.put(prompt)
        return await self._lines.get()


async def run_console(settings: Settings, db_path: Path) -> int:
    """Serve the console on stdin/stdout until /quit, Ctrl-D or Ctrl-C; return the exit code."""
    clock = OffsetClock()
    db_url = f"sqlite+aiosqlite:///{db_path}"
    async with open_console(
        db_url, clock, seed=True, settings=settings, start_scheduler=True
    ) as session:
        def live(text: str) -> None:
            sys.stdout.write("\n" + text + "\n" + session.prompt())
            sys.stdout.flush()

        session.live_output = live
        print(BANNER)
        print(f"Demo community in {db_path}. /who shows who's who.")
        reader = LineReader()
        while not session.finished:
            line = await reader.read(session.prompt())
            if line is None:
                print()
                break
            out = await session.feed(line)
            if out:
                print(out)
        session.live_output = None
    return 0
