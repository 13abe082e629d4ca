"""contract commercial terms and versions, reservations, project governance, invoice numbers

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import brique.store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC = brique.store.types.UtcDateTime


def upgrade() -> None:
    with op.batch_alter_table("contracts") as b:
        b.add_column(sa.Column("monthly_commitment", sa.Numeric(14, 2), nullable=False, server_default="0"))
        b.add_column(sa.Column("rates", sa.JSON(), nullable=False, server_default="{}"))
        b.add_column(sa.Column("overage_rate", sa.Numeric(12, 4), nullable=True))
        b.add_column(sa.Column("currency", sa.String(3), nullable=False, server_default="EUR"))
        b.add_column(sa.Column("starts_on", sa.Date(), nullable=True))
        b.add_column(sa.Column("ends_on", sa.Date(), nullable=True))
        b.add_column(sa.Column("budget_exempt_tiers", sa.JSON(), nullable=False, server_default="[]"))
        b.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "contract_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("changed_by", sa.String(40), nullable=False),
        sa.Column("at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "version", name="uq_contract_versions_org_version"),
    )
    op.create_index("ix_contract_versions_org_id", "contract_versions", ["org_id"])
    op.create_table(
        "reservations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("org_id", sa.String(40), nullable=False),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("gpus", sa.Integer(), nullable=False),
        sa.Column("racks", sa.JSON(), nullable=False),
        sa.Column("starts_at", UTC(), nullable=False),
        sa.Column("ends_at", UTC(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(40), nullable=False),
        sa.Column("approved_by", sa.String(40), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reservations_org_id", "reservations", ["org_id"])
    op.create_index("ix_reservations_state", "reservations", ["state"])
    op.create_table(
        "project_governance",
        sa.Column("project_id", sa.String(40), nullable=False),
        sa.Column("org_id", sa.String(40), nullable=False),
        sa.Column("max_gpus", sa.Integer(), nullable=True),
        sa.Column("weight", sa.Numeric(10, 3), nullable=False),
        sa.Column("guaranteed_gpus", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id"),
    )
    op.create_index("ix_project_governance_org_id", "project_governance", ["org_id"])
    op.create_table(
        "project_members",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("added_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "user_id", name="uq_project_members_project_user"),
    )
    op.create_index("ix_project_members_project_id", "project_members", ["project_id"])
    op.create_index("ix_project_members_user_id", "project_members", ["user_id"])
    op.create_table(
        "invoice_counters",
        sa.Column("issuer", sa.String(63), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("issuer", "year"),
    )
    op.create_table(
        "issued_invoices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("issuer", sa.String(63), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("org_id", sa.String(40), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("total", sa.Numeric(14, 2), nullable=False),
        sa.Column("corrects", sa.String(40), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issuer", "number", name="uq_issued_invoices_issuer_number"),
    )
    op.create_index("ix_issued_invoices_org_id", "issued_invoices", ["org_id"])
    op.create_table(
        "billing_profiles",
        sa.Column("org_id", sa.String(40), nullable=False),
        sa.Column("legal_name", sa.String(200), nullable=False),
        sa.Column("vat_id", sa.String(20), nullable=True),
        sa.Column("legal_id", sa.String(40), nullable=True),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("postcode", sa.String(20), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("org_id"),
    )


def downgrade() -> None:
    for table in ("billing_profiles", "issued_invoices", "invoice_counters", "project_members", "project_governance",
                  "reservations", "contract_versions"):  # fmt: skip
        op.drop_table(table)
    with op.batch_alter_table("contracts") as b:
        for col in ("version", "budget_exempt_tiers", "ends_on", "starts_on", "currency", "overage_rate",
                    "rates", "monthly_commitment"):  # fmt: skip
            b.drop_column(col)
