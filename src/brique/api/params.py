"""Query parameters shared by routers: bounded instants and windows, bounded offsets."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator

from brique.errors import InvalidInput

FIRST_YEAR, LAST_YEAR = 1970, 9000  # far from datetime's year 9999, so month arithmetic never overflows
MAX_OFFSET = 2**31  # well inside a database's 64-bit integer


def _instant(value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be between the years {FIRST_YEAR} and {LAST_YEAR}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Instant = Annotated[datetime, AfterValidator(_instant)]
From = Annotated[Instant, Query(alias="from", description="ISO 8601 (no offset: UTC)")]
To = Annotated[Instant, Query(alias="to", description="ISO 8601 (no offset: UTC), exclusive")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


def window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """(start, end), refused when `from` is later than `to`."""
    if start > end:
        raise InvalidInput(
            f"'from' ({start.isoformat()}) is later than 'to' ({end.isoformat()})", field="from"
        )
    return start, end


def encode_cursor(at: datetime, item_id: str) -> str:
    """An opaque page cursor: where the previous page ended, in the list's order."""
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{item_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, item_id = raw.split("|", 1)
        return _instant(datetime.fromisoformat(at)), item_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "not a cursor this server gave (use the X-Next-Cursor header)", field="cursor"
        ) from exc
