"""config.example.toml stays equal to the defaults, and bad configs are refused by key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("MENTORBOT_"):
            monkeypatch.delenv(name)


def test_example_equals_defaults() -> None:
    assert load_settings(EXAMPLE).model_dump() == Settings().model_dump()


def test_example_documents_every_key() -> None:
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    text = EXAMPLE.read_text(encoding="utf-8")
    defaults = Settings()
    for section in ("community", "storage", "nudges"):
        model = getattr(defaults, section)
        assert set(raw[section]) == set(type(model).model_fields), section
    assert raw["log_level"] == defaults.log_level
    for token in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN"):
        assert f"MENTORBOT_{token}" in text
        assert token.lower() not in raw


def test_changed_example_is_seen(tmp_path: Path) -> None:
    """The equality test above can fail: a changed value makes a different Settings."""
    changed = tmp_path / "c.toml"
    changed.write_text(EXAMPLE.read_text().replace("request_limit = 3", "request_limit = 4"))
    assert load_settings(changed).model_dump() != Settings().model_dump()
    assert load_settings(changed).community.request_limit == 4


def test_env_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTORBOT_COMMUNITY__REQUEST_LIMIT", "5")
    assert load_settings(EXAMPLE).community.request_limit == 5


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('[community]\nrequest_limit = "lots"\n', "community.request_limit"),
        ("[community]\nflavour = 1\n", "community.flavour"),
        ('slack_bot_token = "xoxb-1"\n', "slack_bot_token"),
        ('[community]\ndefault_timezone = "Mars/Olympus"\n', "community.default_timezone"),
        ('log_level = "LOUD"\n', "log_level"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, content: str, named: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert named in str(err.value)
