"""Advance reservations: hold GPUs in a site for a window, drain ahead of it.

Each cycle, for every reservation not yet over (in start order), the held GPUs are
chosen again, deterministically: named racks give all their healthy GPUs; a count N
takes GPUs already running this reservation's jobs, then GPUs that will be free by
the window start (free now, or their job's max runtime ends by then), racks with the
most such GPUs first, then the rest by earliest end. Held GPUs leave the hard free
counts: before the window only jobs whose max runtime ends by the start may use them
(backfill into the gap); inside the window only the reservation's own jobs may.

Work still on held GPUs that cannot end by the start is preempted once the start is
within its grace period (unless it is protected priority work), so the window starts
on time.
"""

from __future__ import annotations

from dataclasses import dataclass

from brique.domain.contracts import AdvanceReservation
from brique.scheduler.capacity import Capacity, Hold


@dataclass(frozen=True, slots=True)
class Drain:
    alloc: int
    reservation: str


def apply(cap: Capacity, reservations: tuple[AdvanceReservation, ...]) -> list[Drain]:
    """Hold GPUs for every live reservation; return the running work to drain now."""
    drains: list[Drain] = []
    for res in sorted(reservations, key=lambda r: (r.start, r.id)):
        s = cap.topo.site_index.get(res.site)
        if s is None or res.end <= cap.now:
            continue
        gpus = _named(cap, res) if res.racks else _counted(cap, res, s)
        active = res.active(cap.now)
        cap.hold(Hold(res.id, res.start, True, res.id if active else None, res.tenant, gpus))
        drains.extend(_drains(cap, res, gpus))
    return drains


def _named(cap: Capacity, res: AdvanceReservation) -> list[int]:
    topo = cap.topo
    out: list[int] = []
    for rid in res.racks:
        r = topo.rack_index.get(rid)
        if r is None or topo.sites[topo.rack_site[r]].id != res.site:
            continue
        out.extend(
            x for t in topo.rack_trays[r] for x in topo.tray_gpus[t] if cap.usable[x] and x not in cap.held
        )
    return out


def _counted(cap: Capacity, res: AdvanceReservation, s: int) -> list[int]:
    topo = cap.topo
    ranked: list[tuple[int, int, list[int], list[int]]] = []
    for r in topo.site_racks[s]:
        gpus = [
            x for t in topo.rack_trays[r] for x in topo.tray_gpus[t] if cap.usable[x] and x not in cap.held
        ]
        own = [x for x in gpus if _own(cap, x, res)]
        ready = [x for x in gpus if x not in own and _end(cap, x) <= res.start]
        ranked.append((-(len(own) + len(ready)), r, own, ready))
    ranked.sort(key=lambda e: (e[0], e[1]))
    out: list[int] = []
    for _, _, own, ready in ranked:
        out.extend(own + ready)
    out = out[: res.gpus]
    if len(out) < res.gpus:
        chosen = set(out)
        rest = [
            x for _, r, _, _ in ranked for x in _rack_gpus(cap, r) if x not in chosen and x not in cap.held
        ]
        rest.sort(key=lambda x: (_end(cap, x), x))
        out.extend(rest[: res.gpus - len(out)])
    return out


def _rack_gpus(cap: Capacity, r: int) -> list[int]:
    topo = cap.topo
    return [x for t in topo.rack_trays[r] for x in topo.tray_gpus[t] if cap.usable[x]]


def _own(cap: Capacity, x: int, res: AdvanceReservation) -> bool:
    a = cap.gpu_alloc[x]
    return a >= 0 and cap.allocs[a].job.reservation == res.id


def _end(cap: Capacity, x: int) -> float:
    a = cap.gpu_alloc[x]
    return cap.now if a < 0 else cap.allocs[a].latest_end(cap.now)


def _drains(cap: Capacity, res: AdvanceReservation, gpus: list[int]) -> list[Drain]:
    seen: set[int] = set()
    out: list[Drain] = []
    for x in gpus:
        i = cap.gpu_alloc[x]
        if i < 0 or i in seen:
            continue
        seen.add(i)
        a = cap.allocs[i]
        if a.job.reservation == res.id or a.stopping or a.protected or a.latest_end(cap.now) <= res.start:
            continue
        if cap.now >= res.start - a.job.preemption_grace_s:
            out.append(Drain(i, res.id))
    return out
