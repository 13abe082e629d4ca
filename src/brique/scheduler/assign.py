"""Topology-aware gang placement: which racks, trays and GPUs a job gets.

Rules (GB200 NVL72 wording; any rack size works):

- A job no larger than a rack runs inside one rack (one NVLink domain). Among the
  racks where it fits, best fit: the fullest one (fewest free GPUs >= the ask), so
  whole racks stay free for big jobs. Ties: first site in the fleet, then rack order.
- A larger job takes whole free racks, as few as possible, all in one site; what is
  left over (not a multiple of the rack size) goes to the fullest rack where it fits.
- Inside a rack, trays are packed: whole free trays for each multiple of the tray
  size, the remainder in the fullest tray where it fits (partially used trays first),
  else spread over partial trays, largest first.

The fast path (`place_fast`) reads the bucketed counts in `Capacity` and never scans
GPUs outside the chosen racks. `choose` is the same rule over explicit per-rack views;
the slow paths (held GPUs, preemption, reservations) use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from brique.scheduler.capacity import Capacity


@dataclass(slots=True)
class RackView:
    """A rack as one what-if sees it: `avail` GPUs usable for the job, at `cost`."""

    rack: int
    site: int
    avail: int
    usable: int
    cost: tuple[float, ...] = ()


R = TypeVar("R")  # a rack: its index (fast path) or a `RackView` (slow paths)


# ---------- trays ----------


def plan_trays(counts: list[int], sizes: list[int], g: int) -> list[tuple[int, int]] | None:
    """Pick (tray position, GPUs) pairs giving `g` GPUs; None when the rack can't."""
    if sum(counts) < g:
        return None
    size = max(sizes) if sizes else 1
    plan: list[tuple[int, int]] = []
    used: set[int] = set()
    whole = g // size
    for i, c in enumerate(counts):
        if whole and c == sizes[i] == size:
            plan.append((i, c))
            used.add(i)
            whole -= 1
    left = g - sum(n for _, n in plan)
    if left:
        fit = [(c, i) for i, c in enumerate(counts) if i not in used and c >= left]
        if fit:
            plan.append((min(fit)[1], left))
            return plan
        rest = sorted(
            ((c < sizes[i], c, -i) for i, c in enumerate(counts) if i not in used and c), reverse=True
        )
        for _, c, neg in rest:
            n = min(c, left)
            plan.append((-neg, n))
            left -= n
            if not left:
                break
    return plan


def _pick(cap: Capacity, rack: int, g: int, avail: Callable[[int], list[int]]) -> list[int]:
    trays = cap.topo.rack_trays[rack]
    lists = [avail(t) for t in trays]
    plan = plan_trays([len(x) for x in lists], [cap.tray_usable[t] for t in trays], g)
    assert plan is not None, "rack view promised more GPUs than its trays hold"
    out: list[int] = []
    for pos, n in plan:
        out.extend(lists[pos][:n])
    return out


def pick_free(cap: Capacity, rack: int, g: int) -> list[int]:
    """`g` hard-free GPUs of `rack`, tray-packed (counts per tray span; lists only for chosen trays)."""
    trays, span, free = cap.topo.rack_trays[rack], cap.topo.tray_span, cap.free
    counts = [free.count(1, *span[t]) for t in trays]
    plan = plan_trays(counts, [cap.tray_usable[t] for t in trays], g)
    assert plan is not None, "rack view promised more GPUs than its trays hold"
    out: list[int] = []
    for pos, n in plan:
        a, b = span[trays[pos]]
        out.extend([x for x in range(a, b) if free[x]][:n])
    return out


def pick_from(cap: Capacity, rack: int, g: int, allowed: Callable[[int], bool]) -> list[int]:
    """`g` GPUs of `rack` for which `allowed(gpu)` holds, tray-packed."""
    tg = cap.topo.tray_gpus
    return _pick(cap, rack, g, lambda t: [x for x in tg[t] if allowed(x)])


def pick_free_or(cap: Capacity, rack: int, g: int, also: set[int]) -> list[int]:
    """`pick_from` with `allowed(x) = free[x] or x in also`, the test inlined (no call per GPU)."""
    tg, free = cap.topo.tray_gpus, cap.free
    return _pick(cap, rack, g, lambda t: [x for x in tg[t] if free[x] or x in also])


# ---------- fast path ----------


