"""One scheduling cycle: `schedule(snapshot, pending, policy, now) -> CycleResult`.

Pure: no clock, no I/O, no randomness; the same input gives the same decisions
whatever the order of `pending` or `snapshot.running`. `schedule_state` runs the
same cycle on a `SchedulerState` the caller keeps across cycles (`state.py`) and
leaves it as it found it. Phases:

1. state      snapshot (or kept state) -> per-rack/site free counts (`capacity.py`),
              contract accounting and protected work (`quota.py`)
2. holds      advance reservations hold GPUs and drain work ahead of their window
3. admit      reject jobs that can never run (`admit.py`)
4. reserved   jobs inside an active advance reservation go onto its GPUs
5. guarantee  priority jobs within their tenant's guarantee (counting its priority work
              only) start now, preempting preemptible and borrowed work, or the tenant's
              own standard work, if needed (`preempt.py`)
6. share      other non-preemptible jobs in weighted fair-share order (`queue.py`);
              the first that cannot start gets a reservation (EASY head), later ones
              are backfilled around it (`backfill.py`)
7. scavenge   preemptible jobs take what is still idle
8. explain    everything not placed waits, with reasons (`explain.py`)
"""

from __future__ import annotations

import heapq
from bisect import insort
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Final, cast

from brique.domain.contracts import AdvanceReservation
from brique.domain.fleet import Site
from brique.domain.jobs import Job, Tier
from brique.domain.policy import SchedulingPolicy
from brique.scheduler import admit, explain, preempt, reservations, reserve, victims
from brique.scheduler.assign import place_fast
from brique.scheduler.backfill import (
    HeadReservation,
    could_use_holds,
    earliest_start,
    expected_ends,
    first_fit,
    hold_allows,
    hold_room,
    kept_start,
    place_with_holds,
)
from brique.scheduler.capacity import Alloc, Capacity, Hold
from brique.scheduler.decisions import (
    CycleResult,
    Decision,
    Place,
    Preempt,
    Reason,
    ReasonCode,
    Reject,
    Reserve,
    Wait,
)
from brique.scheduler.fairshare import history_gpus, share_key, waterfill
from brique.scheduler.queue import FairQueue, Merge, Segment, TenantLists, by_tenant, canonical
from brique.scheduler.quota import Quota
from brique.scheduler.snapshot import ClusterSnapshot
from brique.scheduler.state import SchedulerState


def schedule(
    snapshot: ClusterSnapshot, pending: Iterable[Job], policy: SchedulingPolicy, now: float
) -> CycleResult:
    """Decide, for one instant `now` (POSIX seconds), what starts, waits, is reserved or preempted."""
    state = SchedulerState(snapshot.topology, snapshot.running, snapshot.health, policy.contracts)
    return _run(state, canonical(pending), policy, now, snapshot.usage, snapshot.reservations, owned=True,
                pins=snapshot.pins)  # fmt: skip


def schedule_state(
    state: SchedulerState,
    pending: Iterable[Job],
    policy: SchedulingPolicy,
    now: float,
    usage: Mapping[str, float] | None = None,
    reservations: Iterable[AdvanceReservation] = (),
    waits: bool = True,
    ordered: bool = False,
    hidden_demand: Mapping[str, float] | None = None,
    pins: Mapping[str, tuple[str, ...]] | None = None,
) -> CycleResult:
    """`schedule` over a state the caller keeps across cycles (see `state.py`); `state` is left as it was.

    Gives the decisions `schedule` gives for the snapshot with the same topology, running
    jobs, health, `usage` and `reservations`, at a cost that scales with the pending jobs
    and the racks they touch rather than with trays and running jobs.
    waits: False leaves the `Wait` decisions (and the work of explaining them) out, for a
    caller that acts only on starts, reservations, rejections and preemptions (the simulator);
    every other decision, and `examined`, are the same.
    ordered: `pending` is a list already in canonical order (submit time, id), as `queue.canonical`
    would sort it (the caller vouches for it; the sort is skipped).
    hidden_demand: GPUs asked per tenant by pending jobs left out of `pending` (a caller that shows the
    core only the head of a deep queue): entitlements (`entitlement_cap_s`) count them as demand.
    pins: job id -> GPUs of its last head reservation (`Reserve.gpus`; `ClusterSnapshot.pins`).
    """
    state.use_contracts(policy.contracts)
    jobs = pending if ordered and isinstance(pending, list) else canonical(pending)
    return _run(state, jobs, policy, now, usage or {}, tuple(reservations), owned=False, waits=waits,
                hidden=hidden_demand, pins=pins)  # fmt: skip


Group = tuple[str, Tier]  # (tenant, tier): how `schedule_groups`' caller keeps its pending jobs


def schedule_groups(
    state: SchedulerState,
    groups: Mapping[Group, Sequence[Job]],
    policy: SchedulingPolicy,
    now: float,
    usage: Mapping[str, float] | None = None,
    demand: Mapping[str, int] | None = None,
    waits: bool = True,
    pins: Mapping[str, tuple[str, ...]] | None = None,
    floors: Mapping[Group, tuple[int, float, float]] | None = None,
) -> CycleResult:
    """`schedule_state` over pending jobs the caller keeps per (tenant, tier), read in place.

    Each group holds its jobs in canonical order (submit time, id) and every job was admitted
    already (`admission` said nothing against it; no advance reservation is named). The cycle reads
    each group only as far as it examines it, so its cost follows the jobs it looks at, not the
    queue's depth; it gives the decisions `schedule_state` gives for all the groups' jobs in one list.
    demand: GPUs asked per tenant by all the groups' jobs (None: summed here), for `entitlement_cap_s`.
    Policies with project quotas or weights (which reorder or filter jobs) take the list path.
    pins: as for `schedule_state`.
    floors: per group with jobs, (fewest GPUs, shortest `expected_runtime_s`, shortest `max_runtime_s`) of
    its jobs (`simulator.pending.PendingIndex.floors`): with `waits=False`, a scavenge phase whose idle GPUs
    none of its jobs can use (no rack has as many free, no hold admits so short a run) only counts the
    jobs it would have examined, in its order, without examining them one by one (same result).
    """
    state.use_contracts(policy.contracts)
    if policy.project_quotas or policy.project_weights:
        jobs = canonical(j for g in groups.values() for j in g)
        return _run(state, jobs, policy, now, usage or {}, (), owned=False, waits=waits, pins=pins)
    c = _Cycle(state, policy, now, usage or {}, (), owned=False)
    c.explain_waits = waits
    c.pins = pins or {}
    c.floors = floors
    try:
        split = _Split(groups)  # one pass over the groups, read by the phases below
        lanes, removed = c.guarantee_lanes(split.prio)  # 5. guarantee (nothing to hold, admit or reserve)
        c.keep_reserve()
        if policy.entitlement_cap_s is not None:
            if demand is None:
                demand = {}
                for (t, _), g in groups.items():
                    demand[t] = demand.get(t, 0) + sum(j.gpus for j in g)  # type: ignore[attr-defined]
            c.entitle_demand(demand, removed)
        share, scavenge = c.tier_lanes(split, lanes)
        c.share_phase(share)  # 6. share (+ backfill)
        c.scavenge_phase(scavenge)  # 7. scavenge
        return c.result()  # 8. explain
    finally:
        c.cap.revert()


