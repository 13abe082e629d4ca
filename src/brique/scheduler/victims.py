"""Running work as preemption reads it, kept across cycles by `SchedulerState` (`state.candidates`).

Per rack, every allocation with a GPU there, and the preemptible tier's on their own, each list
sorted by (start time, allocation): a victim index (`preempt.VictimIndex`) reads only the racks a
plan looks at, and the youngest candidate of a rack (or of the tier, `youngest`) bounds what its
victims lose, from the end of a list, without a pass over running work. Updated by the state's
deltas (a job starts, a job's GPUs are freed); membership is by GPU, not health, so a health change
touches nothing here (counts per rack are read from the allocation when a rack is read).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable

from brique.domain.jobs import Tier
from brique.scheduler.alloc import Alloc
from brique.scheduler.topology import Topology

Entry = tuple[float, int]  # (start time, allocation)


class Candidates:
    def __init__(self, topo: Topology) -> None:
        self.gpu_rack = topo.gpu_rack
        n = len(topo.rack_span)
        self.rack: list[list[Entry]] = [[] for _ in range(n)]  # every allocation with a GPU in the rack
        self.rack_pre: list[list[Entry]] = [[] for _ in range(n)]  # the preemptible tier's
        self.pre: list[Entry] = []  # the preemptible tier's, fleet-wide

    def add(self, key: int, a: Alloc) -> None:
        self._each_list(a, (a.started_at, key), _insert)

    def remove(self, key: int, a: Alloc) -> None:
        self._each_list(a, (a.started_at, key), _delete)

    def _each_list(self, a: Alloc, entry: Entry, op: Callable[[list[Entry], Entry], None]) -> None:
        """`op` on every list holding `a`: its racks', and the preemptible tier's if it is of it."""
        pre = a.job.tier is Tier.PREEMPTIBLE
        gpu_rack = self.gpu_rack
        for r in dict.fromkeys(gpu_rack[x] for x in a.gpus):
            op(self.rack[r], entry)
            if pre:
                op(self.rack_pre[r], entry)
        if pre:
            op(self.pre, entry)

def youngest(
    entries: list[Entry], allocs: dict[int, Alloc], eligible: Callable[[Alloc], bool], now: float
) -> float:
    """Least time any candidate in `entries` has run (`max(0, now - start)` of the latest start among
    those neither stopping, placed in this cycle nor protected, that `eligible` accepts); inf: none."""
    for i in range(len(entries) - 1, -1, -1):
        s, k = entries[i]
        a = allocs[k]
        if a.stopping or a.placed_now or a.protected or not eligible(a):
            continue
        return max(0.0, now - s)
    return float("inf")


def _insert(entries: list[Entry], entry: Entry) -> None:
    if not entries or entries[-1] < entry:
        entries.append(entry)  # the common case: a job started now
    else:
        insort(entries, entry)


def _delete(entries: list[Entry], entry: Entry) -> None:
    i = bisect_left(entries, entry)
    if i < len(entries) and entries[i] == entry:
        del entries[i]
