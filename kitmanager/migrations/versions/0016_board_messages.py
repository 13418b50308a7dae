"""boards: a board run keeps its message as firmware_tools' code and parameters

Revision ID: 0016_board_messages
Revises: 0015_pair_window
Create Date: 2027-01-12 00:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0016_board_messages"
down_revision = "0015_pair_window"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMNs on both databases, not a batch copy of the table (which may list its
    # constraints in another order). Older rows get no code: their English message is shown.
    op.add_column(
        "board_run",
        sa.Column("message_code", sa.String(length=60), nullable=False, server_default=""),
    )
    op.add_column(
        "board_run",
        sa.Column("message_params", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    )


def downgrade():
    with op.batch_alter_table("board_run") as batch:
        batch.drop_column("message_params")
        batch.drop_column("message_code")
