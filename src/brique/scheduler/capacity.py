"""One cycle's capacity: free GPUs counted per rack and site, over a `SchedulerState`.

The cycle's view of a persistent `SchedulerState` (`state.py`), which it never
changes behind the caller's back. What a cycle writes is either copied first
(`free`, per-rack/site counts, masks, and each bucket or `full` set on its first
change: copy-on-write) or logged and put back by `revert()` (which GPU belongs to
which allocation, allocations placed or stopped in this cycle). A cycle therefore
costs O(pending jobs + racks it touches), not O(trays + running jobs). The counts
make placement cost scale with racks, not GPUs:

- `free[g]`      1 when GPU g is healthy, unallocated and not held for anyone
- `rack_free`    free GPUs per rack (NVLink domain), `site_free` per site
- `buckets[s][f]` insertion-ordered set of racks of site s with exactly f free GPUs
  (rack order at the start of a cycle), and `masks[s]` a bitmask of the non-empty
  buckets, so "fullest rack with >= g free" is one shift and one lowest-set-bit per site
- `full[s]`      racks of site s whose every healthy GPU is free (whole racks for big jobs)

Held GPUs (advance reservations, the head job's reservation) are taken out of the
hard counts and tracked in `held`; only the slow path in `assign.py` looks at them.
"""

from __future__ import annotations

from brique.domain.jobs import Job
from brique.scheduler.alloc import Alloc, Hold
from brique.scheduler.state import SchedulerState
from brique.scheduler.topology import Topology

__all__ = ["Alloc", "Capacity", "Hold"]


class Capacity:
    def __init__(self, state: SchedulerState, now: float, owned: bool = False) -> None:
        """owned: the state is this cycle's alone (built for it and thrown away): write it directly."""
        topo = state.topo
        self.topo: Topology = topo
        self.now = now
        self.usable = state.usable
        self.tray_usable = state.tray_usable
        self.rack_usable = state.rack_usable
        self.allocs: dict[int, Alloc] = state.allocs
        self.overlap = state.overlap  # some running jobs were given the same GPUs
        self.gpu_alloc: list[int] = state.gpu_alloc
        self.holds: list[Hold] = []
        self.held: dict[int, int] = {}  # GPU -> hold index
        self.held_free: dict[int, int] = {}  # rack -> held GPUs still free
        self._next = state.next_key
        self._first = state.next_key  # allocations from here on were placed in this cycle
        self._cow = not owned
        if owned:
            self.free, self.rack_free, self.site_free = state.free, state.rack_free, state.site_free
            self.buckets, self.masks, self.full = state.buckets, state.masks, state.full
            return
        self.free = bytearray(state.free)
        self.rack_free = list(state.rack_free)
        self.site_free = list(state.site_free)
        self.masks = list(state.masks)
        self.buckets = [list(b) for b in state.buckets]
        self.full = list(state.full)
        self._base = state
        self._owners: dict[int, int] = {}  # GPU -> its allocation before this cycle
        self._stopped: list[Alloc] = []

    def revert(self) -> None:
        """Undo what this cycle did to the shared state (no-op for an owned one)."""
        if not self._cow:
            return
        owner = self.gpu_alloc
        for g, a in self._owners.items():
            owner[g] = a
        for stopped in self._stopped:
            stopped.stopping = False
        for k in range(self._base.next_key, self._next):
            self.allocs.pop(k, None)
        self._owners.clear()
        self._stopped.clear()
        self._next = self._base.next_key

    def placed(self) -> list[tuple[int, Alloc]]:
        """(allocation, Alloc) of the jobs placed in this cycle so far."""
        allocs = self.allocs
        return [(k, allocs[k]) for k in range(self._first, self._next) if k in allocs]

    def stop(self, alloc: int) -> Alloc:
        """Mark allocation `alloc` stopping for the rest of this cycle."""
        a = self.allocs[alloc]
        if self._cow and not a.stopping and not a.placed_now:
            self._stopped.append(a)
        a.stopping = True
        return a

    # ---------- bucket upkeep ----------

    def _bucket(self, s: int, f: int) -> dict[int, None]:
        b = self.buckets[s][f]
        if self._cow and b is self._base.buckets[s][f]:
            b = self.buckets[s][f] = dict(b)
        return b

    def _full(self, s: int) -> dict[int, None]:
        d = self.full[s]
        if self._cow and d is self._base.full[s]:
            d = self.full[s] = dict(d)
        return d

    def _enter(self, r: int, s: int, f: int) -> None:
        self._bucket(s, f)[r] = None
        self.masks[s] |= 1 << f
        if f and f == self.rack_usable[r]:
            self._full(s)[r] = None

    def _leave(self, r: int, s: int, f: int) -> None:
        bucket = self._bucket(s, f)
        del bucket[r]
        if not bucket:
            self.masks[s] &= ~(1 << f)
        if r in self.full[s]:
            del self._full(s)[r]

    def _shift(self, r: int, delta: int) -> None:
        s = self.topo.rack_site[r]
        old = self.rack_free[r]
        self._leave(r, s, old)
        self.rack_free[r] = old + delta
        self.site_free[s] += delta
        self._enter(r, s, old + delta)

    # ---------- allocation ----------

    def take(self, gpus: list[int], alloc: int) -> None:
        """Mark `gpus` used by allocation `alloc` (hard-free or held-free GPUs)."""
        topo, free, owner = self.topo, self.free, self.gpu_alloc
        saved = self._owners if self._cow else None
        per_rack: dict[int, int] = {}
        for g in gpus:
            if saved is not None and g not in saved:
                saved[g] = owner[g]
            owner[g] = alloc
            if free[g]:
                free[g] = 0
                r = topo.gpu_rack[g]
                per_rack[r] = per_rack.get(r, 0) + 1
            elif g in self.held and self.usable[g]:
                r = topo.gpu_rack[g]
                self.held_free[r] -= 1
        for r, n in per_rack.items():
            self._shift(r, -n)

    def place(self, job: Job, gpus: list[int]) -> int:
        k = self._next
        self._next += 1
        self.allocs[k] = Alloc(job, gpus, self.now, placed_now=True)
        self.take(gpus, k)
        return k

    def hold(self, h: Hold) -> int:
        """Take `h.gpus` out of the hard counts; return the hold's index."""
        hi = len(self.holds)
        self.holds.append(h)
        topo, free = self.topo, self.free
        per_rack: dict[int, int] = {}
        for g in h.gpus:
            self.held[g] = hi
            if free[g]:
                free[g] = 0
                r = topo.gpu_rack[g]
                per_rack[r] = per_rack.get(r, 0) + 1
        for r, n in per_rack.items():
            self._shift(r, -n)
            self.held_free[r] = self.held_free.get(r, 0) + n
        return hi

    def is_held_free(self, g: int) -> bool:
        return g in self.held and self.usable[g] == 1 and self.gpu_alloc[g] == -1

    # ---------- queries ----------

    def largest_rack_block(self, sites: tuple[int, ...]) -> int:
        """Most free GPUs in one rack over `sites`."""
        return max((self.masks[s].bit_length() - 1 for s in sites), default=0)

    def largest_site_block(self, sites: tuple[int, ...]) -> int:
        """Most GPUs a multi-rack job could get in one site: whole free racks + the best other rack."""
        best = 0
        for s in sites:
            whole = sum(self.rack_usable[r] for r in self.full[s])
            other = 0
            for f in range(len(self.buckets[s]) - 1, 0, -1):
                if any(r not in self.full[s] for r in self.buckets[s][f]):
                    other = f
                    break
            best = max(best, whole + other)
        return best
