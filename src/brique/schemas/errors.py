"""The error envelope every non-2xx response carries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

WHERE_PARTS = ("body", "query", "path")  # FastAPI's location prefixes, not field names


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


def first_problem(errors: Sequence[Any]) -> tuple[str | None, str]:
    """(field path, rule) of the first pydantic validation error, e.g. ("placement.countries", "...")."""
    first = errors[0] if errors else {}
    field = ".".join(str(p) for p in first.get("loc", ()) if p not in WHERE_PARTS) or None
    return field, first.get("msg", "invalid input")
