"""Reading a cProfile of a measurement: where the event loop's thread spends its time.

cProfile sees only the thread it runs in, the event loop's. aiosqlite runs SQLite in a thread
of its own, so the database's work shows up here as the loop waiting (``epoll.poll``), and the
rest is Python on the loop: ours (``bot/``, ``storage/``), SQLAlchemy, aiosqlite's hand-off,
asyncio itself. Shares are of the profiled wall time (the sum of every function's own time).
"""

from __future__ import annotations

import logging
import pstats
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: How a function's file is grouped, first match wins.
AREAS = (
    ("waiting (epoll: database thread, timers)", ("select.epoll", "{method 'poll'")),
    ("mentorbot bot/", ("/bot/",)),
    ("mentorbot storage/", ("/storage/",)),
    ("benchmark", ("/bench/", "/tests/")),
    ("SQLAlchemy", ("/sqlalchemy/",)),
    ("aiosqlite", ("/aiosqlite/",)),
    ("asyncpg", ("/asyncpg/",)),
    ("APScheduler", ("/apscheduler/",)),
    ("pydantic", ("/pydantic",)),
    ("asyncio", ("/asyncio/",)),
    ("json", ("/json/", "_json")),
)


@dataclass(frozen=True)
class Line:
    where: str
    seconds: float
    share: float


def _area(filename: str, name: str) -> str:
    label = f"{filename} {name}"
    for area, marks in AREAS:
        if any(mark in label for mark in marks):
            return area
    return "other (stdlib, builtins)"


def _short(filename: str, line: int, name: str) -> str:
    for root in ("/bot/", "/storage/", "/bench/", "/sqlalchemy/", "/aiosqlite/", "/asyncio/"):
        if root in filename:
            return f"{root.strip('/')}/{filename.split(root, 1)[1]}:{name}"
    return f"{Path(filename).name}:{name}" if filename != "~" else name


def summarize(path: str, top: int = 12) -> tuple[float, list[Line], list[Line], list[Line]]:
    """(wall seconds, shares by area, our functions by own time, our functions by cumulative
    time)."""
    stats = pstats.Stats(path)
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values()) or 1.0
    areas: dict[str, float] = defaultdict(float)
    own: list[Line] = []
    cumulative: list[Line] = []
    for (filename, line, name), (_cc, _nc, tottime, cumtime, _callers) in raw.items():
        areas[_area(filename, name)] += tottime
        if "/bot/" in filename or "/storage/" in filename:
            where = _short(filename, line, name)
            own.append(Line(where, tottime, tottime / total))
            cumulative.append(Line(where, cumtime, cumtime / total))
    by_area = sorted((Line(a, s, s / total) for a, s in areas.items()), key=lambda x: -x.seconds)
    own.sort(key=lambda x: -x.seconds)
    cumulative.sort(key=lambda x: -x.seconds)
    return total, by_area, own[:top], cumulative[:top]


def report(title: str, path: str, top: int = 12, *, cumulative: bool = False) -> str:
    """The profile in a few lines. ``cumulative`` only for one flow of work at a time: cProfile
    charges a suspended coroutine's callees to it, so with many commands in flight the
    cumulative figures add up to many times the wall time and say nothing."""
    total, areas, own, inclusive = summarize(path, top)
    lines = [f"### profile: {title} ({total:.2f} s profiled on the event loop's thread)"]
    lines.append("by area:")
    lines += [f"  {x.share:6.1%}  {x.seconds:7.2f} s  {x.where}" for x in areas if x.share > 0.005]
    lines.append("mentorbot functions by own time:")
    lines += [f"  {x.share:6.1%}  {x.seconds:7.2f} s  {x.where}" for x in own]
    if cumulative:
        lines.append("mentorbot functions by cumulative time (includes what they call):")
        lines += [f"  {x.share:6.1%}  {x.seconds:7.2f} s  {x.where}" for x in inclusive]
    return "\n".join(lines)
