"""Configuration: a TOML file for settings, the environment for overrides and secrets.

Why pydantic-settings: it reads TOML and ``MENTORBOT_...`` variables with one typed model, and its
validation errors name the key, which we turn into a one-line message and exit code 2.
Tokens are read from the environment only; a token written into the TOML file is refused so it
never ends up in a repository, and ``SecretStr`` keeps it out of reprs and logs.
"""

from __future__ import annotations

import logging
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

log = logging.getLogger(__name__)

TOKEN_KEYS = frozenset(
    {"slack_bot_token", "slack_app_token", "slack_signing_secret", "discord_token"}
)
QUIET_HOURS = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


def validate_timezone(name: str) -> str:
    """The canonical IANA zone ``name`` spells (any case); ValueError naming a close match."""
    from bot.errors import UserError
    from bot.zones import canonical_zone

    try:
        return canonical_zone(name)
    except UserError as err:
        raise ValueError(f"{err.message} {err.hint}".strip()) from None


class CommunityDefaults(BaseModel):
    """Per-community settings. These are the defaults; organizers override them per community."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_timezone: str = "UTC"
    request_limit: int = Field(3, ge=1, le=20)
    intros_channel: str = ""
    mentors_channel: str = ""
    announce_requests: bool = False
    organizer_channel: str = ""
    organizer_group: str = ""
    synonyms: dict[str, str] = Field(
        default_factory=lambda: {
            "js": "javascript",
            "ts": "typescript",
            "py": "python",
            "ml": "machine learning",
            "ai": "artificial intelligence",
            "k8s": "kubernetes",
            "ux": "user experience",
            "career": "career growth",
        }
    )
    min_notice_hours: int = Field(24, ge=0, le=24 * 30)
    quiet_hours: str = "22:00-08:00"
    request_nudge_hours: int = Field(48, ge=1, le=24 * 30)
    request_release_hours: int = Field(72, ge=1, le=24 * 60)
    agenda_reminder_hours: int = Field(48, ge=1, le=24 * 30)
    mentor_reminder_hours: int = Field(24, ge=1, le=24 * 30)
    both_reminder_minutes: int = Field(60, ge=5, le=24 * 60)
    followup_days: int = Field(7, ge=1, le=90)
    outcome_days: int = Field(30, ge=1, le=365)
    booking_horizon_months: int = Field(12, ge=1, le=24)
    mentorship_stall_days: int = Field(60, ge=7, le=365)
    stall_answer_days: int = Field(14, ge=1, le=90)
    feedback_reminder_days: int = Field(3, ge=1, le=30)
    dm_per_member_per_day: int = Field(20, ge=1, le=500)
    dm_per_community_per_hour: int = Field(300, ge=1, le=100_000)

    @property
    def booking_horizon(self) -> timedelta:
        """How far ahead sessions, series and proposals may be booked (a month = 30 days)."""
        return timedelta(days=30 * self.booking_horizon_months)

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return validate_timezone(value)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        if value and not QUIET_HOURS.match(value):
            raise ValueError("use HH:MM-HH:MM, e.g. 22:00-08:00, or an empty string for none")
        start, _, end = value.partition("-")
        if value and start == end:
            raise ValueError(f"{value} starts and ends at the same time; use off for none")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CommunityDefaults:
        """Settings that contradict each other are refused, with the reason."""
        if self.request_release_hours <= self.request_nudge_hours:
            raise ValueError(
                f"request_release_hours ({self.request_release_hours}) must be more than "
                f"request_nudge_hours ({self.request_nudge_hours}): the mentor is nudged "
                "first, and the request released later"
            )
        if self.min_notice_hours:
            if self.mentor_reminder_hours > self.min_notice_hours:
                raise ValueError(
                    f"mentor_reminder_hours ({self.mentor_reminder_hours}) is longer than "
                    f"min_notice_hours ({self.min_notice_hours}): a session booked at the "
                    "last moment would never get its mentor reminder"
                )
            if self.both_reminder_minutes > self.min_notice_hours * 60:
                raise ValueError(
                    f"both_reminder_minutes ({self.both_reminder_minutes}) is longer than "
                    f"min_notice_hours ({self.min_notice_hours} h): a session booked at the "
                    "last moment would never get its reminder"
                )
        return self

    @field_validator("synonyms")
    @classmethod
    def _synonyms(cls, value: dict[str, str]) -> dict[str, str]:
        return {k.strip().lower(): v.strip().lower() for k, v in value.items() if k.strip()}


class StorageSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = "sqlite+aiosqlite:///mentorbot.db"
    """SQLAlchemy URL: ``sqlite+aiosqlite:///file.db`` or ``postgresql+asyncpg://...``."""
    busy_timeout_seconds: float = Field(2.0, gt=0, le=60)
    """How long a command waits for the database before answering "busy, try again": well
    inside Slack's and Discord's 3-second deadline."""
    pool_size: int = Field(5, ge=1, le=100)
    """PostgreSQL connections per process (plus as many again in bursts)."""
    statement_timeout_seconds: float = Field(10.0, gt=0, le=600)
    """PostgreSQL: a statement running longer is cancelled (the command answers "busy")."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db")
        return value


class NudgeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sweep_seconds: float = Field(30.0, gt=0, le=3600)
    max_attempts: int = Field(6, ge=1, le=50)
    batch_size: int = Field(500, ge=1, le=10_000)
    claim_timeout_seconds: float = Field(300.0, gt=0)
    heartbeat_seconds: float = Field(5.0, gt=0, le=300)
    """How often a running process records that it is alive."""
    worker_lease_seconds: float = Field(20.0, gt=0, le=3600)
    """A process whose heartbeat is older than this is gone: its claims are taken over."""


class SlackSettings(BaseModel):
    """How the Slack adapter connects. Tokens are not here: they come from the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["socket", "http"] = "socket"
    """Socket Mode needs no public URL (an app-level token); HTTP mode a signing secret."""
    api_base_url: str = "https://slack.com/api/"
    """Web API base; the Socket Mode URL comes from ``apps.connections.open`` at this base."""
    http_host: str = "0.0.0.0"
    http_port: int = Field(3000, ge=1, le=65535)
    http_path: str = "/slack/events"
    organizer_cache_seconds: float = Field(300.0, ge=0, le=86_400)
    """How long who is a workspace admin or in the organizer group is remembered."""

    @field_validator("api_base_url")
    @classmethod
    def _slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"


