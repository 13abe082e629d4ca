"""Mutable per-cycle capacity state: free GPUs counted per tray, rack and site.

Built from a snapshot at the start of a cycle and owned by that cycle only. The
counts make placement cost scale with racks, not GPUs:

- `free[g]`      1 when GPU g is healthy, unallocated and not held for anyone
- `tray_free`    free GPUs per tray (compute node), `rack_free` per rack (NVLink domain)
- `buckets[s][f]` insertion-ordered set of racks of site s with exactly f free GPUs,
  and `masks[s]` a bitmask of the non-empty buckets, so "fullest rack with >= g free"
  is one shift and one lowest-set-bit per site
- `full[s]`      racks of site s whose every healthy GPU is free (whole racks for big jobs)

Held GPUs (advance reservations, the head job's reservation) are taken out of the
hard counts and tracked in `held`; only the slow path in `assign.py` looks at them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from brique.domain.fleet import HealthState
from brique.domain.jobs import Job, RunningJob
from brique.scheduler.snapshot import ClusterSnapshot
from brique.scheduler.topology import Topology


@dataclass(slots=True)
class Alloc:
    """A job holding GPUs: running at snapshot time, or placed in this cycle."""

    job: Job
    gpus: list[int]
    started_at: float
    expected_end: float  # backfill's view (estimate, else max runtime)
    latest_end: float  # max runtime or stop time
    placed_now: bool = False
    stopping: bool = False
    protected: bool = False  # within-guarantee priority work: never preempted
    borrowed: bool = False  # beyond its tenant's guarantee


@dataclass(slots=True)
class Hold:
    """GPUs kept for one owner. Others may use them only if they end by `deadline`."""

    owner: str  # reservation id or head job id
    deadline: float
    strict: bool  # judge others by max runtime (advance reservations) or estimate (head)
    reservation: str | None = None  # when inside an active advance reservation window
    tenant: str | None = None
    gpus: list[int] = field(default_factory=list)


class Capacity:
    def __init__(self, snap: ClusterSnapshot, now: float) -> None:
        topo = snap.topology
        self.topo: Topology = topo
        self.now = now
        self.usable = _usable(topo, snap.health)
        self.free = bytearray(self.usable)
        self.gpu_alloc: list[int] = [-1] * topo.gpu_count
        self.allocs: list[Alloc] = []
        self.holds: list[Hold] = []
        self.held: dict[int, int] = {}  # GPU -> hold index
        self.held_free: dict[int, int] = {}  # rack -> held GPUs still free
        self.unknown_gpus: list[str] = []
        for rj in snap.running:  # order-free: counts and buckets are built after all marks
            self._add_running(rj)
        self._count()

    # ---------- building ----------

    def _add_running(self, rj: RunningJob) -> None:
        idx, free, owner, k = self.topo.gpu_index, self.free, self.gpu_alloc, len(self.allocs)
        try:
            gpus = [idx[gid] for gid in rj.gpus]
        except KeyError:
            gpus = [idx[gid] for gid in rj.gpus if gid in idx]
            self.unknown_gpus.extend(gid for gid in rj.gpus if gid not in idx)
        for g in gpus:
            free[g] = 0
            owner[g] = k
        now = self.now
        end, latest = rj.expected_end(now), rj.latest_end(now)
        self.allocs.append(
            Alloc(rj.job, gpus, rj.started_at, end, latest, stopping=rj.stopping_at is not None)
        )

    def _count(self) -> None:
        topo, free, usable = self.topo, self.free, self.usable
        self.tray_free = [free.count(1, a, b) for a, b in topo.tray_span]
        self.tray_usable = [usable.count(1, a, b) for a, b in topo.tray_span]
        self.rack_usable = [usable.count(1, a, b) for a, b in topo.rack_span]
        self.rack_free = [free.count(1, a, b) for a, b in topo.rack_span]
        n = len(topo.sites)
        self.site_free = [0] * n
        top = max(topo.rack_size, default=0)
        self.buckets: list[list[dict[int, None]]] = [[{} for _ in range(top + 1)] for _ in range(n)]
        self.masks = [0] * n
        self.full: list[dict[int, None]] = [{} for _ in range(n)]
        for r, f in enumerate(self.rack_free):
            s = topo.rack_site[r]
            self.site_free[s] += f
            self._enter(r, s, f)

    # ---------- bucket upkeep ----------

    def _enter(self, r: int, s: int, f: int) -> None:
        self.buckets[s][f][r] = None
        self.masks[s] |= 1 << f
        if f and f == self.rack_usable[r]:
            self.full[s][r] = None

    def _leave(self, r: int, s: int, f: int) -> None:
        bucket = self.buckets[s][f]
        del bucket[r]
        if not bucket:
            self.masks[s] &= ~(1 << f)
        self.full[s].pop(r, None)

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
        topo, free = self.topo, self.free
        per_rack: dict[int, int] = {}
        for g in gpus:
            self.gpu_alloc[g] = alloc
            if free[g]:
                free[g] = 0
                self.tray_free[topo.gpu_tray[g]] -= 1
                r = topo.gpu_rack[g]
                per_rack[r] = per_rack.get(r, 0) + 1
            elif g in self.held and self.usable[g]:
                r = topo.gpu_rack[g]
                self.held_free[r] -= 1
        for r, n in per_rack.items():
            self._shift(r, -n)

    def place(self, job: Job, gpus: list[int]) -> int:
        end = self.now + job.expected_runtime_s
        a = Alloc(job, gpus, self.now, end, self.now + job.max_runtime_s, placed_now=True)
        self.allocs.append(a)
        self.take(gpus, len(self.allocs) - 1)
        return len(self.allocs) - 1

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
                self.tray_free[topo.gpu_tray[g]] -= 1
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

    def free_gpus_in_tray(self, t: int) -> list[int]:
        free = self.free
        return [g for g in self.topo.tray_gpus[t] if free[g]]


def _usable(topo: Topology, health: dict[str, HealthState] | object) -> bytearray:
    usable = bytearray(topo.healthy)
    if not health:
        return usable
    for key, state in health.items():  # type: ignore[attr-defined]
        up = 1 if state == HealthState.UP else 0
        if key in topo.gpu_index:
            usable[topo.gpu_index[key]] = up
        elif key in topo.tray_index:
            for g in topo.tray_gpus[topo.tray_index[key]]:
                usable[g] = up
    return usable
