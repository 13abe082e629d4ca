"""Re-deciding a user's request when a version-guarded write lost a race.

A cancel, suspend or resume reads the job, decides, and writes with the version it read. If the
scheduling loop moved the job in between (placed it, preempted it, saw it end), the write is
refused (`StaleWrite`). The request is still meaningful: it is decided again on the job as it now
is, a few times, instead of handing the user a "retry" for a race they could not see.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from brique.errors import NotLeader, StaleWrite

T = TypeVar("T")
ATTEMPTS = 5


def redecide_on_stale(unit: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """Run `unit` (one transaction that reads, decides and writes) until no `StaleWrite` stops it."""
    for _ in range(attempts - 1):
        try:
            return unit()
        except NotLeader:
            raise  # not a race on the object: this replica's term ended
        except StaleWrite:
            continue
    return unit()
