"""app settings: installation-wide values an organiser sets in the app

Revision ID: 0003_app_settings
Revises: 0002_login_sessions
Create Date: 2026-11-30 18:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_app_settings'
down_revision = '0002_login_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('app_setting',
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_app_setting'))
    )


def downgrade():
    op.drop_table('app_setting')
