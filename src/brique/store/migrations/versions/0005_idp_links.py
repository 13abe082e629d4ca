"""idp_links: an identity provider's stable subject, linked to a Brique user at first sign-in

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 03:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import brique.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idp_links",
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("linked_at", brique.store.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("issuer", "subject"),
    )
    op.create_index(op.f("ix_idp_links_user_id"), "idp_links", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_idp_links_user_id"), table_name="idp_links")
    op.drop_table("idp_links")
