"""API key tokens: `brq_<lookup>_<secret>`. Only SHA-256(secret) is ever stored.

The secret has 256 bits of entropy, so a fast hash is safe (no password stretching
needed) and lets every request authenticate in microseconds. `lookup` is a public,
indexed handle; comparison of the digest is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "brq"


@dataclass(frozen=True, slots=True)
class IssuedKey:
    token: str  # shown once to the caller, never stored
    lookup: str
    secret_hash: str


def issue() -> IssuedKey:
    lookup = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return IssuedKey(f"{PREFIX}_{lookup}_{secret}", lookup, hash_secret(secret))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(token: str) -> tuple[str, str] | None:
    """Split a token into (lookup, secret), or None if it is not shaped like one."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 16 or len(parts[2]) < 20:
        return None
    return parts[1], parts[2]


def matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)
