"""job arrays, and an index on jobs.updated_at: each task is a job carrying its array's id, its index and the array's running limit

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("array_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("array_index", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("array_max_running", sa.Integer(), nullable=True))
        batch.create_index("ix_jobs_array_id", ["array_id"])
        batch.create_index("ix_jobs_updated_at", ["updated_at"])  # the control plane reads changes since


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_updated_at")
        batch.drop_index("ix_jobs_array_id")
        batch.drop_column("array_max_running")
        batch.drop_column("array_index")
        batch.drop_column("array_id")
