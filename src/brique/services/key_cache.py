"""Recently verified API keys, so that a busy client is not checked against the database per request.

An entry is keyed by SHA-256 of the whole presented token (lookup and secret): a wrong secret for a
known lookup never hits. It holds the principal, the key's expiry (checked on every hit against the
clock) and when it was verified. It is trusted for `ttl_s` seconds of this process's monotonic
time; after that the key is verified against the database again. Revoking a key or suspending an
org through this replica forgets the affected entries at once; another replica sharing the database
notices within `ttl_s` (the bound documented in docs/operations.md). `ttl_s = 0` disables the cache.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from brique.domain.tenancy import Principal

DEFAULT_TTL_S = 5.0
MAX_ENTRIES = 10_000  # about 3 MB at most


@dataclass(frozen=True, slots=True)
class _Known:
    principal: Principal
    expires_at: datetime | None
    verified_at: float  # monotonic seconds


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class KeyCache:
    def __init__(
        self, ttl_s: float = DEFAULT_TTL_S, max_entries: int = MAX_ENTRIES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.monotonic = monotonic
        self._known: dict[bytes, _Known] = {}
        self._lock = threading.Lock()
        self._epoch = 0  # moves on every `forget`

    @property
    def epoch(self) -> int:
        """Read before verifying a key against the database, passed back to `put`."""
        return self._epoch

    def get(self, digest: bytes, now: datetime) -> Principal | None:
        """The principal of a token verified less than `ttl_s` ago and not expired since, else None."""
        known = self._known.get(digest)
        if known is None:
            return None
        if self.monotonic() - known.verified_at >= self.ttl_s or (
            known.expires_at is not None and now >= known.expires_at
        ):
            self._known.pop(digest, None)
            return None
        return known.principal

    def put(self, digest: bytes, principal: Principal, expires_at: datetime | None, epoch: int) -> None:
        """Remember a verification that started at `epoch`; a `forget` since then (a revocation that
        committed while it read the database) voids it, so a revoked key is never cached afresh."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            if epoch != self._epoch:
                return
            if len(self._known) >= self.max_entries:  # drop the oldest verification (dicts keep order)
                self._known.pop(next(iter(self._known)), None)
            self._known.pop(digest, None)
            self._known[digest] = _Known(principal, expires_at, self.monotonic())

    def forget(self, match: Callable[[Principal], bool]) -> None:
        """Forget every entry whose principal matches (a revoked key, a suspended org's users)."""
        with self._lock:
            self._epoch += 1
            for digest in [d for d, k in self._known.items() if match(k.principal)]:
                del self._known[digest]
