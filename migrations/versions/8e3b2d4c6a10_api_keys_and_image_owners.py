"""API keys; images record their owner, events the key that caused them

Revision ID: 8e3b2d4c6a10
Revises: 7d3e5b2a9c41
Create Date: 2026-12-02 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8e3b2d4c6a10'
down_revision = '7d3e5b2a9c41'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'api_keys',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('owner_id', sa.String(length=64), nullable=False),
        sa.Column('scopes', sa.String(length=200), nullable=False),
        sa.Column('secret_sha256', sa.String(length=64), nullable=False),
        sa.Column('last4', sa.String(length=4), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_used_at', sa.DateTime(), nullable=True),
        sa.Column('expires_at', sa.DateTime(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_api_keys_owner_id', 'api_keys', ['owner_id'])
    # Every image uploaded before owners existed belongs to the one "legacy" owner (the server default fills them).
    with op.batch_alter_table('images') as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.String(length=64), server_default='legacy', nullable=False))
        batch_op.create_index('ix_images_owner_id', ['owner_id'])
    with op.batch_alter_table('image_events') as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('image_events') as batch_op:
        batch_op.drop_column('key_id')
    with op.batch_alter_table('images') as batch_op:
        batch_op.drop_index('ix_images_owner_id')
        batch_op.drop_column('owner_id')
    op.drop_index('ix_api_keys_owner_id', table_name='api_keys')
    op.drop_table('api_keys')
