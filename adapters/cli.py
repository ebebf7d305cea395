"""The ``mentorbot`` command: read the configuration, pick the adapter, run until stopped.

Configuration problems end with one line on stderr and exit code 2 (never a stack trace, never
a token). Without platform tokens the console runs, over a local SQLite file seeded with a demo
community.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings

log = logging.getLogger(__name__)

DEFAULT_DB = Path("mentorbot-console.db")
PLATFORM_TOKENS = ("MENTORBOT_SLACK_BOT_TOKEN", "MENTORBOT_DISCORD_TOKEN")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mentorbot",
        description="A mentorship bot for community groups. Without platform tokens it starts "
        "a local console with a demo community.",
    )
    parser.add_argument("--config", type=Path, default=None,
                        help="TOML config file (default: ./config.toml if present)")
    parser.add_argument("--db", type=Path, default=DEFAULT_DB,
                        help=f"console SQLite file (default: {DEFAULT_DB})")
    parser.add_argument("--fresh", action="store_true",
                        help="delete the console database and seed the demo again")
    parser.add_argument("--log-level", default=None,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log level (console default: WARNING, to keep the screen clean)")
    return parser.parse_args(argv)


def config_path(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    local = Path("config.toml")
    return local if local.is_file() else None


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def fail(message: str) -> int:
    print(f"mentorbot: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings: Settings = load_settings(config_path(args.config))
    except ConfigError as err:
        return _exit(fail(f"configuration error: {err}"))
    wanted = [name for name in PLATFORM_TOKENS if os.environ.get(name)]
    if wanted:
        return _exit(fail(
            f"{wanted[0]} is set, but the Slack and Discord adapters are not part of this "
            "version yet (they are coming next). Unset it to use the console."
        ))
    setup_logging(args.log_level or "WARNING")
    if args.fresh:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{args.db}{suffix}").unlink(missing_ok=True)
    from adapters.console.app import run_console

    try:
        code = asyncio.run(run_console(settings, args.db))
    except KeyboardInterrupt:
        print("\nBye!")
        code = 0
    except BrokenPipeError:  # output piped into `head` and closed: nothing left to say
        sys.stderr.close()
        code = 0
    return _exit(code)


def _exit(code: int) -> int:
    if __name__ == "__main__":
        raise SystemExit(code)
    return code


if __name__ == "__main__":
    main()
