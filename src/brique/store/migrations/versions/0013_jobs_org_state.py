"""an index on jobs (org_id, state): every submission counts its org's pending jobs (the quota), which
without it reads every job of the org, finished ones included

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_org_state", "jobs", ["org_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_jobs_org_state", table_name="jobs")
