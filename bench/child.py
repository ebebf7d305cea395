"""Run one measurement in a fresh Python process and hand its figures back as JSON.

Why a process per measurement: each contender starts from the same interpreter state, with
nothing warmed, collected or frozen by the one before (``NudgeScheduler.start`` calls
``gc.freeze()``, which is process-wide; SQLAlchemy and APScheduler keep caches). Imports are
done before any timer starts.

    python -m bench.child '<json task>'   # prints the result as the last line of stdout

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
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


class ChildFailed(RuntimeError):
    pass


def run_child(run: str, timeout: float = 1800, **args: Any) -> dict[str, Any]:
    """Run ``run`` (``module:function``) in a fresh process and return what it returned."""
    task = json.dumps({"run": run, "args": args})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.child", task], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=timeout, check=False,
    )
    if done.returncode != 0:
        raise ChildFailed(f"{run} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if not lines:
        raise ChildFailed(f"{run} printed nothing:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result.setdefault("process_seconds", time.perf_counter() - began)
    return result


def main() -> None:
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints where a stuck child is
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    task = json.loads(sys.argv[1])
    module_name, _, function_name = task["run"].partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    result = asyncio.run(function(**task["args"]))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