def admission(state: SchedulerState, job: Job, policy: SchedulingPolicy, now: float) -> tuple[Reason, ...]:
    """Why a cycle would reject `job` (empty: it is admitted), for a caller that admits jobs once, on
    arrival (`schedule_groups`). Only for jobs naming no advance reservation."""
    state.use_contracts(policy.contracts)
    placement = job.placement
    seen = state.sites.admitted(state.ledger.book)  # the cycles' own answers, shared
    key = (id(placement), job.gpus, job.tenant)
    got = seen.get(key)
    if got is not None and got[0] is placement:
        return got[1]
    why = admit.reject_reasons(job, state.sites, Quota(state.ledger), {}, now)
    seen[key] = (placement, why)
    return why


def _run(
    state: SchedulerState,
    pending: list[Job],
    policy: SchedulingPolicy,
    now: float,
    usage: Mapping[str, float],
    reservations: tuple[AdvanceReservation, ...],
    owned: bool,
    waits: bool = True,
    hidden: Mapping[str, float] | None = None,
    pins: Mapping[str, tuple[str, ...]] | None = None,
) -> CycleResult:
    c = _Cycle(state, policy, now, usage, reservations, owned)  # 1. state
    c.explain_waits = waits
    c.hidden = hidden or {}
    c.pins = pins or {}
    try:
        c.hold_reservations()  # 2. holds
        jobs = c.project_phase(c.admit(pending))  # 3. admit (+ project quotas); `pending` in canonical order
        jobs = c.reserved_phase(jobs)  # 4. reserved
        jobs = c.guarantee_phase(jobs)  # 5. guarantee
        c.keep_reserve()
        c.entitle(jobs)
        share, scavenge = c.by_tier(jobs)
        c.share_phase(share)  # 6. share (+ backfill)
        c.scavenge_phase(scavenge)  # 7. scavenge
        return c.result()  # 8. explain
    finally:
        c.cap.revert()


class _Key:
    """A tenant's share key and the GPUs it held when it was computed (`_Cycle._share_key`)."""

    def __init__(self, held: int, key: float) -> None:
        self.held = held
        self.key = key


def _idle(cap: Capacity) -> bool:
    """Some GPU is free, or held but still free (`any(site_free) or any(held_free.values())`)."""
    return any(n for n in cap.site_free) or any(n for n in cap.held_free.values())  # loops, not iterators


class _Split:
    """`schedule_groups`' groups in one pass: the non-empty ones per tier and tenant, and the tenants in order
    of their first non-empty group."""

    def __init__(self, groups: Mapping[Group, Sequence[Job]]) -> None:
        self.prio: dict[str, Sequence[Job]] = {}
        self.std: dict[str, Sequence[Job]] = {}
        self.pre: dict[str, Sequence[Job]] = {}
        order: dict[str, None] = {}
        for key, g in groups.items():
            if g:
                t, tier = key
                if t not in order:
                    order[t] = None
                if tier is _PRIORITY:
                    self.prio[t] = g
                elif tier is _STANDARD:
                    self.std[t] = g
                elif tier is _PREEMPTIBLE:
                    self.pre[t] = g
        self.order = order


