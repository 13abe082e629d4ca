"""The pending-jobs quota without a count on every submission.

Counting an org's pending jobs reads one index entry per pending job (and, on PostgreSQL, the heap
rows of those not yet all-visible): during a 10,000-job burst that count was half of PostgreSQL's CPU
per submission. This process keeps, per org, an upper bound instead: the last exact count plus every
job this process admitted since. A submission skips the count while that bound is fresh (at most
`max_age_s` old) and at least a margin (a tenth of the quota, at least 100) below the quota; otherwise it counts, exactly as before. A
refusal therefore always rests on an exact count. What the bound cannot see is what other replicas
admitted (and jobs requeued) since the count, for at most `max_age_s`: the margin covers that, so an
org can only overshoot its quota if other replicas admit more than the margin of its jobs within
`max_age_s`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MAX_AGE_S = 1.0


class PendingBound:
    """Per org: (exact count, when it was read, jobs admitted here since). Instance state, not global."""

    def __init__(self, max_age_s: float = MAX_AGE_S, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self.monotonic = monotonic
        self._orgs: dict[str, list[float]] = {}  # org -> [count, read at, admitted since]
        self._lock = threading.Lock()  # the writer thread and blocking submitters share it

    @staticmethod
    def margin(quota: int) -> int:
        return max(100, quota // 10)

    def known(self, org_id: str, quota: int) -> int | None:
        """An upper bound of the org's pending jobs if it is fresh and at least `margin(quota)` below
        `quota`, to admit without counting; None: count them."""
        with self._lock:
            entry = self._orgs.get(org_id)
            if entry is None or self.monotonic() - entry[1] > self.max_age_s:
                return None
            bound = int(entry[0] + entry[2])
        return bound if bound < quota - self.margin(quota) else None

    def counted(self, org_id: str, pending: int) -> None:
        """An exact count, read in a transaction that is about to admit."""
        with self._lock:
            self._orgs[org_id] = [pending, self.monotonic(), 0]

    def admitted(self, org_id: str, jobs: int = 1) -> None:
        """Jobs admitted by this process (before their commit: a rolled-back one only makes the
        bound higher, which costs a count sooner, never a wrong admission)."""
        with self._lock:
            entry = self._orgs.get(org_id)
            if entry is not None:
                entry[2] += jobs
