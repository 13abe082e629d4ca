"""Filters on a list of ids, as each database takes them best.

SQLite: `IN (?, ?, …)` in chunks under its limit on bound parameters. PostgreSQL: `= ANY(%s)` with
the whole list as one array parameter; psycopg parses a query text of 900 placeholders again on
every call (its cache keeps short texts only), which cost more than the rows when a cycle or the
metering read 10,000 jobs at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, any_, bindparam
from sqlalchemy.orm import Session

CHUNK = 900  # ids per IN list (SQLite)


def among(session: Session, column: Any, ids: Sequence[str]) -> Iterator[ColumnElement[bool]]:
    """`column` among `ids`: one filter on PostgreSQL, one per chunk elsewhere (none for no ids)."""
    if not ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        yield column == any_(bindparam("ids", list(ids), type_=ARRAY(column.type)))
        return
    for i in range(0, len(ids), CHUNK):
        yield column.in_(bindparam("ids", list(ids[i : i + CHUNK]), expanding=True))
