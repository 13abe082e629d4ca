"""Idle headroom for guarantees (`SchedulingPolicy.guarantee_reserve`).

On a full fleet every priority job arriving within its tenant's guarantee either finds GPUs
freed by a job ending during its start promise or reclaims running work. Keeping a few free
GPUs idle after the guarantee phase (held for the rest of the cycle with a deadline of now,
which no job can meet) turns those reclaims into immediate starts, at the price of the idle
GPUs. The next cycle starts with them free again: the guarantee phase (first) may take them.

What it never takes, so that every job still starts eventually: more than the guarantees' room
left for priority work; GPUs of a rack that is wholly free (a rack whose work has all ended is
there for any job that needs it, a gang over a rack included); the GPUs of a head's last
reservation (`pins`, which its firm hold is draining). Among the rest, the fullest racks first,
where a 1-GPU job would go (best fit), so the racks that drain for big jobs are the last taken.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from brique.scheduler.alloc import Hold
from brique.scheduler.capacity import Capacity
from brique.scheduler.quota import Quota

OWNER = "guarantee-reserve"  # a hold's owner (no job has this id)


def room(quota: Quota) -> int:
    """GPUs the guarantees still leave for priority work, summed over tenants."""
    tenants = dict.fromkeys(c.tenant for c in quota.book.contracts if c.guaranteed_gpus > 0)
    return sum(max(0, quota.prio_room(t)) for t in tenants)


def keep(cap: Capacity, quota: Quota, n: int, pins: Mapping[str, Iterable[str]]) -> int:
    """Hold up to `n` free GPUs for the rest of the cycle (module doc); returns how many."""
    if n <= 0 or not any(cap.site_free):
        return 0
    n = min(n, room(quota))
    if n <= 0:
        return 0
    topo, free, rack_free, usable = cap.topo, cap.free, cap.rack_free, cap.rack_usable
    racks = sorted((f, r) for r, f in enumerate(rack_free) if 0 < f < usable[r])
    if not racks:
        return 0
    index = topo.gpu_index
    pinned = {index[g] for gpus in pins.values() for g in gpus if g in index}
    got: list[int] = []
    for _, r in racks:
        for t in topo.rack_trays[r]:
            got.extend(x for x in topo.tray_gpus[t] if free[x] and x not in pinned)
        if len(got) >= n:
            break
    got = got[:n]
    if got:
        cap.hold(Hold(OWNER, cap.now, True, gpus=got))
    return len(got)
