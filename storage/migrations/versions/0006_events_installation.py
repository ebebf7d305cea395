"""platform events processed once (Slack retries, several instances); this installation's
identity (calendar invite UIDs that never collide with another install's)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('seen_events',
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('event_id', sa.String(length=120), nullable=False),
    sa.Column('seen_at', storage.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('platform', 'event_id', name=op.f('pk_seen_events'))
    )
    with op.batch_alter_table('seen_events', schema=None) as batch_op:
        batch_op.create_index('ix_seen_events_seen_at', ['seen_at'], unique=False)

    installation = op.create_table('installation',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_installation'))
    )
    # A random identity per database, made once: copied along with the data when moving to
    # another database, so invites keep their UIDs for a session's whole life.
    op.bulk_insert(installation, [{'key': 'id', 'value': uuid.uuid4().hex[:16]}])


def downgrade() -> None:
    op.drop_table('installation')
    with op.batch_alter_table('seen_events', schema=None) as batch_op:
        batch_op.drop_index('ix_seen_events_seen_at')
    op.drop_table('seen_events')
