"""EASY backfill: the head job's reservation, and placing others around held GPUs.

When the first non-preemptible job in queue order cannot start, its earliest start
is computed from the expected end of everything holding GPUs in its candidate sites
(`RunningJob.expected_end`: the estimate, else the max runtime; jobs placed earlier
in this cycle count with their own estimate). Walking those ends in time order, the
free GPUs per rack grow until the placement rule of `assign.py` is met; that instant
is the reservation start T and the GPUs found are *held* for the head job.

Later jobs are then placed on non-held GPUs (they cannot delay T, whatever they run)
or on held GPUs only if they are expected to end by T (EASY's "shadow time"). The
same slow path serves advance reservations (`reservations.py`), judged by max runtime.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from brique.domain.jobs import Job
from brique.scheduler.assign import RackView, choose, pick_from, plan_trays
from brique.scheduler.capacity import Capacity, Hold
from brique.scheduler.state import SchedulerState


@dataclass(frozen=True, slots=True)
class HeadReservation:
    start: float
    site: int
    gpus: list[int]


def earliest_start(
    cap: Capacity,
    sites: tuple[int, ...],
    g: int,
    rack_limit: int,
    before: float | None = None,
    ends: list[tuple[float, str, int]] | None = None,
    pick: bool = True,
    racks: frozenset[int] | None = None,
) -> HeadReservation | None:
    """When and where `g` GPUs free up under the placement rule, or None if never.

    before: only look for a start earlier than this (None: not before it, or never); the
    answer is the same as without it whenever that start is earlier, at the cost of the
    allocations ending before it only.
    ends: `expected_ends(cap)`, kept by a caller that asks several times in one cycle.
    pick: False leaves the reservation's GPUs out (empty) for a caller that only asks when.
    racks: only these racks of `sites` (a head kept on the racks it drained, `cycle._reserve_head`).
    """
    topo = cap.topo
    site_set = set(sites)
    future = {r: cap.rack_free[r] for s in sites for r in topo.site_racks[s] if racks is None or r in racks}
    horizon = float("inf") if before is None else before
    if ends is None:
        ends = expected_ends(cap)
    allocs = cap.allocs
    if len(site_set) == len(topo.sites):  # every end touches the candidate sites
        events = ends
        n = bisect_left(ends, (horizon,))
    else:
        events = []
        for e in ends:
            if e[0] >= horizon:
                break
            if _touches(cap, allocs[e[2]].gpus, site_set):
                events.append(e)
        n = len(events)
    usable, held, owner, gpu_rack = cap.usable, cap.held, cap.gpu_alloc, topo.gpu_rack
    # An allocation's GPUs are all its own unless it was stopped in this cycle (a placement may have
    # taken them) or the running work overlapped; if none is held either, its per-rack spread is what
    # it releases.
    spread_ok = not cap.overlap
    held_by = {owner[x] for x in held} if held else ()
    k = 0
    while k < n:
        t = events[k][0]
        touched: set[int] = set()
        while k < n and events[k][0] == t:
            i = events[k][2]
            a = allocs[i]
            if spread_ok and (not a.stopping or a.stop_at is not None) and i not in held_by:
                for r, c in a.spread(usable, gpu_rack):
                    if r in future:
                        future[r] += c
                        touched.add(r)
            else:
                for x in a.gpus:
                    r = gpu_rack[x]
                    if r in future and usable[x] and x not in held and owner[x] == i:
                        future[r] += 1
                        touched.add(r)
            k += 1
        if g <= rack_limit and not any(future[r] >= g for r in touched):
            continue
        got = _fit(cap, future, g, rack_limit)
        if got is not None:
            if not pick:
                return HeadReservation(t, got[0][0].site, [])
            chosen = {v.rack for v, _ in got}  # the GPUs counted above, in the racks picked from
            released: set[int] = set()
            for e in events[:k]:
                i = e[2]
                a = allocs[i]
                if any(r in chosen for r, _ in a.spread(usable, gpu_rack)):  # usable GPUs there
                    released.update(
                        x for x in a.gpus if gpu_rack[x] in chosen and usable[x] and x not in held and owner[x] == i
                    )
            return _reserve(cap, got, released, t)
    return None


@dataclass(slots=True)
class KeptStart:
    """What `kept_start` needs to tell that a head's walk would end as it did: the walk stopped at `start`
    after the first `k` expected ends (`events`), which released `before` GPUs per rack before it and `at`
    up to it (`touched`: the racks its last step released GPUs in), and chose `chosen`, picking GPUs among
    free ones laid out as `free` in those racks."""

    usable: bytes | bytearray
    start: float
    k: int
    events: list[tuple[float, str, int]]
    before: dict[int, int]
    at: dict[int, int]
    touched: set[int]
    chosen: list[tuple[int, int]]
    free: list[bytes]
    res: HeadReservation


def kept_start(
    cap: Capacity,
    sites: tuple[int, ...],
    g: int,
    rack_limit: int,
    ends: list[tuple[float, str, int]],
    racks: frozenset[int] | None,
    memo: dict[tuple[object, ...], KeptStart],
) -> HeadReservation | None:
    """`earliest_start(cap, sites, g, rack_limit, ends=ends, racks=racks)` for a cycle that has stopped and
    held nothing yet, reusing the walk of an earlier cycle (`memo`, kept by the caller) when it provably
    ends the same way although the state changed: the same first expected ends up to its start and none
    more at it, no rack with enough GPUs before it with today's free counts, the same racks chosen at it,
    and the same free GPUs there. Otherwise it walks and remembers (one rack, every site, no overlap)."""
    topo = cap.topo
    if g > rack_limit or cap.held or cap.overlap or len(set(sites)) != len(topo.sites):
        return earliest_start(cap, sites, g, rack_limit, ends=ends, racks=racks)
    key = (sites, g, rack_limit, racks)
    got = memo.get(key)
    if got is not None and _same_walk(cap, got, g, rack_limit, ends):
        return got.res
    res, kept = _walk(cap, sites, g, rack_limit, ends, racks)
    if kept is None:
        memo.pop(key, None)
    else:
        memo[key] = kept
    return res


def _same_walk(cap: Capacity, c: KeptStart, g: int, rack_limit: int, ends: list[tuple[float, str, int]]) -> bool:
    k = c.k
    if cap.usable is not c.usable or len(ends) < k or (len(ends) > k and ends[k][0] <= c.start):
        return False
    if ends[:k] != c.events:  # the same allocations end first, at the same times (mostly the same tuples)
        return False
    free = cap.rack_free
    for r, n in c.before.items():
        if free[r] + n >= g:  # might fit at an earlier end now
            return False
    future = {r: free[r] + n for r, n in c.at.items()}
    if not any(future[r] >= g for r in c.touched):
        return False
    got = _fit(cap, future, g, rack_limit)
    if got is None or [(v.rack, n) for v, n in got] != c.chosen:
        return False
    span, bits = cap.topo.rack_span, cap.free
    return all(bits[span[r][0] : span[r][1]] == f for (r, _), f in zip(c.chosen, c.free, strict=True))


def _walk(
    cap: Capacity,
    sites: tuple[int, ...],
    g: int,
    rack_limit: int,
    ends: list[tuple[float, str, int]],
    racks: frozenset[int] | None,
) -> tuple[HeadReservation | None, KeptStart | None]:
    """`earliest_start`'s walk for one rack over every site with nothing held or overlapping, recording what
    `_same_walk` checks (an allocation stopped in this cycle: the plain walk, nothing recorded)."""
    topo = cap.topo
    future = {r: cap.rack_free[r] for s in sites for r in topo.site_racks[s] if racks is None or r in racks}
    rel = dict.fromkeys(future, 0)
    allocs, usable, gpu_rack = cap.allocs, cap.usable, topo.gpu_rack
    n = len(ends)
    k = 0
    while k < n:
        t: float = ends[k][0]
        first = k
        fits = False  # a rack this step released GPUs in has `g` by now (counts only grow)
        while k < n and ends[k][0] == t:
            a = allocs[ends[k][2]]
            if a.stopping and a.stop_at is None:
                return earliest_start(cap, sites, g, rack_limit, ends=ends, racks=racks), None
            for r, c in a.spread(usable, gpu_rack):
                f = future.get(r)
                if f is not None:
                    f += c
                    future[r] = f
                    rel[r] += c
                    if f >= g:
                        fits = True
            k += 1
        if not fits:
            continue
        got = _fit(cap, future, g, rack_limit)
        if got is not None:
            step: dict[int, int] = {}  # what the last step released per rack (`KeptStart.at` - `before`)
            for e in ends[first:k]:
                for r, c in allocs[e[2]].spread(usable, gpu_rack):
                    if r in future:
                        step[r] = step.get(r, 0) + c
            touched = set(step)
            chosen = {v.rack for v, _ in got}
            owner = cap.gpu_alloc
            released: set[int] = set()
            for e in ends[:k]:
                i = e[2]
                a = allocs[i]
                if any(r in chosen for r, _ in a.spread(usable, gpu_rack)):
                    released.update(x for x in a.gpus if gpu_rack[x] in chosen and usable[x] and owner[x] == i)
            res = _reserve(cap, got, released, t)
            if any(allocs[e[2]].placed_now for e in ends[:k]):
                return res, None  # placed in this cycle: its key may hold other GPUs in another cycle
            span, bits = topo.rack_span, cap.free
            picked = [(v.rack, m) for v, m in got]
            kept = KeptStart(usable, t, k, ends[:k], {r: rel[r] - step.get(r, 0) for r in rel}, dict(rel), touched,
                             picked, [bytes(bits[span[r][0] : span[r][1]]) for r, _ in picked], res)  # fmt: skip
            return res, kept
    return None, None


def starts_before(
    cap: Capacity,
    sites: tuple[int, ...],
    g: int,
    rack_limit: int,
    before: float,
    ends: list[tuple[float, str, int]],
) -> bool:
    """`earliest_start(cap, sites, g, rack_limit, before, ends) is not None`, sooner: a job within one
    rack fits as soon as one rack of `sites` has `g` GPUs free or released, so the walk stops there
    (no placement rule to apply, no reservation to build)."""
    return first_fit(cap, sites, g, rack_limit, ends, before) < before


def first_fit(
    cap: Capacity,
    sites: tuple[int, ...],
    g: int,
    rack_limit: int,
    ends: list[tuple[float, str, int]],
    before: float = float("inf"),
) -> float:
    """The first expected end after which `g` GPUs fit (`starts_before`'s walk), or inf (none before
    `before`): `starts_before(..., t)` is `first_fit(...) < t` for every t, so one walk answers them all."""
    if g > rack_limit:
        got = earliest_start(cap, sites, g, rack_limit, None if before == float("inf") else before, ends,
                             pick=False)  # fmt: skip
        return float("inf") if got is None else got.start
    topo = cap.topo
    site_set = set(sites)
    rack_free = cap.rack_free
    future = [-1] * len(topo.rack_site)  # free GPUs by then per rack of `sites` (-1: another site's rack)
    for s in sites:
        for r in topo.site_racks[s]:
            future[r] = rack_free[r]
    every = len(site_set) == len(topo.sites)
    allocs, usable, held, owner, gpu_rack = cap.allocs, cap.usable, cap.held, cap.gpu_alloc, topo.gpu_rack
    spread_ok = not cap.overlap  # as in `earliest_start`
    held_by: set[int] = {owner[x] for x in held} if held else set()
    for e in ends:
        t: float = e[0]
        if t >= before:
            break
        i = e[2]
        a = allocs[i]
        if not every and not _touches(cap, a.gpus, site_set):
            continue
        if spread_ok and (not a.stopping or a.stop_at is not None) and i not in held_by:
            for r, c in a.spread(usable, gpu_rack):
                f = future[r]
                if f >= 0:
                    f += c
                    future[r] = f
                    if f >= g:
                        return t
        else:
            for x in a.gpus:
                r = gpu_rack[x]
                f = future[r]
                if f >= 0 and usable[x] and x not in held and owner[x] == i:
                    f += 1
                    future[r] = f
                    if f >= g:
                        return t
    return float("inf")


def expected_ends(cap: Capacity, state: SchedulerState | None = None) -> list[tuple[float, str, int]]:
    """(expected end, job id, allocation) of everything holding GPUs, in time order.

    `Alloc.expected_end` inlined. state: the `SchedulerState` under `cap`, whose sorted ends give the
    running work's without a pass over it (`SchedulerState.ends_at`); only this cycle's placements
    are added.
    """
    now = cap.now
    if state is not None:
        out = state.ends_at(now)
        placed = [(a.expected_end(now), a.job.id, k) for k, a in cap.placed()]
        if placed:
            out.extend(placed)
            out.sort()
        return out
    out = []
    for i, a in cap.allocs.items():
        job = a.job
        if a.stop_at is not None:
            end = a.stop_at if a.stop_at > now else now
        else:
            est, most = job.estimated_runtime_s, job.max_runtime_s
            end = a.started_at + (most if est is None or est > most else est)
            if end <= now:
                end = a.started_at + most
                if end < now:
                    end = now
        out.append((end, job.id, i))
    out.sort()
    return out


def _touches(cap: Capacity, gpus: list[int], sites: set[int]) -> bool:
    topo = cap.topo
    return bool(gpus) and topo.rack_site[topo.gpu_rack[gpus[0]]] in sites


def _fit(cap: Capacity, future: dict[int, int], g: int, rack_limit: int) -> list[tuple[RackView, int]] | None:
    site_of = cap.topo.rack_site
    # cost: GPUs still busy now, so the hold prefers racks that need the least draining
    views = [
        RackView(r, site_of[r], f, cap.rack_usable[r], (f - cap.rack_free[r],))
        for r, f in future.items()
        if f
    ]
    return choose(views, g, rack_limit)


def _reserve(cap: Capacity, got: list[tuple[RackView, int]], released: set[int], t: float) -> HeadReservation:
    gpus: list[int] = []
    for v, n in got:
        gpus.extend(_pick_free_or(cap, v.rack, n, released))
    return HeadReservation(start=t, site=got[0][0].site, gpus=gpus)


def _pick_free_or(cap: Capacity, rack: int, g: int, also: set[int]) -> list[int]:
    """`assign.pick_free_or`: the same GPUs, with counts per tray (free GPUs by span, plus those of `also`,
    which are never free) and GPU lists only for the trays the plan picks."""
    topo = cap.topo
    trays, span, tg, free, gpu_tray, gpu_rack = (
        topo.rack_trays[rack], topo.tray_span, topo.tray_gpus, cap.free, topo.gpu_tray, topo.gpu_rack
    )
    extra: dict[int, int] = {}
    for x in also:
        if gpu_rack[x] == rack and not free[x]:
            t = gpu_tray[x]
            extra[t] = extra.get(t, 0) + 1
    counts = [free.count(1, *span[t]) + extra.get(t, 0) for t in trays]
    plan = plan_trays(counts, [cap.tray_usable[t] for t in trays], g)
    assert plan is not None, "rack view promised more GPUs than its trays hold"
    out: list[int] = []
    for pos, n in plan:
        out.extend([x for x in tg[trays[pos]] if free[x] or x in also][:n])
    return out


# ---------- placing around holds ----------


def hold_allows(h: Hold, job: Job, now: float) -> bool:
    if h.reservation is not None:
        return job.reservation == h.reservation and (h.tenant is None or h.tenant == job.tenant)
    if job.reservation is not None:
        return False
    runtime = job.max_runtime_s if h.strict else job.expected_runtime_s
    return now + runtime <= h.deadline


def place_with_holds(
    cap: Capacity, job: Job, sites: tuple[int, ...], rack_limit: int, only_held: bool = False
) -> tuple[int, list[int]] | None:
    """Place `job` on free GPUs plus held GPUs whose hold lets it in (None: no fit)."""
    ok = [hold_allows(h, job, cap.now) for h in cap.holds]
    if not any(ok):
        return None
    topo = cap.topo
    extra: dict[int, int] = {}
    for r, n in cap.held_free.items():
        if n and topo.rack_site[r] in sites:
            extra[r] = sum(
                1 for t in topo.rack_trays[r] for x in topo.tray_gpus[t] if _usable_held(cap, x, ok)
            )
    if not any(extra.values()):
        return None

    def allowed(x: int) -> bool:
        return (not only_held and bool(cap.free[x])) or _usable_held(cap, x, ok)

    views = []
    for s in sites:
        for r in topo.site_racks[s]:
            avail = extra.get(r, 0) + (0 if only_held else cap.rack_free[r])
            if avail:
                views.append(RackView(r, s, avail, cap.rack_usable[r]))
    got = choose(views, job.gpus, rack_limit)
    if got is None:
        return None
    gpus: list[int] = []
    for v, n in got:
        gpus.extend(pick_from(cap, v.rack, n, allowed))
    return got[0][0].site, gpus


def _usable_held(cap: Capacity, x: int, ok: list[bool]) -> bool:
    h = cap.held.get(x)
    return h is not None and ok[h] and cap.usable[x] == 1 and cap.gpu_alloc[x] == -1


def could_use_holds(cap: Capacity, job: Job, sites: tuple[int, ...]) -> bool:
    """Cheap test before `place_with_holds`: some hold admits the job and has free GPUs in `sites`."""
    if not cap.held_free or not any(hold_allows(h, job, cap.now) for h in cap.holds):
        return False
    return hold_room(cap, job.gpus, sites)


def hold_room(cap: Capacity, g: int, sites: tuple[int, ...]) -> bool:
    """Held-free GPUs in `sites`, and with the free ones at least `g` (the part of `could_use_holds`
    that does not depend on the job's runtime)."""
    site_of = cap.topo.rack_site
    room = sum(n for r, n in cap.held_free.items() if site_of[r] in sites)
    return room > 0 and room + sum(cap.site_free[s] for s in sites) >= g
