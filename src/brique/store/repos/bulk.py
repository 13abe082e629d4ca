"""Many rows into one table: PostgreSQL takes them by COPY (one stream, no statement per row: a third
of the server's time of an `executemany` of INSERTs); smaller batches, and SQLite, by the caller's
statement."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import JSON
from sqlalchemy.engine import Connection

COPY_FROM = 50  # rows: below this a statement's round trip costs less than setting up a COPY


def copies(conn: Connection, rows: list[Any]) -> bool:
    """Whether `copy_rows` should take these rows."""
    return len(rows) >= COPY_FROM and conn.dialect.name == "postgresql"


def copy_rows(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """COPY `rows` (dicts with the same keys, as for an INSERT) into `table` (PostgreSQL only). A JSON
    value is sent as its text, each distinct object encoded once (the rows of a batch share them)."""
    keys = list(rows[0])
    encoded = [i for i, k in enumerate(keys) if isinstance(table.c[k].type, JSON)]
    texts: dict[int, tuple[Any, str]] = {}
    copy_sql = f"COPY {table.name} ({', '.join(keys)}) FROM STDIN"
    with conn.connection.driver_connection.cursor() as cur, cur.copy(copy_sql) as copy:  # type: ignore[union-attr]
        for row in rows:
            values = [row[k] for k in keys]
            for i in encoded:
                value = values[i]
                if value is None:  # SQL NULL, not JSON null
                    continue
                memo = texts.get(id(value))
                if memo is None:
                    memo = texts[id(value)] = (value, json.dumps(value))
                values[i] = memo[1]
            copy.write_row(values)
