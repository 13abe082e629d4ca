"""Alembic environment: runs on the connection `store.db.migrate` hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from brique.store import (  # noqa: F401  (register their rows on Base)
    billing_tables,
    commerce_tables,
    inference_tables,
    lease_tables,
)
from brique.store.tables import Base


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run(context.config.attributes["connection"])
