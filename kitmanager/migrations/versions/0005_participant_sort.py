"""participant sort key: names file case- and accent-insensitively, sorted and paged in SQL

Revision ID: 0005_participant_sort
Revises: 0003_app_settings
Create Date: 2026-11-30 18:10:00.000000

"""
from alembic import op
import sqlalchemy as sa

from kitmanager.text import sort_key


# revision identifiers, used by Alembic.
revision = '0005_participant_sort'
down_revision = '0003_app_settings'
branch_labels = None
depends_on = None

KEY_LENGTH = 200


def upgrade():
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('sort_key', sa.String(length=KEY_LENGTH), server_default='', nullable=False)
        )
        batch_op.create_index('ix_participant_workshop_sort', ['workshop_id', 'sort_key'], unique=False)

    # Existing people get their key now; the app keeps it up to date from here on.
    conn = op.get_bind()
    participant = sa.table(
        'participant', sa.column('id', sa.Integer), sa.column('full_name', sa.String),
        sa.column('sort_key', sa.String),
    )
    rows = conn.execute(sa.select(participant.c.id, participant.c.full_name)).all()
    keys = [{'pid': pid, 'key': sort_key(name or '')[:KEY_LENGTH]} for pid, name in rows]
    if keys:
        conn.execute(
            participant.update()
            .where(participant.c.id == sa.bindparam('pid'))
            .values(sort_key=sa.bindparam('key')),
            keys,
        )


def downgrade():
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_index('ix_participant_workshop_sort')
        batch_op.drop_column('sort_key')
