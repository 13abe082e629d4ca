"""Alembic environment: runs on the connection `store.db.migrate` hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import brique.store.billing_tables
import brique.store.commerce_tables  # noqa: F401  (contracts history, reservations, projects, invoices)
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