class _Cycle:
    def __init__(
        self,
        state: SchedulerState,
        policy: SchedulingPolicy,
        now: float,
        usage: Mapping[str, float],
        reservations: tuple[AdvanceReservation, ...],
        owned: bool,
    ) -> None:
        self.policy = policy
        self.now = now
        self.cap = Capacity(state, now, owned)
        self.state = state
        self.quota = Quota(state.ledger)
        self.sites = state.sites
        self.reservations = {r.id: r for r in reservations}
        self.usage = usage
        self.out: list[Decision] = []
        self.explain_waits = True  # False: no `Wait` decisions (see `schedule_state`)
        self.preempts: list[Preempt] = []
        self.waiting: list[tuple[Job, tuple[Reason, ...] | None]] = []
        self.head: tuple[Job, HeadReservation] | None = None
        self.preempt_heads = policy.preemption_heads
        self._victims: dict[str, preempt.VictimIndex] = {}  # built on first use, dropped on new holds
        self.examined: set[str] = set()
        self.project_quota = dict(policy.project_quotas)
        self.project_weight = dict(policy.project_weights)
        self.project_used = self._project_use() if self.project_quota or self.project_weight else {}
        self._ends: list[tuple[float, str, int]] | None = None  # sorted once per cycle, kept on placements
        # Fewest GPUs known not to fit in one rack of these sites (on hard-free GPUs; with these holds
        # admitting the job): free capacity only shrinks within a cycle, so larger asks fail too.
        self._no_fit: dict[tuple[int, ...], int] = {}
        self._no_fit_held: dict[tuple[tuple[int, ...], tuple[bool, ...]], int] = {}
        self._no_plan: dict[tuple[str, tuple[int, ...]], int] = {}  # the same for preemption plans
        self._keys: dict[str, _Key] = {}  # tenant -> (GPUs held, share key)
        self.wake_at: float | None = None  # earliest deferred reclaim falling due (`guarantee_start_s`)
        self._ent: dict[str, float] | None = None  # `entitlement_cap`: GPUs each tenant is entitled to
        self._under: set[str] = set()  # tenants holding less than their entitlement
        self.hidden: Mapping[str, float] = {}  # GPUs asked by pending jobs not shown (`schedule_state`)
        self.pins: Mapping[str, tuple[str, ...]] = {}  # job -> GPUs of its last head reservation
        self._deferred: dict[str, int] = {}  # tenant -> GPUs of its reclaims deferred in this cycle
        # (placement id, GPUs, tenant) -> known not to start but for holds; value: holds have room for it.
        # Valid until something is placed, stopped or held (`_changed`).
        self._stuck: dict[tuple[int, int, str], bool] = {}
        self._before: dict[tuple[tuple[int, ...], int], float] = {}  # `_starts_before`'s first fit, same epoch
        self._ages: dict[str, float] = {}  # `_min_age` per victim kind, for the cycle
        self._hold_lims: tuple[int, float | None, float] | None = None  # `_hold_admits`: per count of holds
        self._sites_within: dict[tuple[str, int, str], frozenset[str] | None] = {}  # `guarantee_lanes`
        self._pristine = True  # nothing placed, stopped or held in this cycle yet (`_kept`)
        self._fits_none: bool | None = None  # `_none_fits`, until something is placed, stopped or held
        self._floor_all: tuple[int, float, float] | None = None  # `_floor` over every group, for the cycle
        self.floors: Mapping[tuple[str, Tier], tuple[int, float, float]] | None = None  # `schedule_groups`
        self._ends_token: tuple[int, int] | None = None  # `SchedulerState.ends_token` of `_ends`

    # ---------- phases ----------

    def hold_reservations(self) -> None:
        if self.reservations:
            self.quota.ready()  # drains spare protected work
        for d in reservations.apply(self.cap, tuple(self.reservations.values())):
            self._stop(d.alloc, explain.drained(d.reservation), None)

    def admit(self, jobs: list[Job]) -> list[Job]:
        keep: list[Job] = []
        append = keep.append
        seen = self.sites.admitted(self.quota.book)  # kept across cycles while the contracts are the same
        known = self.sites.admitted_jobs()  # the same answers by job object: one look-up when seen before
        for job in jobs:
            hit = known.get(id(job))
            if hit is not None and hit[0] is job:
                if hit[1]:
                    self.out.append(Reject(job.id, hit[1]))
                else:
                    append(job)
                continue
            placement = job.placement
            if job.reservation is None:
                got = seen.get((id(placement), job.gpus, job.tenant))  # the answer's inputs
                if got is not None and got[0] is placement:
                    known[id(job)] = (job, got[1])
                    if got[1]:
                        self.out.append(Reject(job.id, got[1]))
                    else:
                        append(job)
                    continue
            why = admit.reject_reasons(job, self.sites, self.quota, self.reservations, self.now)
            if job.reservation is None:
                seen[(id(placement), job.gpus, job.tenant)] = (placement, why)  # keeps the policy alive
                known[id(job)] = (job, why)
            if why:
                self.out.append(Reject(job.id, why))
            else:
                append(job)
        return keep

    def project_phase(self, jobs: list[Job]) -> list[Job]:
        """Jobs whose project already holds its quota wait (and are not examined further)."""
        if not self.project_quota:
            return jobs
        return [job for job in jobs if not self._over_project_quota(job)]

    def reserved_phase(self, jobs: list[Job]) -> list[Job]:
        if not self.reservations:  # admission rejected every job naming one
            return jobs
        rest = []
        for job in jobs:
            if job.reservation is None:
                rest.append(job)
                continue
            if self._over_project_quota(job):
                continue
            res = self.reservations[job.reservation]
            if not res.active(self.now):
                self._wait(job, (explain.reservation_not_started(job, res.start, self.now),))
                continue
            sites = (self.cap.topo.site_index[res.site],)
            got = place_with_holds(self.cap, job, sites, self.sites.rack_limit(sites), only_held=True)
            if got is None:
                self._wait(job, (explain.reservation_full(job, self._hold_free(res.id)),))
            else:
                self._place(job, got[0], got[1], ReasonCode.IN_RESERVATION)
        return rest

    def guarantee_phase(self, jobs: list[Job]) -> list[Job]:
        if not self.project_quota and not self.state.ledger.any_guarantee:
            return jobs  # no job can be within a guarantee: the walk would keep the order and examine none
        rest: list[Job] = []
        first: list[Job] = []
        left = self.policy.max_job_test
        for job in jobs:
            if job.tier is not _PRIORITY or left <= 0:
                rest.append(job)  # beyond the depth: the share phase sees it, in its order
                continue
            if self._over_project_quota(job):
                continue
            if self._guarantee_spent(job.tenant):
                rest.append(job)  # nor any job behind it (the budget only shrinks): not examined
                continue
            self.examined.add(job.id)
            gs = self.quota.guarantee_sites(job)
            allowed = self.sites.of(job.placement)
            sites = allowed if gs is None else tuple(s for s in allowed if self.cap.topo.sites[s].id in gs)
            if not sites:
                rest.append(job)
            elif not self._start_guaranteed(job, sites, allowed):
                first.append(job)  # within guarantee yet no room even by preempting: head candidate
                left -= 1
        return first + rest

    def keep_reserve(self) -> None:
        """`guarantee_reserve`: hold free GPUs idle for the rest of the cycle (`reserve.keep`)."""
        n = self.policy.guarantee_reserve
        if n > 0 and reserve.keep(self.cap, self.quota, n, self.pins):
            self._changed()
            self._no_fit_held.clear()

    def guarantee_lanes(self, prio: dict[str, Sequence[Job]]) -> tuple[dict[str, list[Segment]], dict[str, int]]:
        """`guarantee_phase` over the priority groups (non-empty, per tenant; `_Split.prio`) merged in canonical
        order, read only as far as it examines: per tenant, its priority jobs in the order the share phase
        sees them (segments of a lane, `FairQueue.of_lanes`), and the GPUs of the jobs it started (or
        deferred). A tenant whose guarantee is spent leaves the merge: every job of it behind that point
        would be passed over."""
        if not prio or not self.state.ledger.any_guarantee:
            return {t: [(g, 0)] for t, g in prio.items()}, {}
        heap = [(g[0].submitted_at, g[0].id, t) for t, g in prio.items()]  # ids are unique: no ties
        heapq.heapify(heap)
        at = dict.fromkeys(prio, 0)
        first: dict[str, list[Job]] = {}  # within guarantee, no room even by preempting (`guarantee_phase`)
        rest: dict[str, list[Job]] = {}  # passed over
        removed: dict[str, int] = {}
        memo = self._sites_within  # `quota.guarantee_sites` by (tenant, GPUs, project): it reads only budgets
        within: dict[tuple[tuple[int, ...], frozenset[str]], tuple[int, ...]] = {}  # allowed sites in them
        topo_sites = self.cap.topo.sites
        left = self.policy.max_job_test
        skipped: list[Job] = []  # passed over ahead of the merge's order: examined if it got that far
        while heap and left > 0:
            t = heap[0][2]
            g, k = prio[t], at[t]
            job = g[k]
            if self._guarantee_spent(t):
                heapq.heappop(heap)  # this job and the rest of the group are passed over
                continue
            self.examined.add(job.id)
            sites = self._within_sites(job, memo, within, topo_sites)
            k += 1
            if not sites:
                # Passed over, and so are the tenant's next jobs whose guarantee leaves them no site: only
                # its own placements move its budgets (and whether it is spent, known once it was asked),
                # and they come after. Read them now, in one run.
                passed = rest.setdefault(t, [])
                passed.append(job)
                if not self._guarantee_spent(t):
                    while k < len(g) and not self._within_sites(g[k], memo, within, topo_sites):
                        passed.append(g[k])
                        skipped.append(g[k])
                        k += 1
            at[t] = k
            if k < len(g):
                heapq.heapreplace(heap, (g[k].submitted_at, g[k].id, t))
            else:
                heapq.heappop(heap)
            if not sites:
                continue
            if not self._start_guaranteed(job, sites, self.sites.of(job.placement)):
                first.setdefault(t, []).append(job)
                left -= 1
                last = job
            else:
                removed[t] = removed.get(t, 0) + job.gpus
        # The walk one job at a time examines the jobs read ahead that come before where it stops.
        if skipped and left > 0:
            self.examined.update(j.id for j in skipped)
        elif skipped:  # it stopped at the job that spent the depth
            stop = _CANONICAL(last)
            self.examined.update(j.id for j in skipped if _CANONICAL(j) < stop)
        lanes: dict[str, list[Segment]] = {}
        for t, g in prio.items():
            f, r = first.get(t), rest.get(t)  # the cycle's own lists, each non-empty when present
            if f is None:
                lanes[t] = [(g, at[t])] if r is None else [(r, 0), (g, at[t])]
            else:
                lanes[t] = [(f if r is None else f + r, 0), (g, at[t])]
        return lanes, removed

    def _within_sites(
        self,
        job: Job,
        memo: dict[tuple[str, int, str], frozenset[str] | None],
        within: dict[tuple[tuple[int, ...], frozenset[str]], tuple[int, ...]],
        topo_sites: Sequence[Site],
    ) -> tuple[int, ...]:
        """The sites where `job` would run within its tenant's guarantee (`guarantee_lanes`; empty: none)."""
        key = (job.tenant, job.gpus, job.project)
        if key in memo:
            gs = memo[key]
        else:
            gs = memo[key] = self.quota.guarantee_sites(job)
        allowed = self.sites.of(job.placement)
        if gs is None:
            return allowed
        if not gs:
            return ()
        sites = within.get((allowed, gs))
        if sites is None:
            sites = within[(allowed, gs)] = tuple(s for s in allowed if topo_sites[s].id in gs)
        return sites

    def tier_lanes(
        self, split: _Split, prio: dict[str, list[Segment]]
    ) -> tuple[dict[str, list[Segment]], dict[str, list[Segment]]]:
        """`by_tier` over groups: per tenant, its share-phase lane (priority jobs, then standard, with
        preemptible merged in for `entitled_preemptible`) and its scavenge-phase lane, read lazily."""
        under = self._under if self.policy.entitled_preemptible else frozenset()
        share: dict[str, list[Segment]] = {}
        scavenge: dict[str, list[Segment]] = {}
        std_of, pre_of = split.std, split.pre
        for t in split.order:  # tenants in order of their first non-empty group
            seg = prio.get(t)
            share[t] = list(seg) if seg else []  # the queue consumes its segment lists
        for t, lane in share.items():
            std, pre = std_of.get(t), pre_of.get(t)
            if pre and t in under:
                lane.append(Merge(std, pre) if std else (pre, 0))
            else:
                if std:
                    lane.append((std, 0))
                if pre:
                    scavenge[t] = [(pre, 0)]
        return {t: lane for t, lane in share.items() if lane}, scavenge

    def entitle(self, jobs: list[Job]) -> None:
        """`entitlement_cap`: each tenant's weighted max-min share of the fleet, capped by its demand."""
        if self.policy.entitlement_cap_s is None:
            return
        asked = dict(self.hidden)
        for job in jobs:
            asked[job.tenant] = asked.get(job.tenant, 0.0) + job.gpus
        self.entitle_demand(asked, {})

    def entitle_demand(self, asked: Mapping[str, float], removed: Mapping[str, int]) -> None:
        """`entitle` with the GPUs asked per tenant by the pending jobs, less `removed` (what the guarantee
        phase started): those left after the guarantee phase."""
        demand = {t: float(n) for t, n in self.quota.held.items()}
        for t, g in asked.items():
            if removed:
                g = g - removed.get(t, 0)
            if g:
                demand[t] = demand.get(t, 0.0) + g
        weight = self.state.ledger.weights  # per tenant, kept while the contracts are the same
        for t in demand:
            if t not in weight:
                weight[t] = self.quota.native(t).weight
        self._ent = waterfill(float(sum(self.cap.rack_usable)), demand, weight)
        self._under = {t for t, e in self._ent.items() if self.quota.held.get(t, 0) < e - 0.5}

    def by_tier(self, jobs: list[Job]) -> tuple[TenantLists, TenantLists]:
        """(share phase, scavenge phase) per tenant (`queue.by_tenant`): preemptible jobs scavenge, but
        with `entitled_preemptible` those of a tenant below its entitlement join its fair-share turn
        (a reservation, never a preemption)."""
        return by_tenant(jobs, self._under if self.policy.entitled_preemptible else frozenset())

    def _over_entitled(self, job: Job) -> bool:
        """`job`'s tenant holds its entitlement already while another tenant holds less than its own."""
        ent, under = self._ent, self._under
        if ent is None or not under or (len(under) == 1 and job.tenant in under):  # no other tenant under
            return False
        held, mine = self.quota.held.get(job.tenant, 0), ent.get(job.tenant, 0.0)
        if held < mine - 0.5:
            return False  # what the last test says, known first (the tests between only return False)
        if job.tier is _PRIORITY and (not self.policy.cap_priority or self._within(job)):
            return False
        cap = self.policy.entitlement_cap_s or 0.0
        far = self.policy.entitlement_far_over
        if far is not None and held >= far * mine:
            cap = self.policy.entitlement_far_cap_s
        if job.expected_runtime_s <= cap:
            return False  # short work holds its GPUs briefly: let it fill gaps
        return held >= mine - 0.5

    def _within(self, job: Job) -> bool:
        gs = self.quota.guarantee_sites(job)
        return gs is None or bool(gs)

    def share_phase(self, jobs: TenantLists | dict[str, list[Segment]]) -> None:
        q = self._fair_queue(jobs)
        left = self.policy.max_job_test
        examined, preempts = self.examined, self.policy.preempt_for_standard
        waits, backfill = self.explain_waits, self.policy.backfill
        while (job := q.pop()) is not None:
            if self._exhausted():
                if waits:
                    self._bulk_wait([job, *q.drain()])
                return
            if left <= 0:
                if waits:
                    self._unexamined([job, *q.drain()])
                return
            if self.head is not None and not backfill:
                if waits:
                    self._head_blocked([job, *q.drain()])  # none may start: no need to examine them
                return
            if (
                self.head is not None
                and (self.preempt_heads <= 0 or not preempts or job.tier is _PREEMPTIBLE)
                and self._cannot_start(job)
            ):  # what `_consider` would conclude: no placement, no preemption, no second head
                examined.add(job.id)
                self._wait(job, None)
                # the tenant's next jobs skip `_consider` only on the same grounds (with
                # `entitled_preemptible` a standard job, which may preempt, can follow a preemptible one)
                no_preempt = None if self.preempt_heads <= 0 or not preempts else _PREEMPTIBLE
                left = self._stuck_run(q, left - 1, no_preempt)
                continue
            left -= not self._consider(job, may_head=True)

    def scavenge_phase(self, jobs: TenantLists | dict[str, list[Segment]]) -> None:
        waits = self.explain_waits
        if not waits and not _idle(self.cap):
            return  # what the first pop would conclude: nothing idle, nothing to explain
        if not waits and self.floors is not None and self._idle_useless(self._floor(jobs)):  # type: ignore[arg-type]
            self._examine_in_order(jobs)  # type: ignore[arg-type]
            return
        q = self._fair_queue(jobs)
        left = self.policy.max_job_test
        examined = self.examined
        while (job := q.pop()) is not None:
            if not _idle(self.cap):
                if waits:
                    self._bulk_wait([job, *q.drain()])
                return
            if left <= 0:
                if waits:
                    self._unexamined([job, *q.drain()])
                return
            if self._cannot_start(job):  # what `_consider` would conclude, sooner
                examined.add(job.id)
                self._wait(job, None)
                left = self._stuck_run(q, left - 1)
                continue
            left -= not self._consider(job, may_head=False)

    def _none_fits(self) -> bool:
        """No pending job of any group can start on what is free or held-free now (`_idle_useless` over every
        group of `floors`); memoised until something is placed, stopped or held."""
        got = self._fits_none
        if got is None:
            if self._floor_all is None:
                self._floor_all = self._floor(None)
            got = self._fits_none = self._idle_useless(self._floor_all)
        return got

    def _floor(self, lanes: dict[str, list[Segment]] | None) -> tuple[int, float, float] | None:
        """The smallest GPUs, runtime and max runtime over the scavenge lanes' groups (None: every group) per
        `floors`; None when a group is not described."""
        floors = self.floors
        assert floors is not None
        g, run, most = 1 << 62, float("inf"), float("inf")
        for key in floors if lanes is None else [(t, _PREEMPTIBLE) for t in lanes]:
            got = floors.get(key)
            if got is None:
                return None
            g, run, most = min(g, got[0]), min(run, got[1]), min(most, got[2])
        return g, run, most

    def _idle_useless(self, floor: tuple[int, float, float] | None) -> bool:
        """No job whose GPUs and runtimes are at least `floor` can start: more GPUs than the most free in any
        rack, no rack wholly free (a job over a rack needs one), and no hold admits so short a run
        (`_hold_admits`; held GPUs are free for a job only if it ends by the hold's deadline). Each test is
        monotone, so the smallest values over many groups answer for all of them."""
        if floor is None:
            return False
        holds = self.cap.holds
        lim = self._hold_lims
        if lim is None or lim[0] != len(holds):
            lim = self._hold_lims = _deadlines(holds)
        by_est, by_most = lim[1], lim[2]
        if by_est is None or any(self.cap.full):  # an advance reservation's hold: its own rule
            return False
        top, now = max(self.cap.rack_free, default=0), self.now
        g, run, most = floor
        return not (g <= top or now + run <= by_est or now + most <= by_most)

    def _examine_in_order(self, lanes: dict[str, list[Segment]]) -> None:
        """What the scavenge loop does when no job can start: its fair queue pops each tenant's whole lane in
        turn, in (share key, tenant) order (no key moves), and it examines `max_job_test` jobs."""
        left = self.policy.max_job_test
        update = self.examined.update
        order = sorted(
            (self._share_key(t), t) for t, segs in lanes.items() if any(s[1] < len(s[0]) for s in segs)  # type: ignore[index, arg-type]
        )
        for _, t in order:
            for seg in lanes[t]:  # every segment here is a (list, start) pair (`_lanes`)
                jobs, start = cast(tuple[Sequence[Job], int], seg)
                if left <= 0:
                    return
                part = jobs[start : start + left]
                update(map(_ID, part))
                left -= len(part)

    def _fair_queue(self, jobs: TenantLists | dict[str, list[Segment]]) -> FairQueue:
        """Lists per tenant (`by_tier`) or lanes read lazily (`tier_lanes`)."""
        if any(isinstance(v, list) for v in jobs.values()):
            return FairQueue.of_lanes(jobs, self._share_key)  # type: ignore[arg-type]
        return FairQueue.of_tenants(
            jobs,  # type: ignore[arg-type]
            self._share_key,
            self._project_key if self.project_weight else None,
        )

    def _stuck_run(self, q: FairQueue, left: int, tier: Tier | None = None) -> int:
        """After a job of the tenant just popped could not start: its next jobs that cannot start either,
        examined in one go; returns the depth left. Nothing changed, so each pop would give the same
        tenant again (its key did not move) and every check before `_cannot_start` would pass as it did;
        with `tier`, only while the jobs are of that tier (the check the caller made on it).
        `_cannot_start` inlined for a known verdict (the loop runs for most jobs a deep queue examines)."""
        jobs, at = q.rest()
        if jobs is None:
            return left
        if tier is None and self.floors is not None and not self.explain_waits and self._none_fits():
            part = jobs[at : at + left]  # every one of them would be examined and could not start
            self.examined.update(map(_ID, part))
            q.skip(len(part))
            return left - len(part)
        k, n, stuck = at, len(jobs), self._stuck
        add, waits, now = self.examined.add, self.explain_waits, self.now
        holds = self.cap.holds
        lim = self._hold_lims
        if lim is None or lim[0] != len(holds):  # `_hold_admits`' deadlines: no hold is added in the run
            lim = self._hold_lims = _deadlines(holds)
        by_est, by_most = lim[1], lim[2]
        # One tenant's jobs: its consecutive jobs of one placement and size share `_stuck`'s entry (which
        # nothing changes in the run but `_cannot_start` filling it), read once for them.
        last_p: object = None
        last_g = -1
        last: bool | None = None
        while k < n and left > 0:
            job = jobs[k]
            if tier is not None and job.tier is not tier:
                break
            p, g = job.placement, job.gpus
            if p is last_p and g == last_g:
                room = last
            else:
                room = stuck.get((id(p), g, job.tenant))
                last_p, last_g, last = p, g, room
            if room is None:
                if not self._cannot_start(job):
                    break
                last = stuck.get((id(p), g, job.tenant))
            elif room:  # `_hold_admits` inlined
                if by_est is None:
                    if self._hold_admits(job):
                        break
                elif job.reservation is None:
                    most = job.max_runtime_s
                    est = job.estimated_runtime_s
                    if now + (most if est is None or est > most else est) <= by_est or now + most <= by_most:
                        break
            add(job.id)
            if waits:
                self._wait(job, None)
            left -= 1
            k += 1
        q.skip(k - at)
        return left

    def result(self) -> CycleResult:
        cache: dict[tuple[object, ...], tuple[Reason, ...]] = {}
        out, head = self.out, self.head
        for job, why in self.waiting if self.explain_waits else ():
            if why is None:
                late = head is not None and self.now + job.expected_runtime_s > head[1].start
                why = cache.get((id(job.placement), job.gpus, late)) or self._capacity_reasons(job, cache)
            out.append(Wait(job.id, why))
        return CycleResult(
            tuple(self.out) + tuple(self.preempts), examined=frozenset(self.examined), wake_at=self.wake_at
        )

    # ---------- one job ----------

    def _start_guaranteed(self, job: Job, sites: tuple[int, ...], allowed: tuple[int, ...]) -> bool:
        got = self._try(job, sites)
        if got is not None:
            self._place(job, got[0], got[1], ReasonCode.WITHIN_GUARANTEE, within=True)
            return True
        if sites != allowed and self.quota.borrow_block(job) is None:
            got = self._try(job, allowed)  # idle elsewhere beats preempting in the guaranteed site
            if got is not None:
                self._place(job, got[0], got[1], ReasonCode.FAIR_SHARE)
                return True
        # Victims: the cheapest to lose, never a restarted job inside its protection window.
        # The tenant's own standard work filling its guarantee is a candidate too: the priority job
        # comes first, and the cheapest victims win whoever they belong to.
        kind = "own:" + job.tenant if self.quota.guarantee_full(job) else "reclaim"
        plan = self._reclaim_plan(kind, job.gpus, sites)
        if plan is None:
            return False
        if self._defer(job, plan):
            return True
        self._place_over(job, plan, ReasonCode.WITHIN_GUARANTEE, within=True)
        return True

    def _reclaim_plan(self, kind: str, g: int, sites: tuple[int, ...]) -> preempt.PreemptionPlan | None:
        """A guarantee's victims. With `reclaim_standard_over_s`, the plan that spares other tenants' standard
        work inside their guarantees first: kept unless it loses more than that many seconds per GPU asked."""
        over = self.policy.reclaim_standard_over_s
        if over is None or not self.policy.reclaim_standard:
            return self._plan(kind, g, sites)
        spared = self._plan("spare:" + kind, g, sites)
        if spared is not None:
            keys = self._index("spare:" + kind).keys
            if sum(keys[i][1] for i in spared.victims) <= over * g:
                return spared
        wide = self._plan(kind, g, sites)
        return wide if wide is not None else spared

    def _defer(self, job: Job, plan: preempt.PreemptionPlan) -> bool:
        """Wait rather than preempt while the start promise allows it: GPUs often free up by themselves."""
        promise = self.policy.guarantee_start_s
        if promise <= 0:
            return False
        deferred = self._deferred.get(job.tenant, 0)
        if self.quota.prio_room(job.tenant) - deferred - job.gpus < job.gpus:
            return False  # a near-full guarantee: a like job arriving during the wait would find no room
        grace = max(self.cap.allocs[v].job.preemption_grace_s for v in plan.victims)
        due = job.submitted_at + promise - grace - DEFER_MARGIN_S
        if self.now < due:
            self.wake_at = due if self.wake_at is None else min(self.wake_at, due)
            self._deferred[job.tenant] = deferred + job.gpus
            self._wait(job, None)
            return True
        return False

    def _consider(self, job: Job, may_head: bool) -> bool:
        """Place, preempt for, reserve or keep `job` waiting; True when it was placed."""
        self.examined.add(job.id)
        if self.project_quota and self._over_project_quota(job):
            return False
        block = self.quota.borrow_block(job)
        if block is not None:
            self._wait(job, (explain.borrow(block[0], job, block[1], block[2], block[3]),))
            return False
        if self._over_entitled(job):
            self._wait(job, None)
            return False
        sites = self.sites.of(job.placement)
        got = self._try(job, sites)
        if got is not None:
            code = ReasonCode.BACKFILL if self.head is not None else ReasonCode.FAIR_SHARE
            self._place(job, got[0], got[1], code)
            return True
        if may_head and self._preempt_for(job, sites):
            return True
        if not (may_head and self._reserve_head(job, sites)):
            self._wait(job, None)
        return False

    def _cannot_start(self, job: Job) -> bool:
        """Known, without side effects, that `_consider` would find no GPUs for `job` now: no project
        quota or borrowing rule speaks, it fits one rack, a job as large already failed there in this
        cycle (`_no_fit`) and no hold could take it. False: not known (the full path decides).

        Memoised per (placement, GPUs, tenant) until something is placed, stopped or held (`_stuck`);
        only whether a hold admits the job (its runtime) is asked per job."""
        key = (id(job.placement), job.gpus, job.tenant)
        room = self._stuck.get(key)
        if room is None:
            if not self._no_room(job):
                return False
            sites = self.sites.of(job.placement)
            room = self._stuck[key] = bool(self.cap.held_free) and hold_room(self.cap, job.gpus, sites)
        return not room or not self._hold_admits(job)

    def _hold_admits(self, job: Job) -> bool:
        """Some hold lets `job` use its GPUs (`hold_allows`). Without advance reservations, one test
        against the latest deadline of each kind of hold: `now + r <= d` for some d iff for the largest."""
        holds = self.cap.holds
        lim = self._hold_lims
        if lim is None or lim[0] != len(holds):  # holds are only appended within a cycle
            lim = self._hold_lims = _deadlines(holds)
        if lim[1] is None:
            now = self.now
            return any(hold_allows(h, job, now) for h in holds)
        if job.reservation is not None:
            return False
        now = self.now
        est, most = job.estimated_runtime_s, job.max_runtime_s
        return now + (most if est is None or est > most else est) <= lim[1] or now + most <= lim[2]

    def _no_room(self, job: Job) -> bool:
        """`_cannot_start` but for the holds."""
        if self.project_quota:
            return False
        sites = self.sites.of(job.placement)
        g = job.gpus
        if g < self._no_fit.get(sites, g + 1) or g > self.sites.rack_limit(sites):
            return False
        # may borrow without a cap: `borrow_block` is None whatever the ask
        return self.quota.native(job.tenant).free_borrow or self.quota.borrow_block(job) is None

    def _try(self, job: Job, sites: tuple[int, ...]) -> tuple[int, list[int]] | None:
        limit = self.sites.rack_limit(sites)
        g = job.gpus
        small = g <= limit  # one rack: a failure for g GPUs is a failure for more
        if small and g >= self._no_fit.get(sites, g + 1):
            got = None  # free capacity only shrinks within a cycle: known not to fit
        else:
            got = place_fast(self.cap, sites, g, limit)
            if got is None and small:
                self._no_fit[sites] = g
        if got is None and could_use_holds(self.cap, job, sites):
            key = (sites, tuple(hold_allows(h, job, self.now) for h in self.cap.holds))
            if small and g >= self._no_fit_held.get(key, g + 1):
                return None  # the same holds admit it and held-free GPUs only shrink too
            got = place_with_holds(self.cap, job, sites, limit)
            if got is None and small:
                self._no_fit_held[key] = g
        return got

    def _preempt_for(self, job: Job, sites: tuple[int, ...]) -> bool:
        if self.preempt_heads <= 0 or job.tier is _PREEMPTIBLE or not self.policy.preempt_for_standard:
            return False
        self.preempt_heads -= 1  # a budget of attempts, not of successes: each costs a pass over running work
        if self.policy.preempt_wait_ratio > 0 and self._surely_not_worth(job, sites, self._min_age("tier")):
            return False  # (with no wait ratio every plan is worth it: no bound to compute)
        plan = self._plan("tier", job.gpus, sites)
        if plan is None or not self._worth_killing(job, sites, plan, self._index("tier")):
            return False
        self._place_over(job, plan, ReasonCode.FAIR_SHARE)
        return True

    def _worth_killing(
        self, job: Job, sites: tuple[int, ...], plan: preempt.PreemptionPlan, index: preempt.VictimIndex
    ) -> bool:
        """Cost-aware: kill only if the work lost is below `preempt_wait_ratio` x the GPU-seconds of waiting
        (and, with `preempt_gpu_ratio`, the victims hold at most that many GPUs per GPU the job asks)."""
        most = self.policy.preempt_gpu_ratio
        if most is not None and sum(len(self.cap.allocs[v].gpus) for v in plan.victims) > most * job.gpus:
            return False
        ratio = self.policy.preempt_wait_ratio
        if ratio <= 0:
            return True
        lost = sum(index.keys[v][1] for v in plan.victims)
        worth_from = self.now + lost / (
            ratio * max(job.gpus, 1)
        )  # killing pays if the wait is at least this long
        return not self._starts_before(sites, job.gpus, worth_from)

    def _surely_not_worth(self, job: Job, sites: tuple[int, ...], min_age: float) -> bool:
        """`_worth_killing` would say no whatever the plan, known before planning: a job within one rack
        frees at least (its GPUs - the most free in one rack) GPUs, each losing `min_age` seconds or
        more (`_min_age`), and it can start before even that loss says killing pays."""
        ratio = self.policy.preempt_wait_ratio
        limit = self.sites.rack_limit(sites)
        if ratio <= 0 or job.gpus > limit or min_age <= 0:
            return False
        short = job.gpus - self.cap.largest_rack_block(sites)
        if short <= 0:
            return False
        least = short * min_age * (1 - 1e-9)  # float margin
        if least <= 0:
            return False
        worth_from = self.now + least / (ratio * max(job.gpus, 1))
        return self._starts_before(sites, job.gpus, worth_from)

    def _starts_before(self, sites: tuple[int, ...], g: int, t: float) -> bool:
        """`earliest_start` finds room for `g` GPUs in `sites` before `t`; memoised until something is
        placed, stopped or held (`_stuck`'s epoch): jobs of one size often ask the same."""
        key = (sites, g)
        first = self._before.get(key)
        if first is None:  # one walk to the first fit answers every horizon (`backfill.first_fit`)
            limit = self.sites.rack_limit(sites)
            ends = self._ends_now()
            kept = self._kept()
            memo = None if kept is None else ("first", sites, g, self._ends_token)
            got = None if kept is None else kept.get(memo)
            if got is not None:  # the state and expected ends a past cycle saw: the same walk
                first = cast(float, got)
            else:
                first = first_fit(self.cap, sites, g, limit, ends)
                if kept is not None:
                    kept[memo] = first
            self._before[key] = first
        return first < t

    def _reserve_head(self, job: Job, sites: tuple[int, ...]) -> bool:
        if self.head is not None:
            return False
        limit = self.sites.rack_limit(sites)
        # drains, so no backfill slides it; not for a gang over half a rack (it would idle too much)
        firm = self.policy.firm_under_entitled and job.tenant in self._under and 2 * job.gpus <= limit
        res = self._pinned(job, sites, limit) if firm else None
        if res is None:
            res = self._earliest(sites, job.gpus, limit, None)
        if res is None:
            return False
        self.head = (job, res)
        self._hold(job, res, firm, limit)
        return True

    def _hold(self, job: Job, res: HeadReservation, firm: bool, limit: int) -> None:
        self.cap.hold(Hold(job.id, res.start, firm, gpus=res.gpus))
        self._changed()
        self._no_fit_held.clear()  # a new hold: more held-free GPUs, and another admission flag
        for index in self._victims.values():
            index.exclude(self.cap, res.gpus)
        why = explain.reserved(job.gpus, job.placement.label, res.start, self.now, job.gpus <= limit)
        self.out.append(Reserve(job.id, res.start, self._ids(res.gpus), (why,)))

    def _pinned(self, job: Job, sites: tuple[int, ...], limit: int) -> HeadReservation | None:
        """A firm head stays on the racks of its last reservation (`pins`), which its hold has been draining:
        moving to racks whose work is predicted to end sooner gave the drained GPUs back to backfill, and
        predictions that ran late moved it again (a head waited 12 days on Philly). It still starts at once
        wherever GPUs are free (`_try` comes first). None: no pin, or it cannot be met there."""
        gpus = self.pins.get(job.id)
        if not gpus:
            return None
        topo = self.cap.topo
        index = topo.gpu_index
        racks = frozenset(topo.gpu_rack[index[g]] for g in gpus if g in index)
        return self._earliest(sites, job.gpus, limit, racks)

    def _earliest(
        self, sites: tuple[int, ...], g: int, limit: int, racks: frozenset[int] | None
    ) -> HeadReservation | None:
        """`backfill.earliest_start` for a head; kept across cycles while nothing changed (`_kept`)."""
        ends = self._ends_now()
        kept = self._kept()
        if kept is None:
            if self.cap.holds or self.preempts:  # `kept_start` reuses walks only where nothing stopped or is held
                return earliest_start(self.cap, sites, g, limit, ends=ends, racks=racks)
            return kept_start(self.cap, sites, g, limit, ends, racks, self.state.heads)  # type: ignore[arg-type]
        key = ("head", sites, g, limit, racks, self._ends_token)
        if key in kept:  # the state and expected ends a past cycle saw: the same walk
            return kept[key]  # type: ignore[return-value]
        res = kept[key] = kept_start(self.cap, sites, g, limit, ends, racks, self.state.heads)  # type: ignore[arg-type]
        return res

    def _kept(self) -> dict[object, object] | None:
        """Answers kept on the state across cycles (`SchedulerState.kept`), or None when they do not apply:
        this cycle has placed, stopped or held something, or the expected ends depend on `now`
        (`SchedulerState.ends_token`). An answer computed on the state as it was, with no hold and the
        same expected ends (keys carry their token), is the answer on it now. Cleared by any delta."""
        if not self._pristine or self.cap.holds or self._ends_now() is None or self._ends_token is None:
            return None
        state = self.state
        if state.kept_version != state.version:
            state.kept.clear()
            state.kept_version = state.version
        return state.kept

    # ---------- effects ----------

    def _place(self, job: Job, site: int, gpus: list[int], code: ReasonCode, within: bool = False) -> int:
        i = self.cap.place(job, gpus)
        self._changed()
        if job.project in self.project_used or self.project_quota or self.project_weight:
            self.project_used[job.project] = self.project_used.get(job.project, 0) + len(gpus)
        if self._ends is not None:
            insort(self._ends, (self.cap.allocs[i].expected_end(self.now), job.id, i))
        self.cap.allocs[i].protected = within and job.tier is _PRIORITY
        self.quota.charge(job, self.cap.topo.sites[site].id, within)
        if within:
            self._sites_within.clear()  # the tenant's guarantee budgets moved
        self.out.append(
            Place(job.id, self._ids(gpus), self.cap.topo.sites[site].id, (explain.placed(code, job),))
        )
        return i

    def _place_over(
        self, job: Job, plan: preempt.PreemptionPlan, code: ReasonCode, within: bool = False
    ) -> None:
        gpus = plan.gpus(self.cap)  # picked as the plan saw the GPUs, before its victims stop
        why = explain.preempted_for(job, within)
        for v in plan.victims:
            self._stop(v, why, job.id)
        self._place(job, plan.site, gpus, code, within)
        last = self.out[-1]
        assert isinstance(last, Place)
        victims = tuple(self.cap.allocs[v].job.id for v in plan.victims)
        self.out[-1] = Place(last.job_id, last.gpus, last.site, last.reasons, victims)

    def _stop(self, alloc: int, why: Reason, for_job: str | None) -> None:
        a = self.cap.stop(alloc)
        self._changed()
        self.quota.release(a)
        for index in self._victims.values():
            index.remove(self.cap, alloc)
        self.preempts.append(Preempt(a.job.id, a.job.preemption_grace_s, why, for_job))

    def _changed(self) -> None:
        """Something was placed, stopped or held: answers memoised on the cycle's capacity are stale."""
        self._pristine = False
        self._fits_none = None
        self._stuck.clear()
        self._before.clear()

    def _wait(self, job: Job, why: tuple[Reason, ...] | None) -> None:
        if self.explain_waits:  # only `result` reads them, and only to explain
            self.waiting.append((job, why))

    def _bulk_wait(self, jobs: list[Job]) -> None:
        if not self.explain_waits:
            return
        room: dict[str, int | None] = {}
        for job in jobs:
            if job.tenant not in room:
                room[job.tenant] = self.quota.borrow_room(job.tenant)
            left = room[job.tenant]
            block = None if left is None or job.gpus <= left else self.quota.borrow_block(job)
            why = None if block is None else (explain.borrow(block[0], job, block[1], block[2], block[3]),)
            self._wait(job, why)

    def _head_blocked(self, jobs: list[Job]) -> None:
        """Backfill is off and the head is reserved: the rest of the share phase waits behind it."""
        if not self.explain_waits or self.head is None:
            return
        blocked = (explain.head_blocked(self.head[0].id),)
        for job in jobs:
            if self._over_project_quota(job):
                continue
            block = self.quota.borrow_block(job)
            why = blocked if block is None else (explain.borrow(block[0], job, block[1], block[2], block[3]),)
            self._wait(job, why)

    def _unexamined(self, jobs: list[Job]) -> None:
        if not self.explain_waits:
            return
        why = (explain.not_examined(self.policy.max_job_test),)  # one shared value: O(1) per job
        self.waiting.extend((job, why) for job in jobs)

    # ---------- helpers ----------

    def _project_use(self) -> dict[str, int]:
        """GPUs held per project (stopping work included: its GPUs are not free yet)."""
        used: dict[str, int] = {}
        for a in self.cap.allocs.values():
            used[a.job.project] = used.get(a.job.project, 0) + len(a.gpus)
        return used

    def _over_project_quota(self, job: Job) -> bool:
        """Whether `job` would take its project beyond its quota; if so it waits with the reason."""
        quota = self.project_quota.get(job.project)
        used = self.project_used.get(job.project, 0)
        if quota is None or used + job.gpus <= quota:
            return False
        self._wait(job, (explain.project_quota(job, used, quota),))
        return True

    def _project_key(self, job: Job) -> float:
        return self.project_used.get(job.project, 0) / self.project_weight.get(job.project, 1.0)

    def _min_age(self, kind: str) -> float:
        """Least time any candidate victim of `kind` has run (inf: none), without building the index;
        kept for the cycle: candidates only leave, so it stays a lower bound. Under a
        `victim_loss` other than since-start: the least seconds a candidate loses per GPU."""
        got = self._ages.get(kind)
        if got is None:
            eligible, among = self._eligible(kind)
            allocs, now = self.cap.allocs, self.now
            loss = self.policy.victim_loss
            since = loss.model == "since_start"
            if since and kind == "tier":  # the youngest eligible, from the end of the tier's start order
                got = self._ages[kind] = victims.youngest(self.state.candidates.pre, allocs, eligible, now)
                return got
            youngest = float("inf")
            for a in allocs.values() if among is None else (allocs[i] for i in among):
                if a.stopping or a.placed_now or a.protected or not eligible(a):
                    continue
                least = now - a.started_at if since else preempt.least_loss(a, now, loss)
                if least < youngest:
                    youngest = least
            got = self._ages[kind] = max(0.0, youngest)
        return got

    def _index(self, kind: str) -> preempt.VictimIndex:
        got = self._victims.get(kind)
        if got is None:
            eligible, _ = self._eligible(kind)
            cands = self.state.candidates  # read per rack, only where a plan looks
            pools = cands.rack_pre if kind == "tier" else cands.rack
            got = preempt.VictimIndex(
                self.cap, eligible, self.policy.preempt_by_cost, loss=self.policy.victim_loss, pools=pools
            )
            self._victims[kind] = got
        return got

    def _eligible(self, kind: str) -> tuple[Callable[[Alloc], bool], Iterable[int] | None]:
        """Who a victim index of `kind` may hold, and the only allocations to ask (None: all)."""
        protect, now = self.policy.preempt_protect_s, self.now
        again = protect if self.policy.restart_protect_s is None else self.policy.restart_protect_s
        eligible: Callable[[Alloc], bool]
        among: Iterable[int] | None = None
        if kind == "tier":  # recently (re)started work is protected from non-guarantee preemption
            eligible = _preemptible_tier
            among = self.state.preemptible  # the state keeps them: no pass over other work
            if protect > 0:
                eligible = lambda a: _preemptible_tier(a) and now - a.started_at >= protect  # noqa: E731
            if self.policy.spare_restarted:
                young = eligible
                eligible = lambda a: young(a) and not a.restarted  # noqa: E731
        else:
            self.quota.ready()  # borrowed and protected flags
            spare = kind.startswith("spare:")  # `reclaim_standard_over_s`: as if `reclaim_standard` were off
            kind = kind[6:] if spare else kind
            tenant = kind[4:] if kind.startswith("own:") else None  # its own unprotected work too
            wide = self.policy.reclaim_standard and not spare  # any unprotected work, not only reclaimable work
            fresh = self.policy.reclaim_fresh_only  # ... but never restarted work there (no ping-pong)
            # A guarantee may stop young work, but never a restarted job inside its window.
            eligible = lambda a: (  # noqa: E731
                ((wide and not (fresh and a.restarted)) or a.job.tenant == tenant or _reclaimable(a))
                and not (again > 0 and a.restarted and now - a.started_at < again)
            )
        return eligible, among

    def _plan(self, kind: str, g: int, sites: tuple[int, ...]) -> preempt.PreemptionPlan | None:
        """`preempt.plan`, skipped when a smaller ask already found no plan in this cycle: free GPUs and
        eligible victims only shrink within a cycle (stops, placements, holds), so neither can a larger one.
        The victim index of `kind` is built only when a plan is sought."""
        limit = self.sites.rack_limit(sites)
        key = (kind, sites)
        if g <= limit and g >= self._no_plan.get(key, g + 1):
            return None
        if kind == "tier" and g <= limit and self._no_tier_room(sites, g):
            self._no_plan[key] = g  # what the plan would conclude, without building the index
            return None
        got = preempt.plan(self.cap, sites, g, limit, self._index(kind))
        if got is None and g <= limit:
            self._no_plan[key] = g
        return got

    def _no_tier_room(self, sites: tuple[int, ...], g: int) -> bool:
        """No rack of `sites` has `g` GPUs free or held by preemptible work not stopping (an upper bound of
        what a tier victim index offers there, `SchedulerState.pre_rack`): a plan for `g` (one rack) fails."""
        free, pre, racks = self.cap.rack_free, self.state.pre_rack, self.cap.topo.site_racks
        return all(free[r] + pre[r] < g for s in sites for r in racks[s])

    def _ends_now(self) -> list[tuple[float, str, int]]:
        if self._ends is None:
            self._ends = expected_ends(self.cap, self.state)
            # equal tokens, equal lists (`SchedulerState.ends_at`); only this cycle's placements are added
            self._ends_token = self.state.ends_token if not self.cap.placed() else None
        return self._ends

    def _share_key(self, tenant: str) -> float:
        held = self.quota.held.get(tenant, 0)
        memo = self._keys.get(tenant)
        if memo is not None and memo.held == held:  # usage is fixed for the cycle: only `held` moves the key
            return memo.key
        policy = self.policy
        hist = history_gpus(self.usage.get(tenant, 0.0), policy.fair_share_half_life_s)
        key = share_key(held, hist, policy.history_weight, self.quota.native(tenant).weight)
        if policy.under_entitled_first and tenant in self._under:
            key = -1.0 / (1.0 + key)  # before every other tenant (keys >= 0), in the same order among them
        if memo is None:
            self._keys[tenant] = _Key(held, key)
        else:
            memo.held, memo.key = held, key
        return key

    def _guarantee_spent(self, tenant: str) -> bool:
        """No priority job of `tenant` can be within its guarantee for the rest of this cycle."""
        if self.quota.native(tenant).total_guarantee <= 0:
            return True
        q = self.quota
        left = q.prio_wide_left.get(tenant)
        if left is None or left > 0:  # unknown until its first priority job asks: examine
            return False
        if any(v > 0 for (t, _), v in q.share_left.items() if t == tenant):
            return False  # a project's guaranteed share is left
        return all(v <= 0 for (t, _), v in q.prio_site_left.items() if t == tenant)

    def _exhausted(self) -> bool:
        """No free GPU anywhere, none held-but-usable, no head to reserve, no preemption left."""
        if self.head is None or _idle(self.cap):  # the cheaper test first (both only return False)
            return False
        return self.preempt_heads <= 0 or not self.policy.preempt_for_standard

    def _hold_free(self, reservation: str) -> int:
        return sum(
            1
            for x, h in self.cap.held.items()
            if self.cap.holds[h].owner == reservation and self.cap.is_held_free(x)
        )

    def _ids(self, gpus: list[int]) -> tuple[str, ...]:
        ids = self.cap.topo.gpu_ids
        return tuple(ids[x] for x in sorted(gpus))

    def _capacity_reasons(
        self, job: Job, cache: dict[tuple[object, ...], tuple[Reason, ...]]
    ) -> tuple[Reason, ...]:
        late = self.head is not None and self.now + job.expected_runtime_s > self.head[1].start
        key = (id(job.placement), job.gpus, late)
        got = cache.get(key)
        if got is None:
            sites = self.sites.of(job.placement)
            rack = job.gpus <= self.sites.rack_limit(sites)
            behind = late and self.head is not None and self.head[1].site in sites
            largest = self.cap.largest_rack_block(sites) if rack else self.cap.largest_site_block(sites)
            got = (explain.no_capacity(job.gpus, job.placement.label, rack, largest),)
            if behind and self.head is not None:
                h, r = self.head
                got += (explain.behind_reservation(len(r.gpus), h.placement.label, h.id, r.start, self.now),)
            cache[key] = got
        return got


# enum attribute reads cost more than a constant (Final: compiled to a static, not a module dict look-up)
_PRIORITY: Final = Tier.PRIORITY
_STANDARD: Final = Tier.STANDARD
_PREEMPTIBLE: Final = Tier.PREEMPTIBLE
_CANONICAL = attrgetter("submitted_at", "id")  # `queue.canonical`'s key
_ID = attrgetter("id")
DEFER_MARGIN_S = 1.0  # a deferred reclaim falls due this long before the promise strictly needs it


def _deadlines(holds: list[Hold]) -> tuple[int, float | None, float]:
    """(count, latest deadline of the holds judged by estimate, of those judged by max runtime); None for
    the former when a hold belongs to an advance reservation (judged by its own rule)."""
    est = most = float("-inf")
    for h in holds:
        if h.reservation is not None:
            return len(holds), None, most
        if h.strict:
            most = max(most, h.deadline)
        else:
            est = max(est, h.deadline)
    return len(holds), est, most


def _reclaimable(a: Alloc) -> bool:
    return a.job.tier is _PREEMPTIBLE or a.borrowed


def _preemptible_tier(a: Alloc) -> bool:
    return a.job.tier is _PREEMPTIBLE
