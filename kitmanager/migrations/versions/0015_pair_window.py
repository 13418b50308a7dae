"""workshops: the scan station's pairing window

Revision ID: 0015_pair_window
Revises: 0014_boards
Create Date: 2026-12-08 00:10:00

"""

from alembic import op

revision = "0015_pair_window"
down_revision = "0014_boards"
branch_labels = None
depends_on = None


def upgrade():
    # One ALTER on both databases (the column with its CHECK), not a batch copy of the table:
    # a copy may list the table's constraints in another order on another run.
    op.execute(
        "ALTER TABLE workshop ADD COLUMN pair_window_seconds INTEGER DEFAULT 60 NOT NULL "
        "CONSTRAINT ck_workshop_pair_window CHECK (pair_window_seconds BETWEEN 10 AND 600)"
    )


def downgrade():
    with op.batch_alter_table("workshop") as batch:
        batch.drop_column("pair_window_seconds")
