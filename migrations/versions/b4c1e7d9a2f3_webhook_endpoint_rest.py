"""webhook endpoints that keep failing rest between attempts; an endpoint's due deliveries are found by index

Revision ID: b4c1e7d9a2f3
Revises: 8e4b2d6c1a93
Create Date: 2026-12-04 12:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "b4c1e7d9a2f3"
down_revision = "8e4b2d6c1a93"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN: SQLite takes it as it is, with no copy of the table (see downgrade).
    op.add_column("webhook_endpoints", sa.Column("consecutive_failures", sa.Integer(), nullable=False,
                                                 server_default="0"))  # fmt: skip
    op.add_column("webhook_endpoints", sa.Column("resume_at", sa.DateTime(), nullable=True))
    op.create_index(
        "ix_webhook_deliveries_endpoint_due",
        "webhook_deliveries",
        ["endpoint_id", "status", "next_attempt_at"],
        unique=False,
    )


def downgrade():
    # Plain DROP COLUMN (SQLite 3.35+), not batch mode: batch mode copies and drops the table, and dropping
    # webhook_endpoints with foreign keys on deletes every delivery by cascade.
    op.drop_index("ix_webhook_deliveries_endpoint_due", table_name="webhook_deliveries")
    op.drop_column("webhook_endpoints", "resume_at")
    op.drop_column("webhook_endpoints", "consecutive_failures")
