"""contracts carry the org's inference gateway limits (requests and tokens per minute; NULL: the
operator's default)

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(sa.Column("inference_requests_per_min", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("inference_tokens_per_min", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.drop_column("inference_tokens_per_min")
        batch.drop_column("inference_requests_per_min")
