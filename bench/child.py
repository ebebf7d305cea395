"""Run one measurement in a fresh Python process and hand its figures back as JSON.

Why a process per measurement: each contender starts from the same interpreter state, with
nothing warmed, collected or frozen by the one before (``NudgeScheduler.start`` calls
``gc.freeze()``, which is process-wide; SQLAlchemy and APScheduler keep caches). Imports are
done before any timer starts.

    python -m bench.child '<json task>'   # prints the result as one JSON line on stdout

A task is ``{"run": "<module>:<function>", "args": {...}}``; the function is a coroutine
function taking the args as keywords and returning a JSON-able dict.
"""

from __future__ import annotations

import asyncio
import faulthandler
import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


class ChildFailed(RuntimeError):
    pass


def run_child(run: str, exit_grace: float = 60, **args: Any) -> dict[str, Any]:
    """Run ``run`` (``module:function``) in a fresh process and return what it returned.

    The child prints its figures as soon as the function returns. If it then does not exit
    within ``exit_grace`` seconds (a shutdown that hangs: seen twice in about thirty real-
    renderer runs on a loaded machine, never reproduced on demand), it is killed, its asyncio
    tasks are dumped to ``$TMPDIR/bench-child-<pid>.tasks`` first, and the figures are kept
    with ``hung_at_exit`` set: the measurement itself was complete.
    """
    task = json.dumps({"run": run, "args": args})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    began = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.child", task], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=errors, text=True,
        )
        assert child.stdout is not None
        result: dict[str, Any] | None = None
        for line in child.stdout:
            if line.startswith("{"):
                result = json.loads(line)
                break
        took = time.perf_counter() - began
        try:
            code = child.wait(timeout=exit_grace)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGUSR2)
            time.sleep(1)
            child.kill()
            code = child.wait()
            log.warning("%s (pid %d) did not exit after its figures; killed; its tasks are in "
                        "%s", run, child.pid,
                        Path(tempfile.gettempdir()) / f"bench-child-{child.pid}.tasks")
            if result is not None:
                result["hung_at_exit"] = True
        child.stdout.close()
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    if result is None or (code != 0 and not result.get("hung_at_exit")):
        raise ChildFailed(f"{run} failed ({code}):\n{stderr[-4000:]}")
    result.setdefault("process_seconds", took)
    return result


def _dump_tasks() -> None:
    """Every asyncio task's stack, to a file named after this process (for a stuck child)."""
    path = Path(tempfile.gettempdir()) / f"bench-child-{os.getpid()}.tasks"
    with path.open("w") as out:
        for task in asyncio.all_tasks():
            out.write(f"--- {task!r}\n")
            task.print_stack(file=out)


async def _measure(function: Any, args: dict[str, Any]) -> dict[str, Any]:
    # `kill -USR1 <pid>` prints the threads' stacks, `kill -USR2 <pid>` the asyncio tasks'.
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, _dump_tasks)
    result: dict[str, Any] = await function(**args)
    sys.stdout.write(json.dumps(result) + "\n")  # now: the parent need not wait for teardown
    sys.stdout.flush()
    return result


def main() -> None:
    faulthandler.register(signal.SIGUSR1)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    task = json.loads(sys.argv[1])
    module_name, _, function_name = task["run"].partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    asyncio.run(_measure(function, task["args"]))


if __name__ == "__main__":
    main()
