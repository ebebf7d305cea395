"""The ``mentorbot`` command: read the configuration, pick what to run, run it until stopped.

    mentorbot                  Slack if its tokens are set, else Discord if its token is set,
                               else the local console (a demo community in a SQLite file)
    mentorbot console          the console, whatever tokens are set
    mentorbot slack            the Slack adapter (tokens from MENTORBOT_SLACK_*)
    mentorbot discord [sync]   the Discord adapter, or only sync its app commands
    mentorbot db upgrade|check|copy ...   database tasks

Configuration problems end with one line on stderr and exit code 2 (never a stack trace, never
a token); so does a database that cannot be used at start (down, not there, or upgraded by a
newer mentorbot), whatever runs. Each adapter lives in its own package and is imported only
when chosen, so the console never loads a platform SDK.
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
SLACK_TOKENS = ("MENTORBOT_SLACK_BOT_TOKEN",)
DISCORD_TOKENS = ("MENTORBOT_DISCORD_TOKEN",)


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
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.add_parser("console", help="the local console, whatever tokens are set")
    commands.add_parser("slack", help="run on Slack (MENTORBOT_SLACK_* tokens)")
    discord = commands.add_parser("discord", help="run on Discord (MENTORBOT_DISCORD_TOKEN)")
    discord.add_argument("action", nargs="?", choices=["sync"],
                         help="only sync the app commands, then exit")
    db = commands.add_parser("db", help="database tasks")
    db_tasks = db.add_subparsers(dest="db_task", metavar="task", required=True)
    db_tasks.add_parser("upgrade", help="run the migrations")
    db_tasks.add_parser("check", help="print the schema version and row counts")
    copy = db_tasks.add_parser("copy", help="copy everything to another, empty database")
    copy.add_argument("--from", dest="source", required=True, help="database URL to copy")
    copy.add_argument("--to", dest="target", required=True, help="empty database URL")
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


def chosen_command(args: argparse.Namespace) -> str:
    """What to run: the subcommand given, else the platform whose token is set."""
    if args.command:
        return str(args.command)
    if any(os.environ.get(name) for name in SLACK_TOKENS):
        return "slack"
    if any(os.environ.get(name) for name in DISCORD_TOKENS):
        return "discord"
    return "console"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings: Settings = load_settings(config_path(args.config))
    except ConfigError as err:
        return _exit(fail(f"configuration error: {err}"))
    command = chosen_command(args)
    try:
        if command == "console":
            code = _console(args, settings)
        elif command == "slack":
            setup_logging(args.log_level or settings.log_level)
            from adapters.slack.main import run_slack

            code = run_slack(settings)
        elif command == "discord":
            setup_logging(args.log_level or settings.log_level)
            from adapters.discord.main import run_discord

            # ``action`` exists only when ``discord`` was typed: a token alone chose Discord.
            code = run_discord(settings, sync_only=getattr(args, "action", None) == "sync")
        else:
            setup_logging(args.log_level or "WARNING")
            from adapters.database import run_db

            code = run_db(settings, args)
    except KeyboardInterrupt:
        print("\nBye!")
        code = 0
    return _exit(code)


def _console(args: argparse.Namespace, settings: Settings) -> int:
    setup_logging(args.log_level or "WARNING")
    if args.fresh:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{args.db}{suffix}").unlink(missing_ok=True)
    from adapters.console.app import run_console
    from bot.errors import StorageUnavailable

    try:
        return asyncio.run(run_console(settings, args.db))
    except StorageUnavailable as error:  # SchemaTooNew too: as `mentorbot db` says it
        return fail(f"database unavailable: {error}")
    except BrokenPipeError:  # output piped into `head` and closed: nothing left to say
        sys.stderr.close()
        return 0


def _exit(code: int) -> int:
    if __name__ == "__main__":
        raise SystemExit(code)
    return code


if __name__ == "__main__":
    main()
