"""Time-bucketed integrals: GPU-seconds held and wanted per tenant, queue length.

Intervals are added when they close (a job ends, a wait ends), so times may arrive
out of order; each interval is spread over the fixed-width buckets it overlaps.
Bucket b covers [b * width, (b + 1) * width) seconds from the start of the trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def spread(arr: list[float], width: float, t0: float, t1: float, weight: float) -> None:
    """Add `weight` x overlap (seconds) of [t0, t1) to every bucket of `arr` it touches."""
    if t1 <= t0:
        return
    b0 = int(t0 // width)
    b1 = int(t1 // width)
    if b1 >= len(arr):
        arr.extend([0.0] * (b1 + 1 - len(arr)))
    if b0 == b1:
        arr[b0] += weight * (t1 - t0)
        return
    arr[b0] += weight * ((b0 + 1) * width - t0)
    full = weight * width
    for b in range(b0 + 1, b1):
        arr[b] += full
    arr[b1] += weight * (t1 - b1 * width)


@dataclass(slots=True)
class Timeline:
    """Per-tenant held/wanted GPU-seconds and total queued job-seconds, per bucket."""

    width: float
    held: dict[str, list[float]] = field(default_factory=dict)
    wanted: dict[str, list[float]] = field(default_factory=dict)
    queued: list[float] = field(default_factory=list)

    def ran(self, tenant: str, t0: float, t1: float, gpus: int) -> None:
        """A job of `tenant` held `gpus` GPUs over [t0, t1): it both holds and wants them."""
        spread(self.held.setdefault(tenant, []), self.width, t0, t1, gpus)
        spread(self.wanted.setdefault(tenant, []), self.width, t0, t1, gpus)

    def waited(self, tenant: str, t0: float, t1: float, gpus: int) -> None:
        """A job of `tenant` waited over [t0, t1) for `gpus` GPUs."""
        spread(self.wanted.setdefault(tenant, []), self.width, t0, t1, gpus)
        spread(self.queued, self.width, t0, t1, 1.0)

    def buckets(self, until: float) -> int:
        return max(1, int(until // self.width) + 1)

    def busy(self, n: int) -> list[float]:
        """GPU-seconds held by everyone, per bucket (first `n` buckets)."""
        total = [0.0] * n
        for arr in self.held.values():
            for b, v in enumerate(arr[:n]):
                total[b] += v
        return total


def padded(arr: list[float], n: int) -> list[float]:
    return (arr + [0.0] * n)[:n]
