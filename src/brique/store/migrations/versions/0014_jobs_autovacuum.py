"""PostgreSQL: autovacuum and analyze the jobs table after 2 % of its rows changed (the default waits
for 10-20 %). The scheduling loop reads the live jobs every cycle (their count and version sum by an
index-only scan, and the rows changed since the last cycle): without fresh statistics and visibility
map, the first reads the table's heap and the second may scan it whole (5x the server's CPU per
cycle at 15,000 live jobs, docs/operations.md). The live jobs are the rows that change, so a large
table left to the default thresholds keeps them out of the visibility map. SQLite: nothing to do.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

PARAMS = ("autovacuum_vacuum_scale_factor", "autovacuum_vacuum_insert_scale_factor", "autovacuum_analyze_scale_factor")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE jobs SET ({', '.join(f'{p} = 0.02' for p in PARAMS)})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE jobs RESET ({', '.join(PARAMS)})")
