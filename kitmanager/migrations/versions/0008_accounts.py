"""accounts: login throttling per user name and address, instead of per account

Revision ID: 0008_accounts
Revises: 0007_checkin
Create Date: 2026-11-30 19:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_accounts'
down_revision = '0007_checkin'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_throttle',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('last_attempt_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_throttle')),
    sa.UniqueConstraint('username', 'address', name=op.f('uq_login_throttle_username_address'))
    )
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_throttle_last_attempt_at'), ['last_attempt_at'], unique=False)

    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy of "user" would drop the
    # table under foreign keys that cascade to login sessions and tokens.
    op.drop_column('user', 'failed_logins')
    op.drop_column('user', 'locked_until')


def downgrade():
    op.add_column('user', sa.Column('locked_until', sa.DateTime(), nullable=True))
    op.add_column('user', sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_throttle_last_attempt_at'))

    op.drop_table('login_throttle')
