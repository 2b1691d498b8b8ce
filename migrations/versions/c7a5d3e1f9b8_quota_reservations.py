"""quotas are reserved before an upload is stored: subjects to lock, reservations in flight, images' quota subject

Revision ID: c7a5d3e1f9b8
Revises: b4c1e7d9a2f3
Create Date: 2026-12-04 13:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c7a5d3e1f9b8"
down_revision = "b4c1e7d9a2f3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "quota_subjects",
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("locked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("subject"),
    )
    op.create_table(
        "quota_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_quota_reservations_subject"), "quota_reservations", ["subject"], unique=False)
    # Plain ADD COLUMN: SQLite takes it as it is, with no copy of the table (see downgrade).
    op.add_column("images", sa.Column("quota_subject", sa.String(length=80), nullable=True))
    op.create_index(op.f("ix_images_quota_subject"), "images", ["quota_subject"], unique=False)
    # Every image so far counts against its owner, as it did.
    op.execute("UPDATE images SET quota_subject = owner_id")


def downgrade():
    # Plain DROP COLUMN (SQLite 3.35+), not batch mode: batch mode copies and drops the table, and dropping images
    # with foreign keys on deletes every variant and event by cascade.
    op.drop_index(op.f("ix_images_quota_subject"), table_name="images")
    op.drop_column("images", "quota_subject")
    op.drop_index(op.f("ix_quota_reservations_subject"), table_name="quota_reservations")
    op.drop_table("quota_reservations")
    op.drop_table("quota_subjects")
