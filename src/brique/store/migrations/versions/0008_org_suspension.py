"""org suspension: an operator suspends an organization (its keys stop authenticating)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import brique.store.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("organizations", sa.Column("suspended_at", brique.store.types.UtcDateTime(), nullable=True))
    op.add_column("organizations", sa.Column("suspended_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("suspended_reason")
        batch.drop_column("suspended_at")
