"""The `mentorbot` command as a person runs it: real processes, real files, no mocks."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import StorageSettings
from storage.db import create_engine, migrate
from tests.standins.discord import GUILD_ID, TOKEN, DiscordStandIn, running_discord
from tests.standins.slack import running_slack

MARKER = "xoxb-SECRET-MARKER-4242"
SCRIPT = Path(sys.executable).parent / "mentorbot"


def run(
    args: list[str], cwd: Path, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MENTORBOT_")}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *args],
        cwd=cwd, env=clean, text=True, capture_output=True, timeout=60,
        input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('[community]\nrequest_limit = "lots"\n', "community.request_limit"),
        ("[community]\nflavour = 1\n", "community.flavour"),
        (f'slack_bot_token = "{MARKER}"\n', "slack_bot_token"),
        ('[community]\ndefault_timezone = "Mars/Olympus"\n', "community.default_timezone"),
        ("this is = not toml [", "not valid TOML"),
    ],
)
def test_bad_config_exits_2_naming_the_key(tmp_path: Path, content: str, named: str) -> None:
    (tmp_path / "bad.toml").write_text(content)
    result = run(["--config", "bad.toml", "--db", "x.db"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("mentorbot: configuration error: ")
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert MARKER not in result.stderr + result.stdout
    assert not (tmp_path / "x.db").exists()


def test_local_config_toml_is_read(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[nudges]\nmax_attempts = 0\n")
    result = run(["--db", "x.db"], tmp_path)
    assert result.returncode == 2 and "nudges.max_attempts" in result.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    result = run(["--config", "nope.toml"], tmp_path)
    assert result.returncode == 2 and "does not exist" in result.stderr


DISCORD_TOKEN = "MENTORBOT_DISCORD_TOKEN"


@pytest.mark.parametrize(
    ("args", "token", "problem"),
    [
        (["discord"], None, "is not set"),
        (["discord", "sync"], None, "is not set"),
        (["discord"], MARKER, "does not look like a Discord bot token"),
        ([], MARKER, "does not look like a Discord bot token"),  # chosen: its token is set
    ],
)
def test_discord_token_is_checked_before_anything_starts(
    tmp_path: Path, args: list[str], token: str | None, problem: str
) -> None:
    result = run(args, tmp_path, **({DISCORD_TOKEN: token} if token else {}))
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"mentorbot: {DISCORD_TOKEN} {problem}")
    assert MARKER not in result.stderr + result.stdout
    assert not list(tmp_path.glob("*.db"))  # nothing started


async def run_async(args: list[str], cwd: Path, **env: str) -> asyncio.subprocess.Process:
    """``mentorbot`` as its own process while this test's event loop serves a stand-in."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MENTORBOT_")}
    clean.update(env)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", *args, cwd=cwd, env=clean,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finished(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def point_at(sd: DiscordStandIn, cwd: Path) -> None:
    """All it takes to run against another Discord: two URLs in the config file."""
    database = cwd / "bot.db"
    (cwd / "config.toml").write_text(
        f'[discord]\napi_base_url = "{sd.api_base}"\ngateway_url = "{sd.gateway_url()}"\n'
        f"dev_guild_ids = [{GUILD_ID}]\n\n"
        f'[storage]\nurl = "sqlite+aiosqlite:///{database}"\n'
    )


async def test_discord_in_its_own_process_is_refused_a_wrong_token_and_syncs_with_the_right(
    tmp_path: Path,
) -> None:
    wrong = "MTE4NzQwMDAwMDAwMDAwMDAwMQ.GwrOng.this-token-was-reset-long-ago-000"
    async with running_discord(point_discord_py=False) as sd:
        point_at(sd, tmp_path)
        code, out, err = await finished(
            await run_async(["discord", "sync"], tmp_path, **{DISCORD_TOKEN: wrong}))
        assert code == 2, err
        lines = err.strip().splitlines()  # the log lines of the start, then the one error
        assert lines[-1].startswith("mentorbot: Discord rejected the token in " + DISCORD_TOKEN)
        assert [line for line in lines if line.startswith("mentorbot:")] == [lines[-1]]
        assert "Traceback" not in err and wrong not in err + out
        code, out, err = await finished(
            await run_async(["discord", "sync"], tmp_path, **{DISCORD_TOKEN: TOKEN}))
        assert code == 0, err
        assert out.startswith("Synced /mentor")
        assert {"mentor", "session", "after", "organizer"} <= {
            c["name"] for c in sd.synced_commands(GUILD_ID)}
        assert TOKEN not in err + out


