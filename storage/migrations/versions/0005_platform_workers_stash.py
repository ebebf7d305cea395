"""platforms and processes: nudges know their platform, claim owner and delivery route;
workers (heartbeats); stashed button commands; members' timezone source

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

members = sa.table('members', sa.column('timezone'), sa.column('timezone_source'))
nudges = sa.table('nudges', sa.column('community_id'), sa.column('platform'))
communities = sa.table('communities', sa.column('id'), sa.column('platform'))


def upgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone_source', sa.String(length=16), nullable=True))
    # Until now the console was the only platform, so every zone on record was typed by hand.
    op.execute(
        members.update().where(members.c.timezone.is_not(None)).values(timezone_source='manual')
    )

    op.create_table('workers',
    sa.Column('id', sa.String(length=120), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=True),
    sa.Column('host', sa.String(length=100), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', storage.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', storage.schema.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workers'))
    )
    op.create_table('command_stash',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('command', sa.Text(), nullable=False),
    sa.Column('created_at', storage.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_command_stash_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_command_stash'))
    )

    with op.batch_alter_table('nudges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('delivered_via', sa.String(length=12), nullable=True))
    op.execute(
        nudges.update().values(
            platform=sa.select(communities.c.platform)
            .where(communities.c.id == nudges.c.community_id)
            .scalar_subquery()
        )
    )
    with op.batch_alter_table('nudges', schema=None) as batch_op:
        batch_op.alter_column('platform', existing_type=sa.String(length=16), nullable=False)
        batch_op.create_index('ix_nudges_claim', ['state', 'platform', 'due_at', 'id'], unique=False)
        batch_op.create_index('ix_nudges_dm_community', ['community_id', 'delivered_via', 'sent_at'], unique=False)
        batch_op.create_index('ix_nudges_dm_recipient', ['recipient_id', 'delivered_via', 'sent_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('nudges', schema=None) as batch_op:
        batch_op.drop_index('ix_nudges_dm_recipient')
        batch_op.drop_index('ix_nudges_dm_community')
        batch_op.drop_index('ix_nudges_claim')
        batch_op.drop_column('delivered_via')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('platform')

    op.drop_table('command_stash')
    op.drop_table('workers')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('timezone_source')
