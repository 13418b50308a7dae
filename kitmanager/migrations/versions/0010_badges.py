"""badges: a short workshop title for badges

Revision ID: 0010_badges
Revises: 0009_one_time_login
Create Date: 2026-11-30 19:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_badges'
down_revision = '0009_one_time_login'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('workshop', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('badge_title', sa.String(length=60), nullable=False, server_default='')
        )


def downgrade():
    with op.batch_alter_table('workshop', schema=None) as batch_op:
        batch_op.drop_column('badge_title')