class DiscordSettings(BaseModel):
    """How the Discord adapter connects. The token comes from the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_base_url: str = "https://discord.com/api/v10"
    gateway_url: str | None = None
    """When unset, it comes from ``GET /gateway/bot`` at ``api_base_url``."""
    dev_guild_ids: tuple[int, ...] = ()
    """Servers whose commands are synced at once at start (others: globally, which is slow)."""
    shard_count: int | None = Field(None, ge=1, le=10_000)
    shard_ids: tuple[int, ...] | None = None
    """The shards this instance connects (the others run elsewhere); None: all of them."""


class Settings(BaseSettings):
    """Everything the bot reads at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="MENTORBOT_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )
    config_file: ClassVar[Path | None] = None

    log_level: str = "INFO"
    community: CommunityDefaults = CommunityDefaults()
    storage: StorageSettings = StorageSettings()
    nudges: NudgeSettings = NudgeSettings()
    slack: SlackSettings = SlackSettings()
    discord: DiscordSettings = DiscordSettings()
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    discord_token: SecretStr | None = None

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.config_file))
        return tuple(sources)

    @property
    def platform(self) -> str:
        """Which adapter these settings ask for: slack, discord or the console."""
        if self.slack_bot_token is not None:
            return "slack"
        if self.discord_token is not None:
            return "discord"
        return "console"


class ConfigError(Exception):
    """A configuration problem, phrased for a person: which key, and what is wrong."""


def load_settings(path: Path | None, **overrides: Any) -> Settings:
    """Read settings from ``path`` (if given) and the environment; raise ConfigError if bad."""
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        leaked = sorted(TOKEN_KEYS.intersection(raw))
        if leaked:
            raise ConfigError(
                f"{leaked[0]}: tokens are read from the environment only "
                f"(MENTORBOT_{leaked[0].upper()}); remove it from {path}"
            )
    settings_cls: type[Settings] = type("FileSettings", (Settings,), {"config_file": path})
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: the dotted key and pydantic's reason, never the offending value."""
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        key = ".".join(str(p) for p in err["loc"]) or "settings"
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = "unknown key (see config.example.toml for the keys there are)"
        lines.append(f"{key}: {reason}")
    return "; ".join(lines)