def place_fast(
    cap: Capacity, sites: tuple[int, ...], g: int, rack_limit: int
) -> tuple[int, list[int]] | None:
    """Best placement on hard-free GPUs: (site, GPU indices), or None."""
    if g <= rack_limit:
        return _small_fast(cap, sites, g)
    best: tuple[tuple[int, int, int], list[tuple[int, int]]] | None = None
    for order, s in enumerate(sites):
        got = _big_fast(cap, s, g)
        if got is not None:
            key = (len(got), _last_free(cap, got), order)
            if best is None or key < best[0]:
                best = (key, got)
    if best is None:
        return None
    racks = best[1]
    gpus: list[int] = []
    for r, n in racks:
        gpus.extend(pick_free(cap, r, n))
    return cap.topo.rack_site[racks[0][0]], gpus


def _last_free(cap: Capacity, racks: list[tuple[int, int]]) -> int:
    return cap.rack_free[racks[-1][0]]


def _small_fast(cap: Capacity, sites: tuple[int, ...], g: int) -> tuple[int, list[int]] | None:
    best_f, best_s = 1 << 30, -1
    masks = cap.masks
    for s in sites:
        m = masks[s] >> g
        if m:
            f = g + (m & -m).bit_length() - 1
            if f < best_f:
                best_f, best_s = f, s
    if best_s < 0:
        return None
    rack = next(iter(cap.buckets[best_s][best_f]))
    return best_s, pick_free(cap, rack, g)


def _big_fast(cap: Capacity, s: int, g: int) -> list[tuple[int, int]] | None:
    full = cap.full[s]
    usable = cap.rack_usable
    top = cap.masks[s].bit_length() - 1
    if sum(usable[r] for r in full) + top < g:
        return None
    wholes = sorted(full, key=lambda r: -usable[r])
    return fewest_racks(
        g, wholes, top, usable.__getitem__, lambda left, taken: _best_fit_excluding(cap, s, left, taken), int
    )


def fewest_racks(
    g: int,
    wholes: list[R],
    top: int,
    size: Callable[[R], int],
    fit: Callable[[int, set[int]], R | None],
    ident: Callable[[R], int],
) -> list[tuple[R, int]] | None:
    """The big-job rule, once for both paths: whole racks in `wholes` order until the rest fits in one
    rack (`fit(left, taken)`: best fit, None if none; tried once `left <= top`, the most any rack has), the last whole
    rack trimmed when it overshoots. `ident` names a rack in `taken` (its index, or `id()` of a view)."""
    chosen: list[tuple[R, int]] = []
    taken: set[int] = set()
    left = g
    for r in wholes:
        if left <= top:
            got = fit(left, taken)
            if got is not None:
                chosen.append((got, left))
                return chosen
        chosen.append((r, size(r)))
        taken.add(ident(r))
        left -= size(r)
        if left <= 0:
            chosen[-1] = (r, size(r) + left)
            return chosen
    got = fit(left, taken) if left > 0 else None
    if got is None:
        return None
    chosen.append((got, left))
    return chosen


def _best_fit_excluding(cap: Capacity, s: int, g: int, taken: set[int]) -> int | None:
    m = cap.masks[s] >> g
    f = g
    buckets = cap.buckets[s]
    while m:
        low = (m & -m).bit_length() - 1
        f += low
        m >>= low
        for r in buckets[f]:
            if r not in taken:
                return r
        m >>= 1
        f += 1
    return None


# ---------- explicit views (slow paths) ----------


def choose(views: list[RackView], g: int, rack_limit: int) -> list[tuple[RackView, int]] | None:
    """The placement rule over explicit rack views, lowest cost first; None when nothing fits."""
    if g <= rack_limit:
        fits = [(v.cost, v.avail, i) for i, v in enumerate(views) if v.avail >= g]
        if not fits:
            return None
        return [(views[min(fits)[2]], g)]
    by_site: dict[int, list[RackView]] = {}
    for v in views:
        by_site.setdefault(v.site, []).append(v)
    best: tuple[tuple[object, ...], list[tuple[RackView, int]]] | None = None
    for s, vs in by_site.items():
        got = _big_view(vs, g)
        if got is not None:
            key = (len(got), tuple(sum(c) for c in zip(*(v.cost for v, _ in got), strict=True)), s)
            if best is None or key < best[0]:
                best = (key, got)
    return None if best is None else best[1]


def _big_view(views: list[RackView], g: int) -> list[tuple[RackView, int]] | None:
    order = {id(v): i for i, v in enumerate(views)}
    wholes = sorted((v for v in views if v.avail and v.avail == v.usable), key=lambda v: (v.cost, -v.usable))
    top = max((v.avail for v in views), default=0)
    return fewest_racks(
        g, wholes, top, lambda v: v.usable, lambda left, taken: _view_fit(views, left, taken, order), id
    )


def _view_fit(views: list[RackView], g: int, taken: set[int], order: dict[int, int]) -> RackView | None:
    fits = [(v.cost, v.avail, order[id(v)]) for v in views if id(v) not in taken and v.avail >= g]
    return views[min(fits)[2]] if fits else None
