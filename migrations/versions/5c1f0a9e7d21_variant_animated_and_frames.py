"""variants say whether they are animated and how many frames they hold

Revision ID: 5c1f0a9e7d21
Revises: 31037472812c
Create Date: 2026-11-30 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c1f0a9e7d21'
down_revision = '31037472812c'
branch_labels = None
depends_on = None


def upgrade():
    # Existing variants are all stills: the server defaults fill their rows.
    with op.batch_alter_table('variants') as batch_op:
        batch_op.add_column(sa.Column('animated', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('frames', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    with op.batch_alter_table('variants') as batch_op:
        batch_op.drop_column('frames')
        batch_op.drop_column('animated')