async def test_discord_in_its_own_process_answers_then_stops_on_sigterm(tmp_path: Path) -> None:
    async with running_discord(point_discord_py=False) as sd:
        point_at(sd, tmp_path)
        bot = await run_async(["discord"], tmp_path, **{DISCORD_TOKEN: TOKEN})
        try:
            await sd.wait_until(lambda: bool(sd.gateway.sent("GUILD_CREATE")), 30)
        except BaseException:
            bot.kill()
            raise
        handle = await sd.slash("mentor tz", {"zone": "Europe/Berlin"}, user="alice")
        reply = await handle.reply(timeout=10)
        assert reply.accepted and "Europe/Berlin" in reply.data["content"]
        bot.send_signal(signal.SIGTERM)
        code, _out, err = await finished(bot)
        assert code == 0, err
        assert "Traceback" not in err and TOKEN not in err


APP_MARKER = "xapp-1-A0SECRET-MARKER-4242"


@pytest.mark.parametrize(
    ("args", "config", "env", "named", "problem"),
    [
        (["slack"], "", {}, "MENTORBOT_SLACK_BOT_TOKEN", "is not set"),
        (["slack"], "", {"MENTORBOT_SLACK_BOT_TOKEN": "xoxp-SECRET-MARKER-4242"},
         "MENTORBOT_SLACK_BOT_TOKEN", "is malformed"),
        ([], "", {"MENTORBOT_SLACK_BOT_TOKEN": MARKER},  # chosen because its token is set
         "MENTORBOT_SLACK_APP_TOKEN", "is not set"),
        (["slack"], "", {"MENTORBOT_SLACK_BOT_TOKEN": MARKER,
                         "MENTORBOT_SLACK_APP_TOKEN": "xoxb-SECRET-MARKER-4242"},
         "MENTORBOT_SLACK_APP_TOKEN", "is malformed"),
        (["slack"], '[slack]\nmode = "http"\n',
         {"MENTORBOT_SLACK_BOT_TOKEN": MARKER, "MENTORBOT_SLACK_APP_TOKEN": APP_MARKER},
         "MENTORBOT_SLACK_SIGNING_SECRET", "is not set"),
        (["slack"], '[slack]\nmode = "http"\n',
         {"MENTORBOT_SLACK_BOT_TOKEN": MARKER,
          "MENTORBOT_SLACK_SIGNING_SECRET": "SECRET-MARKER 4242"},
         "MENTORBOT_SLACK_SIGNING_SECRET", "is malformed"),
    ],
)
def test_slack_tokens_are_checked_before_anything_starts(
    tmp_path: Path, args: list[str], config: str, env: dict[str, str], named: str, problem: str
) -> None:
    if config:
        (tmp_path / "config.toml").write_text(config)
    result = run(args, tmp_path, **env)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"mentorbot: {named} {problem}")
    assert "SECRET-MARKER" not in result.stderr + result.stdout
    assert not list(tmp_path.glob("*.db"))  # nothing started


