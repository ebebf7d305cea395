"""The database schema as SQLAlchemy Core tables, the same on SQLite and PostgreSQL.

Every row carries ``community_id`` so that two communities in one database never see each
other's data. Times are stored as UTC (see :class:`UTCDateTime`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)


class UTCDateTime(TypeDecorator[datetime]):
    """Accepts only aware datetimes, stores UTC, returns aware UTC datetimes on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; times must be aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

communities = Table(
    "communities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("external_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("settings_json", Text, nullable=False, default="{}"),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("platform", "external_id", name="uq_communities_platform_external"),
)

members = Table(
    "members",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("platform_user_id", String(64), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("timezone", String(64), nullable=True),
    Column("quiet_hours", String(16), nullable=True),
    Column("followups_paused_until", UTCDateTime, nullable=True),
    Column("followups_off", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("timezone_asked_at", UTCDateTime, nullable=True),
    Column("timezone_source", String(16), nullable=True),
    UniqueConstraint("community_id", "platform_user_id", name="uq_members_community_user"),
)

mentor_profiles = Table(
    "mentor_profiles",
    metadata,
    Column("member_id", Integer, ForeignKey("members.id"), primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False, index=True),
    Column("bio", Text, nullable=False),
    Column("session_lengths", String(64), nullable=False),
    Column("availability_timezone", String(64), nullable=False),
    Column("max_mentees", Integer, nullable=False),
    Column("max_sessions_per_month", Integer, nullable=False),
    Column("paused_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

mentor_topics = Table(
    "mentor_topics",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("member_id", Integer, ForeignKey("mentor_profiles.member_id"), nullable=False),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("topic", String(80), nullable=False),
    Index("ix_mentor_topics_community", "community_id", "member_id"),
)

availability_windows = Table(
    "availability_windows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("member_id", Integer, ForeignKey("mentor_profiles.member_id"), nullable=False),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("weekday", Integer, nullable=False),
    Column("start_minute", Integer, nullable=False),
    Column("end_minute", Integer, nullable=False),
    Index("ix_availability_windows_member", "member_id"),
)

intro_requests = Table(
    "intro_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("member_id", Integer, ForeignKey("members.id"), nullable=False),
    Column("mentor_id", Integer, ForeignKey("members.id"), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("context", Text, nullable=False),
    Column("state", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("answered_at", UTCDateTime, nullable=True),
    Column("answer_note", Text, nullable=True),
    Column("space_ref", String(64), nullable=True),
    Index("ix_intro_requests_member", "community_id", "member_id", "state"),
    Index("ix_intro_requests_mentor", "community_id", "mentor_id", "state"),
)

intro_notes = Table(
    "intro_notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("intro_id", Integer, ForeignKey("intro_requests.id"), nullable=False, index=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("author_id", Integer, ForeignKey("members.id"), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

waitlist = Table(
    "waitlist",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("member_id", Integer, ForeignKey("members.id"), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("notified_at", UTCDateTime, nullable=True),
    Column("intro_id", Integer, ForeignKey("intro_requests.id"), nullable=True),
    Column("closed_reason", String(40), nullable=True),
    Index("ix_waitlist_open", "community_id", "notified_at"),
)

nudges = Table(
    "nudges",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("recipient_id", Integer, ForeignKey("members.id"), nullable=True),
    Column("channel", String(64), nullable=True),
    Column("intro_id", Integer, ForeignKey("intro_requests.id"), nullable=True),
    Column("session_id", Integer, nullable=True),
    Column("payload", Text, nullable=False, default="{}"),
    Column("due_at", UTCDateTime, nullable=False),
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("claim_token", String(40), nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("delivery_ref", String(120), nullable=True),
    Column("outcome", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # The community's platform, copied here so that a process serving one platform claims
    # only its nudges, without a join.
    Column("platform", String(16), nullable=False),
    # The worker (workers.id) holding the claim: a gone worker's claims are taken over at once.
    Column("claimed_by", String(120), nullable=True),
    # dm, channel or space once sent: DM budgets count the dm ones.
    Column("delivered_via", String(12), nullable=True),
    # Claiming all platforms and next_due(): equality on state, range and order on due_at.
    Index("ix_nudges_due", "state", "due_at"),
    # Claiming one platform: equality on (state, platform), then due_at and id in the claim's
    # order. SQLite appends the rowid (= id) to every index anyway; PostgreSQL needs id spelled
    # out to return ties in id order without a sort.
    Index("ix_nudges_claim", "state", "platform", "due_at", "id"),
    Index("ix_nudges_intro", "intro_id"),
    Index("ix_nudges_session", "session_id"),
    # DM budgets (dms_sent): equality columns first, the time window last, so counting the DMs
    # of the last hour (community) or day (member) reads only that window of the index. No
    # ``state`` in them: a claim changes the state of every row it takes, and it should not
    # have to move entries in these too (the window's few rows are checked in the table).
    Index("ix_nudges_dm_community", "community_id", "delivered_via", "sent_at"),
    Index("ix_nudges_dm_recipient", "recipient_id", "delivered_via", "sent_at"),
)

session_series = Table(
    "session_series",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("intro_id", Integer, ForeignKey("intro_requests.id"), nullable=False),
    Column("frequency", String(12), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("sequence", Integer, nullable=False, default=0),
    Column("until_at", UTCDateTime, nullable=True),
    Column("count", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("intro_id", Integer, ForeignKey("intro_requests.id"), nullable=False),
    Column("mentor_id", Integer, ForeignKey("members.id"), nullable=False),
    Column("member_id", Integer, ForeignKey("members.id"), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("agenda", Text, nullable=True),
    Column("start_at", UTCDateTime, nullable=True),
    Column("original_start_at", UTCDateTime, nullable=True),
    Column("duration_minutes", Integer, nullable=False),
    Column("state", String(12), nullable=False),
    Column("proposed_by", Integer, ForeignKey("members.id"), nullable=False),
    Column("series_id", Integer, ForeignKey("session_series.id"), nullable=True),
    Column("sequence", Integer, nullable=False, default=0),
    Column("cancel_reason", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_sessions_mentor", "community_id", "mentor_id", "start_at"),
    Index("ix_sessions_member", "community_id", "member_id", "start_at"),
)

session_slots = Table(
    "session_slots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, ForeignKey("sessions.id"), nullable=False, index=True),
    Column("start_at", UTCDateTime, nullable=False),
)

# -- after sessions (the nudge ladder's follow-ups) --------------------------------------------

session_attendance = Table(
    "session_attendance",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("session_id", Integer, ForeignKey("sessions.id"), nullable=False),
    Column("member_id", Integer, ForeignKey("members.id"), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("answer", String(12), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("session_id", "member_id", "sequence", name="uq_session_attendance_answer"),
    Index("ix_session_attendance_community", "community_id", "answer"),
)

session_feedback = Table(
    "session_feedback",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("session_id", Integer, ForeignKey("sessions.id"), nullable=False),
    Column("author_id", Integer, ForeignKey("members.id"), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("rating", Integer, nullable=True),
    Column("text", Text, nullable=True),
    Column("public", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_session_feedback_session", "session_id", "author_id", "kind"),
    Index("ix_session_feedback_community", "community_id", "kind"),
)

# -- processes and buttons --------------------------------------------------------------------

workers = Table(
    "workers",
    metadata,
    Column("id", String(120), primary_key=True),
    Column("platform", String(16), nullable=True),
    Column("host", String(100), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
)

command_stash = Table(
    "command_stash",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("command", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# -- platform events and this installation --------------------------------------------------------

seen_events = Table(
    "seen_events",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("event_id", String(120), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
    Index("ix_seen_events_seen_at", "seen_at"),
)

installation = Table(
    "installation",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)

# -- mentorships: goals, check-ins, notes ----------------------------------------------------------

mentorships = Table(
    "mentorships",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("intro_id", Integer, ForeignKey("intro_requests.id"), nullable=False, unique=True),
    Column("mentor_id", Integer, ForeignKey("members.id"), nullable=False),
    Column("mentee_id", Integer, ForeignKey("members.id"), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("state", String(12), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("end_reason", Text, nullable=True),
    Column("paused_until", UTCDateTime, nullable=True),
    Column("rhythm", String(16), nullable=True),
    Column("rhythm_paused", Boolean, nullable=False, default=False),
    Column("session_minutes", Integer, nullable=True),
    Column("meeting", Text, nullable=True),
    Column("feedback_style", Text, nullable=True),
    Column("stalled_at", UTCDateTime, nullable=True),
    Index("ix_mentorships_mentor", "community_id", "mentor_id", "state"),
    Index("ix_mentorships_mentee", "community_id", "mentee_id", "state"),
)

goals = Table(
    "goals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mentorship_id", Integer, ForeignKey("mentorships.id"), nullable=False, index=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("text", Text, nullable=False),
    Column("state", String(12), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
    Index("ix_goals_community_done", "community_id", "state", "done_at"),
)

progress_entries = Table(
    "progress_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mentorship_id", Integer, ForeignKey("mentorships.id"), nullable=False, index=True),
    Column("community_id", Integer, ForeignKey("communities.id"), nullable=False),
    Column("author_id", Integer, ForeignKey("members.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("text", Text, nullable=False),
    Column("goal_id", Integer, ForeignKey("goals.id"), nullable=True),
    Column("status", String(12), nullable=True),
    Column("session_id", Integer, ForeignKey("sessions.id"), nullable=True),
    Column("answers_id", Integer, ForeignKey("progress_entries.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)
