"""The `mentorbot` command as a person runs it: real processes, real files, no mocks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("variable", ["MENTORBOT_DISCORD_TOKEN"])
def test_platform_token_not_supported_yet(tmp_path: Path, variable: str) -> None:
    result = run(["--db", "x.db"], tmp_path, **{variable: MARKER})
    assert result.returncode == 2
    assert variable in result.stderr and "coming next" in result.stderr
    assert MARKER not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


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