def test_piped_session_with_the_installed_script(tmp_path: Path) -> None:
    assert SCRIPT.exists(), "install the project: pip install -e '.[dev]'"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MENTORBOT_")}
    result = subprocess.run(
        [str(SCRIPT), "--db", str(tmp_path / "tmp.db")], input="help\n/who\n/quit\n",
        text=True, capture_output=True, timeout=60, cwd=tmp_path, env=clean,
    )
    assert result.returncode == 0, result.stderr
    assert "[Demo Community · you are Ada (Europe/Berlin) ·" in result.stdout
    assert "find <topic>" in result.stdout
    assert "Grace" in result.stdout and "Bye!" in result.stdout
    assert "Traceback" not in result.stderr


def test_closed_stdin_exits_cleanly(tmp_path: Path) -> None:
    result = run(["--db", "x.db"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_fresh_deletes_and_reseeds(tmp_path: Path) -> None:
    session = (
        "request Grace topic: python context: I want to learn asyncio and tried the docs already\n"
        "/quit\n"
    )
    first = run(["--db", "c.db"], tmp_path, stdin=session)
    assert "Request #1 sent to @Grace" in first.stdout, first.stdout + first.stderr
    kept = run(["--db", "c.db"], tmp_path, stdin="my\n")
    assert "#1" in kept.stdout
    fresh = run(["--db", "c.db", "--fresh"], tmp_path, stdin="my\n/who\n")
    assert fresh.returncode == 0
    assert "#1" not in fresh.stdout
    assert "Linus" in fresh.stdout  # seeded again


# -- a database that cannot be used at start: one line, exit 2, whatever runs ---------------


async def too_new(database: Path) -> None:
    """A SQLite database a newer mentorbot upgraded (a schema version this one does not know)."""
    engine = create_engine(StorageSettings(url=f"sqlite+aiosqlite:///{database}"))
    try:
        await migrate(engine)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        await engine.dispose()


def test_console_on_a_database_that_cannot_be_opened_exits_2_with_one_line(
    tmp_path: Path,
) -> None:
    result = run(["--db", "missing/console.db", "console"], tmp_path, stdin="help\n")
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("mentorbot: database unavailable: cannot connect to ")
    assert "missing/console.db" in line
    assert "Traceback" not in result.stderr and "mentorbot console" not in result.stdout


def test_console_on_a_schema_newer_than_it_knows_exits_2_with_one_line(tmp_path: Path) -> None:
    asyncio.run(too_new(tmp_path / "newer.db"))
    result = run(["--db", "newer.db"], tmp_path, stdin="help\n")
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("mentorbot: database unavailable: the database schema is at version "
                           "9999, newer than this mentorbot knows")
    assert "Traceback" not in result.stderr


SLACK_BOT = "xoxb-3333333333-CLIMARKER4242"
SLACK_APP = "xapp-1-A0MENTORBT-4444-CLIMARKER4242"


@pytest.mark.parametrize("problem", ["missing", "too new"])
async def test_slack_on_a_database_it_cannot_use_exits_2_with_one_line(
    tmp_path: Path, problem: str
) -> None:
    if problem == "too new":
        database = tmp_path / "newer.db"
        await too_new(database)
        said = "the database schema is at version 9999, newer than this mentorbot knows"
    else:
        database = tmp_path / "missing" / "bot.db"
        said = "cannot connect to "
    async with running_slack(bot_token=SLACK_BOT, app_token=SLACK_APP) as slack:
        code, out, err = await finished(await run_async(
            ["slack"], tmp_path, MENTORBOT_SLACK_BOT_TOKEN=SLACK_BOT,
            MENTORBOT_SLACK_APP_TOKEN=SLACK_APP, MENTORBOT_SLACK__API_BASE_URL=slack.api_url,
            MENTORBOT_STORAGE__URL=f"sqlite+aiosqlite:///{database}",
        ))
        assert slack.socket.connections == [], "nothing served without a database"
    assert code == 2, err
    lines = err.strip().splitlines()  # the log lines of the start, then the one error
    assert lines[-1].startswith(f"mentorbot: database unavailable: {said}"), lines[-1]
    assert [line for line in lines if line.startswith("mentorbot:")] == [lines[-1]]
    assert "Traceback" not in err and "CLIMARKER" not in err + out
