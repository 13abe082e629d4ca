"""Preemption planning: the cheapest set of running jobs whose GPUs make a job fit.

Who may be preempted is the caller's predicate (see `cycle.py`): for a job within
its tenant's guarantee, preemptible-tier work and borrowed work (and the tenant's own
standard work when it fills the guarantee; with `SchedulingPolicy.reclaim_standard`, any
standard work); for other jobs
(when the policy allows), preemptible-tier work only. Protected work (priority
within guarantee), jobs already stopping and jobs placed in this cycle never are;
with `SchedulingPolicy.preempt_protect_s`, neither is work (re)started less than that
long ago for a non-guarantee job, nor a restarted job inside that window for anyone.

Victim order: preemptible tier first, then fewest GPU-seconds lost (GPUs x time run
so far; under another `SchedulingPolicy.victim_loss`, GPUs x what that model says a stop
loses, e.g. the grace of a victim that checkpoints during it), then youngest first,
then id; with `SchedulingPolicy.preempt_by_cost` the tier
is ignored and the GPU-seconds lost decide (a borrowed job that started a minute ago is
cheaper to stop than a preemptible one that ran for hours). For each candidate rack the victims are taken
in that order until the job fits; the rack with the cheapest victim set wins
(placement rule of `assign.py` otherwise: best fit, whole racks in one site).
Victims stop after their grace period; the GPUs they free beyond the job's need stay
busy for the rest of this cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from brique.domain.jobs import Tier
from brique.domain.policy import SINCE_START, VictimLoss
from brique.scheduler.assign import RackView, choose, pick_from
from brique.scheduler.capacity import Alloc, Capacity


@dataclass(frozen=True, slots=True)
class PreemptionPlan:
    site: int
    racks: list[tuple[int, int]]  # (rack, GPUs there)
    victims: list[int]  # allocation indices

    def gpus(self, cap: Capacity) -> list[int]:
        """The job's GPUs: free ones and its victims' (picked only for a plan that is acted on).

        Read before anything in the cycle changes which GPUs are free or whose they are."""
        victims = set(self.victims)
        out: list[int] = []
        for r, n in self.racks:
            out.extend(pick_from(cap, r, n, lambda x: bool(cap.free[x]) or _reclaims(cap, x, victims)))
        return out


def victim_key(
    a: Alloc, now: float, idx: int, by_cost: bool = False, loss: VictimLoss = SINCE_START
) -> tuple[int, float, float, str, int]:
    """Cheapest first: preemptible tier before borrowed work (unless `by_cost`), then GPU-seconds lost."""
    lost = len(a.gpus) * loss.per_gpu(now - a.started_at, a.job.preemption_grace_s)
    return (0 if by_cost or a.job.tier == Tier.PREEMPTIBLE else 1, lost, -a.started_at, a.job.id, idx)


def least_loss(a: Alloc, now: float, loss: VictimLoss) -> float:
    """Seconds each GPU of `a` loses if stopped now (`victim_key`'s loss per GPU)."""
    return loss.per_gpu(now - a.started_at, a.job.preemption_grace_s)


class VictimIndex:
    """Eligible running work per rack, for one cycle, kept as jobs stop and GPUs are held.

    Built at once over running work (`pools` None; then rebuild it after GPUs are newly held: held GPUs
    are never reclaimed), or read rack by rack, only for the racks a plan looks at, from the state's
    candidates (`pools`: `victims.Candidates.rack` or `.rack_pre`); both give the same plans.
    """

    def __init__(
        self,
        cap: Capacity,
        eligible: Callable[[Alloc], bool],
        by_cost: bool = False,
        among: Iterable[int] | None = None,
        loss: VictimLoss = SINCE_START,
        pools: list[list[tuple[float, int]]] | None = None,
    ) -> None:
        """among: the only allocations `eligible` can accept, when the caller keeps them (e.g. the
        preemptible tier's, `SchedulerState.preemptible`); None: every allocation is asked.
        loss: what a stop costs per GPU (`SchedulingPolicy.victim_loss`).
        pools: per rack, (start, allocation) of every allocation `eligible` may accept there, in start
        order (`victims.Candidates`): the index is then lazy (`rack`), and `site_total`, `min_age` unused."""
        topo = cap.topo
        self.cap = cap
        self.in_rack: dict[int, dict[int, int]] = {}  # rack -> alloc -> its GPUs there
        self.site_total = [0] * len(topo.sites)
        self.keys: dict[int, tuple[int, float, float, str, int]] = {}
        self.exact = by_cost  # per rack, the victim set losing least in total (not cheapest-first)
        self.by_cost, self.loss, self.eligible, self.pools = by_cost, loss, eligible, pools
        self.since = loss.model == "since_start"  # the loss is the age: no call per candidate
        self.min_age = 0.0
        if pools is not None:
            return
        held, usable, gpu_rack, rack_site = cap.held, cap.usable, topo.gpu_rack, topo.rack_site
        in_rack, site_total, keys, now = self.in_rack, self.site_total, self.keys, cap.now
        youngest = float("inf")
        allocs = cap.allocs
        since = self.since
        for i, a in allocs.items() if among is None else ((i, allocs[i]) for i in among):
            if a.stopping or a.placed_now or a.protected or not eligible(a):
                continue
            least = now - a.started_at if since else least_loss(a, now, loss)
            if least < youngest:
                youngest = least
            if held:
                counts: dict[int, int] = {}
                for x in a.gpus:
                    if usable[x] and x not in held:
                        counts[gpu_rack[x]] = counts.get(gpu_rack[x], 0) + 1
                spread = tuple(counts.items())
            else:
                spread = a.spread(usable, gpu_rack)
            for r, n in spread:
                per = in_rack.get(r)
                if per is None:
                    per = in_rack[r] = {}
                per[i] = n
                site_total[rack_site[r]] += n
            keys[i] = victim_key(a, now, i, by_cost, loss)
        # Least time any candidate has run (least it loses per GPU, under `loss`): each GPU a plan
        # frees loses at least this many seconds.
        # Kept as candidates leave (a bound for fewer candidates too).
        self.min_age = max(0.0, youngest)

    def rack(self, r: int) -> dict[int, int]:
        """The candidates of rack `r` and their GPUs there (read on first use when lazy)."""
        per = self.in_rack.get(r)
        if per is not None:
            return per
        per = {}
        if self.pools is None:
            return per
        self.in_rack[r] = per
        cap = self.cap
        allocs, now, keys, eligible = cap.allocs, cap.now, self.keys, self.eligible
        by_cost, since, loss = self.by_cost, self.since, self.loss
        for _, i in self.pools[r]:
            a = allocs[i]
            if a.stopping or a.placed_now or a.protected or not eligible(a):
                continue
            n = _gpus_in(cap, a, r)
            if not n:
                continue
            per[i] = n
            if i not in keys:
                if since:  # `victim_key`, inlined: the same arithmetic
                    ran = now - a.started_at
                    lost = len(a.gpus) * (ran if ran > 0.0 else 0.0)
                    flag = 0 if by_cost or a.job.tier is Tier.PREEMPTIBLE else 1
                    keys[i] = (flag, lost, -a.started_at, a.job.id, i)
                else:
                    keys[i] = victim_key(a, now, i, by_cost, loss)
        return per

    def least(self, r: int) -> float:
        """A lower bound of what each GPU freed in rack `r` loses (inf: no candidate there): the youngest
        candidate's time run under the since-start loss, else 0 (no bound)."""
        if self.pools is None or not self.since:
            return 0.0 if self.rack(r) else float("inf")
        cap = self.cap
        allocs, now, eligible, entries = cap.allocs, cap.now, self.eligible, self.pools[r]
        for k in range(len(entries) - 1, -1, -1):
            s, i = entries[k]
            a = allocs[i]
            if a.stopping or a.placed_now or a.protected or not eligible(a) or not _gpus_in(cap, a, r):
                continue
            return max(0.0, now - s)
        return float("inf")

    def exclude(self, cap: Capacity, gpus: list[int]) -> None:
        """`gpus` are now held: they can no longer be reclaimed (an unusable GPU was never counted)."""
        topo = cap.topo
        for x in gpus:
            if not cap.usable[x]:
                continue
            i = cap.gpu_alloc[x]
            per = self.in_rack.get(topo.gpu_rack[x])
            if i in self.keys and per and per.get(i, 0) > 0:
                per[i] -= 1
                if not per[i]:
                    del per[i]
                self.site_total[topo.rack_site[topo.gpu_rack[x]]] -= 1

    def remove(self, cap: Capacity, i: int) -> None:
        """Allocation `i` stops (or is protected now): it is no longer a candidate."""
        if self.keys.pop(i, None) is None:
            return
        topo = cap.topo
        for r in {topo.gpu_rack[x] for x in cap.allocs[i].gpus}:
            n = self.in_rack.get(r, {}).pop(i, 0)
            self.site_total[topo.rack_site[r]] -= n


def _gpus_in(cap: Capacity, a: Alloc, r: int) -> int:
    """`a`'s usable GPUs in rack `r` that are not held (what the eager index counts there)."""
    gpu_rack = cap.topo.gpu_rack
    if cap.held:
        usable, held = cap.usable, cap.held
        return sum(1 for x in a.gpus if gpu_rack[x] == r and usable[x] and x not in held)
    for rr, n in a.spread(cap.usable, gpu_rack):
        if rr == r:
            return n
    return 0


def plan(
    cap: Capacity, sites: tuple[int, ...], g: int, rack_limit: int, index: VictimIndex
) -> PreemptionPlan | None:
    """A placement for `g` GPUs counting the index's running work as free, or None."""
    topo = cap.topo
    racks = [r for s in sites for r in topo.site_racks[s]]
    if index.pools is not None:
        if g <= rack_limit:
            return _plan_in_rack(cap, racks, g, index)
        total = sum(cap.site_free[s] for s in sites) + sum(sum(index.rack(r).values()) for r in racks)
    else:
        total = sum(index.site_total[s] + cap.site_free[s] for s in sites)
    if total < g:
        return None
    in_rack, keys = index.in_rack, index.keys
    exact = index.exact
    views = [_view(cap, r, in_rack.get(r, {}), keys, g, rack_limit, exact) for r in racks]
    got = choose([v for v in views if v.avail], g, rack_limit)
    if got is None:
        return None
    victims: set[int] = set()
    for v, n in got:
        victims.update(_cover(cap.rack_free[v.rack], n, in_rack.get(v.rack, {}), keys, exact))
    racks_n = [(v.rack, n) for v, n in got]
    return PreemptionPlan(site=got[0][0].site, racks=racks_n, victims=sorted(victims, key=lambda i: keys[i]))


def _plan_in_rack(cap: Capacity, racks: list[int], g: int, index: VictimIndex) -> PreemptionPlan | None:
    """`plan` for a job within one rack over a lazy index: the rack `choose` would pick (least cost, then
    fewest GPUs available, then rack order), reading racks in order of a lower bound of their cost
    (GPUs to free x `least`) and stopping at the first whose bound cannot beat the best cost found."""
    rack_free = cap.rack_free
    order: list[tuple[float, int, int]] = []
    for pos, r in enumerate(racks):
        free = rack_free[r]
        if free >= g:
            order.append((-1.0, pos, r))  # no victims needed: read first
            continue
        least = index.least(r)
        if least == float("inf"):
            continue  # no candidate: only its free GPUs, fewer than `g`
        order.append(((g - free) * least * (1 - 1e-9), pos, r))  # float margin
    order.sort()
    keys, exact = index.keys, index.exact
    best: tuple[tuple[int, float, int], int, int] | None = None
    got: tuple[int, list[int]] | None = None
    for bound, pos, r in order:
        # every cost needing a victim is > (0, bound, 0): a rack whose bound is not below the best loses
        if best is not None and bound >= 0.0 and (0, bound, 0) >= best[0]:
            break
        per = index.rack(r)
        free = rack_free[r]
        avail = free + sum(per.values())
        if avail < g:
            continue
        chosen = _cover(free, g, per, keys, exact)
        cost = (max((keys[i][0] for i in chosen), default=-1), sum(keys[i][1] for i in chosen), len(chosen))
        if best is None or (cost, avail, pos) < best:
            best, got = (cost, avail, pos), (r, chosen)
    if got is None:
        return None
    r, chosen = got
    victims = sorted(set(chosen), key=keys.__getitem__)
    return PreemptionPlan(site=cap.topo.rack_site[r], racks=[(r, g)], victims=victims)


def _reclaims(cap: Capacity, x: int, victims: set[int]) -> bool:
    return cap.gpu_alloc[x] in victims and cap.usable[x] == 1 and x not in cap.held


def _view(
    cap: Capacity, r: int, per: dict[int, int], keys: dict[int, tuple], g: int, rack_limit: int, exact: bool
) -> RackView:
    free = cap.rack_free[r]
    avail = free + sum(per.values())
    need = cap.rack_usable[r] if g > rack_limit else min(g, avail)
    chosen = _cover(free, need, per, keys, exact)
    cost = (max((keys[i][0] for i in chosen), default=-1), sum(keys[i][1] for i in chosen), len(chosen))
    if g > rack_limit and avail < cap.rack_usable[r]:
        avail = min(avail, cap.rack_usable[r] - 1)  # not wholly reclaimable: only a remainder rack
    return RackView(r, cap.topo.rack_site[r], avail, cap.rack_usable[r], cost)


def _greedy(free: int, need: int, per: dict[int, int], keys: dict[int, tuple]) -> list[int]:
    chosen: list[int] = []
    have = free
    for i in sorted(per, key=lambda i: keys[i]):
        if have >= need:
            break
        chosen.append(i)
        have += per[i]
    return chosen


def _cover(free: int, need: int, per: dict[int, int], keys: dict[int, tuple], exact: bool) -> list[int]:
    """Victims giving `need` GPUs with `free` ones: cheapest first, or (`exact`) the set losing least."""
    chosen = _greedy(free, need, per, keys)
    if not exact or len(chosen) < 2 or free + sum(per.values()) < need:
        return chosen  # one victim: the cheapest one that suffices is the cheapest set (or: all are needed)
    return _least_loss(need - free, per, keys)


def _least_loss(need: int, per: dict[int, int], keys: dict[int, tuple]) -> list[int]:
    """The set of victims with at least `need` GPUs losing the fewest GPU-seconds (min-cost covering
    knapsack over GPU counts, O(victims x need)); ties: fewer victims, then cheapest-first order.

    Cheapest-first overshoots: with 8 GPUs to free, two 1-GPU jobs of an hour and then an 8-GPU job of
    a day lose more than the 8-GPU job alone, or than six 1-GPU jobs of two hours.
    """
    # best set for >= c GPUs: its loss, its size and its victims as a linked list (victim, rest)
    cost: list[float | None] = [None] * (need + 1)
    size = [0] * (need + 1)
    chain: list[tuple[int, object] | None] = [None] * (need + 1)
    cost[0] = 0.0
    for i in sorted(per, key=keys.__getitem__):
        w, lost = per[i], keys[i][1]
        for c in range(need, 0, -1):  # downwards: cost[c - w] is still the previous victims' answer
            p = c - w if c > w else 0
            prev = cost[p]
            if prev is None:
                continue
            new = prev + lost
            cur = cost[c]
            if cur is None or new < cur or (new == cur and size[p] + 1 < size[c]):
                cost[c], size[c], chain[c] = new, size[p] + 1, (i, chain[p])
    assert cost[need] is not None, "the rack view promised enough victims"
    got: list[int] = []
    link = chain[need]
    while link is not None:
        got.append(link[0])
        link = link[1]  # type: ignore[assignment]
    return sorted(got, key=keys.__getitem__)
