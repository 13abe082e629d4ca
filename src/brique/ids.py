"""Prefixed, stable string ids (`org_…`, `prj_…`, `usr_…`, `key_…`).

Generation needs randomness, so the factory is injected where purity matters
(the scheduler core never calls this module).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford-style base32, no ambiguous letters
PREFIXES = frozenset({"org", "prj", "usr", "key", "job", "evt", "req", "acc", "rep", "dep", "ikey", "rsv", "arr"})

IdFactory = Callable[[str], str]


def new_id(prefix: str, length: int = 16) -> str:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    bits = int.from_bytes(secrets.token_bytes((length * 5 + 7) // 8))  # 5 random bits per character
    return f"{prefix}_" + "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(length))


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(f"{prefix}_")
