"""Persistent cluster state: what a cycle starts from, kept by the caller across cycles.

`schedule(snapshot, ...)` builds a `SchedulerState` from the snapshot and throws it
away. A caller that runs many cycles (the simulator, a control plane that keeps its
view in memory) builds one once and feeds it deltas instead:

    state = SchedulerState(topology, contracts=policy.contracts)
    state.apply_started(running_job)        # a job now holds GPUs
    state.apply_stopping(job_id, kill_at)   # a stop signal was sent: gone by `kill_at`
    state.apply_finished(job_id)            # its GPUs are free again
    state.set_health(node_or_gpu_id, HealthState.DRAINING)
    result = schedule_state(state, pending, policy, now, usage=usage)

A cycle never changes the state it is given (`scheduler/capacity.py` copies what it
writes, or logs and reverts it), so `schedule_state` gives exactly the decisions
`schedule` gives on the equivalent snapshot. Kept incrementally:

- `free[g]`, `gpu_alloc[g]`: per GPU, free flag and the allocation holding it
- `rack_free`, `site_free`: free GPUs per rack (NVLink domain) and per site
- `buckets[s][f]`: racks of site s with exactly f free GPUs, in rack order, and
  `masks[s]` the non-empty buckets; `full[s]`: racks whose every usable GPU is free
- `tray_usable`, `rack_usable`: usable GPUs per tray/rack, recomputed only on health changes
- `ledger`: contract classification per tenant (`quota.Ledger`), refreshed per dirty tenant
- `ends`: (stop time, else start + expected runtime; job id; allocation), sorted, and `late`:
  (start + max runtime; ...) of the running jobs already past their estimate when last asked:
  backfill's expected ends at any `now` (`ends_at`) without a pass over running work
- `preemptible`: allocations of preemptible-tier jobs, in allocation order (victim candidates), and
  `pre_rack`: per rack, the usable GPUs of those not stopping (a bound on what preemption can free there)
- `version`: bumped by every delta; `kept`: answers a cycle computed on the state as it was (no
  placement, stop or hold of its own yet), reused by the next cycles while `version` is the same
- `candidates`: allocations per rack by start time, for victim indexes (`victims.Candidates`)

A delta costs O(GPUs of the job + racks in the buckets it moves between); a health
change recounts everything (rare).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Mapping
from operator import itemgetter

from brique.domain.contracts import ContractBook
from brique.domain.fleet import HealthState
from brique.domain.jobs import RunningJob, Tier
from brique.scheduler.admit import Sites
from brique.scheduler.alloc import Alloc
from brique.scheduler.quota import Ledger
from brique.scheduler.topology import Topology
from brique.scheduler.victims import Candidates


class SchedulerState:
    def __init__(
        self,
        topology: Topology,
        running: Iterable[RunningJob] = (),
        health: Mapping[str, HealthState] | None = None,
        contracts: ContractBook | None = None,
    ) -> None:
        topo = self.topo = topology
        self.health: dict[str, HealthState] = dict(health or {})
        self.sites = Sites(topo)  # candidate sites per placement policy: a pure function of the topology
        self.allocs: dict[int, Alloc] = {}
        self.by_job: dict[str, int] = {}
        self.next_key = 0
        self.unknown_gpus: list[str] = []
        self.overlap = False  # two running jobs were ever said to hold the same GPU (sticky)
        self.gpu_alloc: list[int] = [-1] * topo.gpu_count
        self.ends: list[tuple[float, str, int]] = []
        self.late: list[tuple[float, str, int]] = []
        self._moved = float("-inf")  # every entry of `ends` due by then (but stops) is in `late`
        self._end_of: dict[int, tuple[tuple[float, str, int], bool]] = {}  # allocation -> (entry, in `late`)
        self._moves = 0  # calls of `ends_at` that moved entries to `late`
        # `ends_at`'s last answer that did not depend on `now`, under its token (version, moves), and the
        # token of the last answer (None: it depended on `now`): equal tokens, equal answers.
        self._merged: tuple[tuple[int, int] | None, list[tuple[float, str, int]]] = (None, [])
        self.ends_token: tuple[int, int] | None = None
        self.preemptible: dict[int, None] = {}
        self.version = 0  # bumped by every delta: answers kept in `kept` hold while it is the same
        self.kept: dict[object, object] = {}  # `cycle._Cycle`'s answers on this state at `kept_version`
        self.kept_version = -1
        self.heads: dict[tuple[object, ...], object] = {}  # `backfill.kept_start`'s walks, checked before use
        self.candidates = Candidates(topo)
        self.ledger = Ledger(contracts or ContractBook(), topo)
        self._usable_from_health()
        self.pre_rack = [0] * len(topo.rack_span)
        self.free = bytearray(self.usable)
        free = self.free
        for rj in running:  # order-free: counts and buckets are built after all marks
            for g in self.allocs[self._add(rj)].gpus:
                free[g] = 0
        self._count()

    # ---------- deltas ----------

    def apply_started(self, rj: RunningJob) -> None:
        """`rj` now holds its GPUs (its `started_at` may lie in the future: a handover)."""
        if rj.job.id in self.by_job:
            raise ValueError(f"job {rj.job.id} already holds GPUs")
        self.version += 1
        key = self._add(rj)
        free, topo, per_rack = self.free, self.topo, {}
        for g in self.allocs[key].gpus:
            if free[g]:
                free[g] = 0
                r = topo.gpu_rack[g]
                per_rack[r] = per_rack.get(r, 0) - 1
        for r, n in per_rack.items():
            self._move(r, n)

    def apply_finished(self, job_id: str) -> None:
        """Job `job_id` no longer holds GPUs (completed, killed or handed over)."""
        self.version += 1
        key = self.by_job.pop(job_id)
        a = self.allocs.pop(key)
        self.ledger.remove(key, a)
        self._drop_end(key)
        if key in self.preemptible:
            del self.preemptible[key]
            if not a.stopping:
                self._pre(a, -1)
        self.candidates.remove(key, a)
        free, usable, owner, topo, per_rack = self.free, self.usable, self.gpu_alloc, self.topo, {}
        for g in a.gpus:
            if owner[g] != key:
                continue
            owner[g] = -1
            if usable[g]:
                free[g] = 1
                r = topo.gpu_rack[g]
                per_rack[r] = per_rack.get(r, 0) + 1
        for r, n in per_rack.items():
            self._move(r, n)

    def apply_stopping(self, job_id: str, stopping_at: float) -> None:
        """A stop signal was sent to `job_id`: it keeps its GPUs until it is gone, by `stopping_at`."""
        self.version += 1
        key = self.by_job[job_id]
        a = self.allocs[key]
        self.ledger.stop(a)
        if key in self.preemptible and not a.stopping:
            self._pre(a, -1)
        a.stop_at = stopping_at
        a.stopping = True
        self._drop_end(key)
        self._keep_end(key, a)

    def set_health(self, key: str, state: HealthState) -> None:
        """Override a node's or GPU's health (draining/down never get new work); recounts all."""
        self.version += 1
        self.health[key] = state
        self._usable_from_health()
        for a in self.allocs.values():
            a.rack_spread = None
        self.pre_rack = [0] * len(self.topo.rack_span)
        for k in self.preemptible:
            if not self.allocs[k].stopping:
                self._pre(self.allocs[k], 1)
        self.free = bytearray(
            1 if u and o < 0 else 0 for u, o in zip(self.usable, self.gpu_alloc, strict=True)
        )
        self._count()

    def use_contracts(self, contracts: ContractBook) -> None:
        """Classify running work against `contracts` (a no-op when they are the ones in use)."""
        if contracts is not self.ledger.book and contracts != self.ledger.book:
            self.version += 1
            self.ledger = Ledger(contracts, self.topo)
            for key, a in self.allocs.items():
                self.ledger.add(key, a)

    # ---------- queries ----------

    def running_ids(self) -> set[str]:
        return set(self.by_job)

    def ends_at(self, now: float) -> list[tuple[float, str, int]]:
        """(expected end at `now`, job id, allocation) of every allocation, in time order: a new list.

        `backfill.expected_ends` over these allocations: only the entries already due by `now` are
        recomputed (overdue estimate: the max runtime; a stop or max runtime passed: `now`)."""
        if now < self._moved:  # asked about an earlier instant: from scratch (not a cycle's placements)
            first = self.next_key
            self.ends_token = None
            return sorted((a.expected_end(now), a.job.id, k) for k, a in self.allocs.items() if k < first)
        ends, late, allocs = self.ends, self.late, self.allocs
        k = bisect_right(ends, now, key=_END)
        if k:  # past their estimate: expected at their max runtime from now on (a constant), moved once
            stops = []
            for e in ends[:k]:
                a = allocs[e[2]]
                if a.stop_at is None:
                    entry = (a.started_at + a.job.max_runtime_s, e[1], e[2])
                    insort(late, entry)
                    self._end_of[e[2]] = (entry, True)
                else:
                    stops.append(e)
            ends[:k] = stops
            self._moves += 1
        self._moved = now
        k = len(stops) if k else 0  # due stops: gone by now
        m = bisect_left(late, now, key=_END)  # past even their max runtime: now
        if not k and not m:  # no entry depends on `now`: the answer is the lists' merge, kept while they are
            token = (self.version, self._moves)
            self.ends_token = token
            if self._merged[0] != token:
                self._merged = (token, sorted(late + ends))
            return list(self._merged[1])  # a copy: callers add this cycle's placements to it
        self.ends_token = None
        out = [(now, e[1], e[2]) for e in ends[:k]]
        out += [(now, e[1], e[2]) for e in late[:m]]
        out += late[m:]
        out += ends[k:]
        out.sort()  # a few sorted runs: merges
        return out

    # ---------- building ----------

    def _add(self, rj: RunningJob) -> int:
        idx, owner = self.topo.gpu_index, self.gpu_alloc
        key = self.next_key
        self.next_key += 1
        try:
            gpus = [idx[gid] for gid in rj.gpus]
        except KeyError:
            gpus = [idx[gid] for gid in rj.gpus if gid in idx]
            self.unknown_gpus.extend(gid for gid in rj.gpus if gid not in idx)
        for g in gpus:
            if owner[g] >= 0:
                self.overlap = True
            owner[g] = key
        stopping = rj.stopping_at is not None
        a = Alloc(rj.job, gpus, rj.started_at, rj.stopping_at, stopping=stopping, restarted=rj.restarts > 0)
        self.allocs[key] = a
        self.by_job[rj.job.id] = key
        self.ledger.add(key, a)
        self._keep_end(key, a)
        self.candidates.add(key, a)
        if rj.job.tier == Tier.PREEMPTIBLE:
            self.preemptible[key] = None
            if not stopping:
                self._pre(a, 1)
        return key

    def _pre(self, a: Alloc, sign: int) -> None:
        pre = self.pre_rack
        for r, n in a.spread(self.usable, self.topo.gpu_rack):
            pre[r] += sign * n

    def _keep_end(self, key: int, a: Alloc) -> None:
        if a.stop_at is not None:
            base = a.stop_at
        else:
            job = a.job
            est, most = job.estimated_runtime_s, job.max_runtime_s
            base = a.started_at + (most if est is None or est > most else est)
        entry = (base, a.job.id, key)
        if base <= self._moved and a.stop_at is None:  # already past its estimate when last asked
            entry = (a.started_at + a.job.max_runtime_s, a.job.id, key)
            self._end_of[key] = (entry, True)
            insort(self.late, entry)
        else:
            self._end_of[key] = (entry, False)
            insort(self.ends, entry)

    def _drop_end(self, key: int) -> None:
        entry, late = self._end_of.pop(key)
        entries = self.late if late else self.ends
        del entries[bisect_left(entries, entry)]

    def _usable_from_health(self) -> None:
        topo = self.topo
        usable = bytearray(topo.healthy)
        for key, state in self.health.items():
            up = 1 if state == HealthState.UP else 0
            if key in topo.gpu_index:
                usable[topo.gpu_index[key]] = up
            elif key in topo.tray_index:
                for g in topo.tray_gpus[topo.tray_index[key]]:
                    usable[g] = up
        self.usable = bytes(usable)
        self.tray_usable = [usable.count(1, a, b) for a, b in topo.tray_span]
        self.rack_usable = [usable.count(1, a, b) for a, b in topo.rack_span]

    def _count(self) -> None:
        topo, free = self.topo, self.free
        self.rack_free = [free.count(1, a, b) for a, b in topo.rack_span]
        n = len(topo.sites)
        self.site_free = [0] * n
        top = max(topo.rack_size, default=0)
        self.buckets: list[list[dict[int, None]]] = [[{} for _ in range(top + 1)] for _ in range(n)]
        self.masks = [0] * n
        self.full: list[dict[int, None]] = [{} for _ in range(n)]
        for r, f in enumerate(self.rack_free):  # rack order: every bucket starts sorted
            s = topo.rack_site[r]
            self.site_free[s] += f
            self.buckets[s][f][r] = None
            self.masks[s] |= 1 << f
            if f and f == self.rack_usable[r]:
                self.full[s][r] = None

    def _move(self, r: int, delta: int) -> None:
        """Rack `r` gains `delta` free GPUs; buckets and `full` stay in rack order."""
        s = self.topo.rack_site[r]
        old = self.rack_free[r]
        new = old + delta
        self.rack_free[r] = new
        self.site_free[s] += delta
        bucket = self.buckets[s][old]
        del bucket[r]
        if not bucket:
            self.masks[s] &= ~(1 << old)
        self.full[s].pop(r, None)
        self.buckets[s][new] = _insert_sorted(self.buckets[s][new], r)
        self.masks[s] |= 1 << new
        if new and new == self.rack_usable[r]:
            self.full[s] = _insert_sorted(self.full[s], r)


_END = itemgetter(0)


def _insert_sorted(d: dict[int, None], r: int) -> dict[int, None]:
    """`d` with key `r` added, keys in increasing order (d may be returned, updated in place)."""
    if not d or next(reversed(d)) < r:
        d[r] = None
        return d
    return dict.fromkeys(sorted([*d, r]))
