"""Several bot processes on one database, driven from the benchmark's parent process.

Each instance is a fresh ``python -m bench.child`` running a function that prints ``ready``
once it has opened the store and built its engine, waits for ``go`` on stdin, works until
``stop``, and prints its figures as JSON on its last line. The parent decides when the work
starts (after every instance is ready, so slow imports on a busy machine do not count) and
when it is over (by watching the database).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import tempfile
from contextlib import ExitStack
from typing import IO, Any

from bench.child import ROOT, ChildFailed

log = logging.getLogger(__name__)


class Instances:
    """``count`` processes running ``run`` (``module:function``) with ``args``; with
    ``numbered``, each also gets its number (0, 1, …) as that argument."""

    def __init__(self, run: str, count: int, numbered: str | None = None, **args: Any) -> None:
        self.run = run
        self.count = count
        self.numbered = numbered
        self.args = args
        self.processes: list[asyncio.subprocess.Process] = []
        self._logs: list[IO[bytes]] = []
        self._files = ExitStack()

    async def __aenter__(self) -> Instances:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for i in range(self.count):
            args = {**self.args, **({self.numbered: i} if self.numbered else {})}
            task = json.dumps({"run": self.run, "args": args})
            # stderr to a file, not a pipe: a chatty instance must never block on a full pipe.
            log_file = self._files.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
            self._logs.append(log_file)
            self.processes.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.child", task, cwd=ROOT, env=env,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=log_file, limit=2**26,
            ))
        for i, process in enumerate(self.processes):
            assert process.stdout is not None
            line = (await asyncio.wait_for(process.stdout.readline(), timeout=120)).decode()
            if line.strip() != "ready":
                raise ChildFailed(f"an instance did not start: {line!r}\n{self._stderr(i)}")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
        self._files.close()

    async def say(self, word: str) -> None:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(f"{word}\n".encode())
            await process.stdin.drain()

    async def results(self, timeout: float = 600, exit_grace: float = 60,
                      ) -> list[dict[str, Any]]:
        """Each instance's figures (its JSON line); an instance that then does not exit within
        ``exit_grace`` is killed and its figures marked ``hung_at_exit`` (see
        ``bench.child.run_child``)."""
        out = []
        for i, process in enumerate(self.processes):
            assert process.stdout is not None
            result: dict[str, Any] | None = None
            while result is None:
                line = (await asyncio.wait_for(process.stdout.readline(), timeout)).decode()
                if not line:
                    break
                if line.startswith("{"):
                    result = json.loads(line)
            try:
                code = await asyncio.wait_for(process.wait(), exit_grace)
            except TimeoutError:
                process.send_signal(signal.SIGUSR2)
                await asyncio.sleep(1)
                process.kill()
                code = await process.wait()
                log.warning("instance %d (pid %d) did not exit after its figures; killed",
                            i, process.pid)
                if result is not None:
                    result["hung_at_exit"] = True
            if result is None or (code != 0 and not result.get("hung_at_exit")):
                raise ChildFailed(f"an instance failed ({code}):\n{self._stderr(i)}")
            out.append(result)
        return out

    def _stderr(self, i: int) -> str:
        log_file = self._logs[i]
        log_file.seek(0)
        return log_file.read().decode(errors="replace")[-4000:]
