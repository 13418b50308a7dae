"""certificates: per-workshop rule, overrides, issued certificates

Revision ID: 0013_certificates
Revises: 0011_kits
Create Date: 2026-11-30 20:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_certificates'
down_revision = '0011_kits'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'certificate_rule',
        sa.Column('workshop_id', sa.Integer(), nullable=False),
        sa.Column('min_percent', sa.Integer(), nullable=False),
        sa.Column('min_hours', sa.Float(), nullable=True),
        sa.Column('kit_returned', sa.Boolean(), nullable=False),
        sa.Column('issuer', sa.String(length=200), nullable=False),
        sa.Column('signatory_name', sa.String(length=120), nullable=False),
        sa.Column('signatory_title', sa.String(length=120), nullable=False),
        sa.Column('layout', sa.String(length=60), nullable=False),
        sa.Column('logo_file', sa.String(length=100), nullable=True),
        sa.Column('signature_file', sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            'min_hours IS NULL OR min_hours >= 0', name=op.f('ck_certificate_rule_hours')
        ),
        sa.CheckConstraint(
            'min_percent >= 0 AND min_percent <= 100', name=op.f('ck_certificate_rule_percent')
        ),
        sa.ForeignKeyConstraint(
            ['workshop_id'], ['workshop.id'],
            name=op.f('fk_certificate_rule_workshop_id_workshop'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('workshop_id', name=op.f('pk_certificate_rule')),
    )
    op.create_table(
        'certificate_override',
        sa.Column('participant_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('by', sa.String(length=120), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['participant_id'], ['participant.id'],
            name=op.f('fk_certificate_override_participant_id_participant'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('participant_id', name=op.f('pk_certificate_override')),
    )
    op.create_table(
        'certificate',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('code', sa.String(length=10), nullable=False),
        sa.Column('workshop_id', sa.Integer(), nullable=False),
        sa.Column('participant_id', sa.Integer(), nullable=False),
        sa.Column('facts', sa.Text(), nullable=False),
        sa.Column('signature', sa.String(length=100), nullable=False),
        sa.Column('issued_at', sa.DateTime(), nullable=False),
        sa.Column('issued_by', sa.String(length=120), nullable=False),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.Column('revoke_reason', sa.String(length=500), nullable=False),
        sa.Column('revoked_by', sa.String(length=120), nullable=False),
        sa.Column('replaced_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ['participant_id'], ['participant.id'],
            name=op.f('fk_certificate_participant_id_participant'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['replaced_by_id'], ['certificate.id'],
            name=op.f('fk_certificate_replaced_by_id_certificate'), ondelete='SET NULL',
        ),
        sa.ForeignKeyConstraint(
            ['workshop_id'], ['workshop.id'],
            name=op.f('fk_certificate_workshop_id_workshop'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate')),
        sa.UniqueConstraint('code', name=op.f('uq_certificate_code')),
        sa.UniqueConstraint('uuid', name=op.f('uq_certificate_uuid')),
    )
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_certificate_workshop_id'), ['workshop_id'], unique=False
        )
        batch_op.create_index(
            'ux_certificate_one_valid',
            ['participant_id'],
            unique=True,
            sqlite_where=sa.text('revoked_at IS NULL'),
            postgresql_where=sa.text('revoked_at IS NULL'),
        )


def downgrade():
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_index('ux_certificate_one_valid')
        batch_op.drop_index(batch_op.f('ix_certificate_workshop_id'))
    op.drop_table('certificate')
    op.drop_table('certificate_override')
    op.drop_table('certificate_rule')
