"""leader lease: which replica runs the scheduling loop, with a fencing term

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import brique.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leader_leases",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("replica_id", sa.String(length=40), nullable=False),
        sa.Column("term", sa.Integer(), nullable=False),
        sa.Column("since", brique.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", brique.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("leader_leases")
