"""variants are stored in one file per output format, have a mode (fit or cover); images keep a placeholder

Revision ID: 8e4b2d6c1a93
Revises: 8e3b2d4c6a10
Create Date: 2026-12-02 12:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "8e4b2d6c1a93"
down_revision = "8e3b2d4c6a10"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "variant_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("variant_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("content_type", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["variant_id"], ["variants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("variant_id", "format", name="uq_variant_file_format"),
    )
    with op.batch_alter_table("variant_files") as batch_op:
        batch_op.create_index(batch_op.f("ix_variant_files_variant_id"), ["variant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_variant_files_key"), ["key"], unique=False)
    # Every existing variant is one file, in its own format: it becomes that variant's only (first) file.
    op.execute(
        "INSERT INTO variant_files (variant_id, rank, format, content_type, key, bytes) "
        "SELECT id, 0, format, CASE format WHEN 'jpeg' THEN 'image/jpeg' WHEN 'png' THEN 'image/png' "
        "ELSE 'image/' || format END, key, bytes FROM variants"
    )
    with op.batch_alter_table("variants") as batch_op:
        batch_op.add_column(sa.Column("mode", sa.String(length=10), server_default="fit", nullable=False))
    with op.batch_alter_table("images") as batch_op:
        batch_op.add_column(sa.Column("placeholder", sa.JSON(), nullable=True))


def downgrade():
    # Plain DROP COLUMN (SQLite 3.35+), not batch mode: batch mode copies and drops the table, and dropping images
    # with foreign keys on deletes every variant and event by cascade.
    op.drop_column("images", "placeholder")
    op.drop_column("variants", "mode")
    op.drop_index(op.f("ix_variant_files_key"), table_name="variant_files")
    op.drop_index(op.f("ix_variant_files_variant_id"), table_name="variant_files")
    op.drop_table("variant_files")
