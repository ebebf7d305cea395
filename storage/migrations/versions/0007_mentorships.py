"""mentorships (from accepted intros), their goals and record of progress; the waitlist
remembers the earlier request and why an entry closed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

intros = sa.table(
    'intro_requests', sa.column('id'), sa.column('community_id'), sa.column('member_id'),
    sa.column('mentor_id'), sa.column('topic'), sa.column('state'), sa.column('answered_at'),
    sa.column('updated_at'),
)


def upgrade() -> None:
    with op.batch_alter_table('waitlist', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intro_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('closed_reason', sa.String(length=40), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_waitlist_intro_id_intro_requests'),
                                    'intro_requests', ['intro_id'], ['id'])

    mentorships = op.create_table('mentorships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('intro_id', sa.Integer(), nullable=False),
    sa.Column('mentor_id', sa.Integer(), nullable=False),
    sa.Column('mentee_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('started_at', storage.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', storage.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.Column('paused_until', storage.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rhythm', sa.String(length=16), nullable=True),
    sa.Column('rhythm_paused', sa.Boolean(), nullable=False),
    sa.Column('session_minutes', sa.Integer(), nullable=True),
    sa.Column('meeting', sa.Text(), nullable=True),
    sa.Column('feedback_style', sa.Text(), nullable=True),
    sa.Column('stalled_at', storage.schema.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_mentorships_community_id_communities')),
    sa.ForeignKeyConstraint(['intro_id'], ['intro_requests.id'], name=op.f('fk_mentorships_intro_id_intro_requests')),
    sa.ForeignKeyConstraint(['mentee_id'], ['members.id'], name=op.f('fk_mentorships_mentee_id_members')),
    sa.ForeignKeyConstraint(['mentor_id'], ['members.id'], name=op.f('fk_mentorships_mentor_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentorships')),
    sa.UniqueConstraint('intro_id', name=op.f('uq_mentorships_intro_id'))
    )
    with op.batch_alter_table('mentorships', schema=None) as batch_op:
        batch_op.create_index('ix_mentorships_mentee', ['community_id', 'mentee_id', 'state'], unique=False)
        batch_op.create_index('ix_mentorships_mentor', ['community_id', 'mentor_id', 'state'], unique=False)

    op.create_table('goals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mentorship_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('created_at', storage.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', storage.schema.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_goals_community_id_communities')),
    sa.ForeignKeyConstraint(['mentorship_id'], ['mentorships.id'], name=op.f('fk_goals_mentorship_id_mentorships')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goals'))
    )
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.create_index('ix_goals_community_done', ['community_id', 'state', 'done_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_goals_mentorship_id'), ['mentorship_id'], unique=False)

    op.create_table('progress_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mentorship_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('goal_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=True),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('answers_id', sa.Integer(), nullable=True),
    sa.Column('created_at', storage.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['answers_id'], ['progress_entries.id'], name=op.f('fk_progress_entries_answers_id_progress_entries')),
    sa.ForeignKeyConstraint(['author_id'], ['members.id'], name=op.f('fk_progress_entries_author_id_members')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_progress_entries_community_id_communities')),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_progress_entries_goal_id_goals')),
    sa.ForeignKeyConstraint(['mentorship_id'], ['mentorships.id'], name=op.f('fk_progress_entries_mentorship_id_mentorships')),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_progress_entries_session_id_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_progress_entries'))
    )
    with op.batch_alter_table('progress_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_progress_entries_mentorship_id'), ['mentorship_id'], unique=False)

    # Every intro accepted so far is a mentorship that has been going on since it was accepted.
    op.execute(
        mentorships.insert().from_select(
            ['community_id', 'intro_id', 'mentor_id', 'mentee_id', 'topic', 'state',
             'started_at', 'updated_at', 'rhythm_paused'],
            sa.select(
                intros.c.community_id, intros.c.id, intros.c.mentor_id, intros.c.member_id,
                intros.c.topic, sa.literal('active'),
                sa.func.coalesce(intros.c.answered_at, intros.c.updated_at),
                intros.c.updated_at, sa.false(),
            ).where(intros.c.state == 'accepted')
        )
    )


def downgrade() -> None:
    with op.batch_alter_table('progress_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_progress_entries_mentorship_id'))
    op.drop_table('progress_entries')
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_goals_mentorship_id'))
        batch_op.drop_index('ix_goals_community_done')
    op.drop_table('goals')
    with op.batch_alter_table('mentorships', schema=None) as batch_op:
        batch_op.drop_index('ix_mentorships_mentor')
        batch_op.drop_index('ix_mentorships_mentee')
    op.drop_table('mentorships')
    with op.batch_alter_table('waitlist', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_waitlist_intro_id_intro_requests'),
                                 type_='foreignkey')
        batch_op.drop_column('closed_reason')
        batch_op.drop_column('intro_id')
