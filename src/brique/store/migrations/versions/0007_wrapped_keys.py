"""wrapped_keys: platform keys shared by every replica, wrapped by the key-encryption key

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 04:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import brique.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wrapped_keys",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", brique.store.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("wrapped_keys")
