"""Time-bucketed integrals: GPU-seconds held and wanted per tenant, queue length.

Intervals are recorded when they close (a job ends, a wait ends), as rate changes
(+gpus at t0, -gpus at t1): O(1) each, whatever their length. The buckets are
computed once, on first read, by one sweep over the sorted changes: O(E log E + B)
for E intervals and B buckets. The width is chosen then, so that about `target`
buckets cover the whole run (submissions and completions alike): a burst submitted
at one instant still gets `target` buckets, not one per second of its makespan.
Bucket b covers [b * width, (b + 1) * width) seconds from the start of the trace.
"""

from __future__ import annotations

Changes = list[tuple[float, float]]


def integrate(changes: Changes, width: float, n: int) -> list[float]:
    """Integral of the step function given by `changes` (time, rate delta) over each of `n` buckets."""
    changes.sort()
    out = [0.0] * n
    rate = t = area = before = 0.0
    k, m = 0, len(changes)
    for b in range(n):
        edge = (b + 1) * width
        while k < m and changes[k][0] < edge:
            tc, dr = changes[k]
            area += rate * (tc - t)
            t, rate, k = tc, rate + dr, k + 1
        upto = area + rate * (edge - t)
        out[b] = upto - before
        before = upto
    return out


class Timeline:
    """Per-tenant held/wanted GPU-seconds and total queued job-seconds, per bucket."""

    def __init__(self, target: int = 200, min_width: float = 1.0) -> None:
        self.target, self.min_width = max(1, target), min_width
        self._held: dict[str, Changes] = {}
        self._wanted: dict[str, Changes] = {}
        self._queued: Changes = []
        self._end = 0.0
        self._built: tuple[float, dict[str, list[float]], dict[str, list[float]], list[float]] | None = None

    def ran(self, tenant: str, t0: float, t1: float, gpus: int) -> None:
        """A job of `tenant` held `gpus` GPUs over [t0, t1): it both holds and wants them."""
        self._add(self._held.setdefault(tenant, []), t0, t1, gpus)
        self._add(self._wanted.setdefault(tenant, []), t0, t1, gpus)

    def waited(self, tenant: str, t0: float, t1: float, gpus: int) -> None:
        """A job of `tenant` waited over [t0, t1) for `gpus` GPUs."""
        self._add(self._wanted.setdefault(tenant, []), t0, t1, gpus)
        self._add(self._queued, t0, t1, 1.0)

    def _add(self, changes: Changes, t0: float, t1: float, w: float) -> None:
        if t1 > t0:
            changes.append((t0, w))
            changes.append((t1, -w))
            self._end = max(self._end, t1)
            self._built = None

    # ---------- bucketed views (built once, on first read) ----------

    def _build(self) -> tuple[float, dict[str, list[float]], dict[str, list[float]], list[float]]:
        if self._built is None:
            width = max(self.min_width, self._end / self.target)
            n = int(self._end // width) + 1
            held = {t: integrate(c, width, n) for t, c in self._held.items()}
            wanted = {t: integrate(c, width, n) for t, c in self._wanted.items()}
            self._built = (width, held, wanted, integrate(self._queued, width, n))
        return self._built

    @property
    def width(self) -> float:
        return self._build()[0]

    @property
    def held(self) -> dict[str, list[float]]:
        return self._build()[1]

    @property
    def wanted(self) -> dict[str, list[float]]:
        return self._build()[2]

    @property
    def queued(self) -> list[float]:
        return self._build()[3]

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
