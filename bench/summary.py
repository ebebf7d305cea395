"""Medians and spread of several runs of a benchmark (their ``--json`` files).

    python -m bench.summary run1.json run2.json run3.json [--match s1.real]

Prints one line per figure: the median, then every run's value (min … max), so a quoted
median always comes with how much the runs disagreed on this shared, noisy machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
from pathlib import Path

log = logging.getLogger(__name__)


def load(paths: list[str]) -> list[dict[str, float]]:
    return [json.loads(Path(p).read_text()) for p in paths]


def lines(runs: list[dict[str, float]], match: str = "") -> list[str]:
    keys = sorted({k for run in runs for k in run if match in k})
    out = []
    for key in keys:
        values = [run[key] for run in runs if key in run and run[key] == run[key]]
        if not values:
            continue
        spread = " / ".join(_fmt(v) for v in values)
        out.append(f"{key:55} median {_fmt(statistics.median(values)):>10}   runs {spread}")
    return out


def _fmt(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--match", default="", help="only figures whose key contains this")
    args = parser.parse_args()
    for line in lines(load(args.files), args.match):
        print(line)


if __name__ == "__main__":
    main()
