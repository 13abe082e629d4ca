"""inference: deployments, replicas, gateway keys, token usage

Revision ID: 0009
Revises: 0008
Hand-written; mirrors `store/inference_tables.py`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import brique.store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, brique.store.types.UtcDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("org_id", sa.String(40), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("project_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("runtime", sa.String(40), nullable=False),
        sa.Column("command", sa.String(10_000), nullable=True),
        sa.Column("image", sa.String(500), nullable=True),
        sa.Column("gpus", sa.Integer(), nullable=False),
        sa.Column("min_replicas", sa.Integer(), nullable=False),
        sa.Column("max_replicas", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("placement", sa.JSON(), nullable=False),
        sa.Column("desired_replicas", sa.Integer(), nullable=False),
        sa.Column("target_inflight", sa.Integer(), nullable=False),
        sa.Column("idle_s", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(40), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.UniqueConstraint("org_id", "name", name="uq_deployments_org_name"),
    )
    op.create_table(
        "deployment_replicas",
        sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("deployment_id", sa.String(40), sa.ForeignKey("deployments.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        _at("created_at"),
    )
    op.create_index("ix_deployment_replicas_deployment_id", "deployment_replicas", ["deployment_id"])
    op.create_table(
        "inference_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("org_id", sa.String(40), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("lookup", sa.String(32), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("deployments", sa.JSON(), nullable=False),
        sa.Column("requests_per_min", sa.Integer(), nullable=True),
        sa.Column("tokens_per_min", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(40), nullable=False),
        _at("created_at"),
        _at("revoked_at", nullable=True),
    )
    op.create_index("ix_inference_keys_org_id", "inference_keys", ["org_id"])
    op.create_table(
        "token_usage",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("org_id", sa.String(40), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("project_id", sa.String(40), nullable=False),
        sa.Column("deployment_id", sa.String(40), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(63), nullable=True),
        _at("at"),
    )
    op.create_index("ix_token_usage_org_at", "token_usage", ["org_id", "at"])


def downgrade() -> None:
    op.drop_table("token_usage")
    op.drop_table("inference_keys")
    op.drop_table("deployment_replicas")
    op.drop_table("deployments")
