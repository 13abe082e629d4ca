"""'Did you mean …?' for unknown names in requests and files (one wording everywhere)."""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name most like `name`, if one is close enough to be a likely typo."""
    found = get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_field(name: str, known: Iterable[str]) -> str:
    """e.g. "unknown field 'country' — did you mean 'countries'?"."""
    known = sorted(known)
    guess = closest(name, known)
    if guess is not None:
        return f"unknown field '{name}' — did you mean '{guess}'?"
    return f"unknown field '{name}' (known: {', '.join(known)})"
