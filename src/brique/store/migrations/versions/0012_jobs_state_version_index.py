"""jobs: the index on state also holds version, so the scheduling loop's count and version sum of live jobs reads the index alone

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.create_index("ix_jobs_state_version", ["state", "version"])
        batch.drop_index("ix_jobs_state")


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.create_index("ix_jobs_state", ["state"])
        batch.drop_index("ix_jobs_state_version")
