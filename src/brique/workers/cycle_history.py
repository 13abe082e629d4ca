"""How long this replica's scheduling cycles took over the last hours: one bucket per minute (count,
median, max), kept in memory for the console's chart (Prometheus keeps the long history)."""

from __future__ import annotations

import statistics
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class CyclePoint:
    minute: datetime  # the bucket's start (UTC)
    cycles: int
    median_ms: float
    max_ms: float


class CycleHistory:
    """Per-minute cycle durations for the last `minutes`; older buckets fall off."""

    def __init__(self, minutes: int = 360) -> None:
        self._minutes = minutes
        self._buckets: deque[tuple[datetime, list[float]]] = deque(maxlen=minutes)
        self._lock = threading.Lock()  # the loop records, console requests read

    def record(self, at: datetime, duration_ms: float) -> None:
        minute = at.replace(second=0, microsecond=0)
        with self._lock:
            if not self._buckets or self._buckets[-1][0] != minute:
                self._buckets.append((minute, []))
            self._buckets[-1][1].append(duration_ms)

    def points(self, now: datetime, hours: float) -> list[CyclePoint]:
        since = now - timedelta(hours=hours)
        with self._lock:
            kept = [(m, list(d)) for m, d in self._buckets if m >= since and d]
        return [CyclePoint(m, len(d), statistics.median(d), max(d)) for m, d in kept]
