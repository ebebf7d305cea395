"""after sessions: attendance answers ("did it happen?") and feedback (thanks, ratings)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 18:55:59.467935
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('session_attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('answer', sa.String(length=12), nullable=False),
    sa.Column('created_at', storage.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_session_attendance_community_id_communities')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_session_attendance_member_id_members')),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_session_attendance_session_id_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_attendance')),
    sa.UniqueConstraint('session_id', 'member_id', 'sequence', name='uq_session_attendance_answer')
    )
    with op.batch_alter_table('session_attendance', schema=None) as batch_op:
        batch_op.create_index('ix_session_attendance_community', ['community_id', 'answer'], unique=False)

    op.create_table('session_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['members.id'], name=op.f('fk_session_feedback_author_id_members')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_session_feedback_community_id_communities')),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_session_feedback_session_id_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_feedback'))
    )
    with op.batch_alter_table('session_feedback', schema=None) as batch_op:
        batch_op.create_index('ix_session_feedback_community', ['community_id', 'kind'], unique=False)
        batch_op.create_index('ix_session_feedback_session', ['session_id', 'author_id', 'kind'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('session_feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_session_feedback_session')
        batch_op.drop_index('ix_session_feedback_community')

    op.drop_table('session_feedback')
    with op.batch_alter_table('session_attendance', schema=None) as batch_op:
        batch_op.drop_index('ix_session_attendance_community')

    op.drop_table('session_attendance')
