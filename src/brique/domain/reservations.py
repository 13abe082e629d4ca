"""Capacity reservations as the control plane books them: an org's window on N GPUs or N racks
of one site, requested by its tenant (then approved by an operator) or created by an operator.

Pure rules: which racks a rack-count booking takes, whether a booking fits beside the approved
ones it overlaps (with the reason when not), which reservation a job runs in, and how much
reserved capacity falls in a billing period. The scheduler core gets `AdvanceReservation`s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from brique.domain.contracts import AdvanceReservation
from brique.domain.fleet import Site
from brique.domain.jobs import Job, Tier


class ReservationState(StrEnum):
    REQUESTED = "requested"  # a tenant asked; holds nothing until an operator approves
    APPROVED = "approved"  # held by the scheduler for its window
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Reservation:
    id: str
    org_id: str
    site: str
    starts_at: datetime
    ends_at: datetime
    gpus: int = 0  # a GPU count, or
    racks: tuple[str, ...] = ()  # whole named racks
    state: ReservationState = ReservationState.REQUESTED
    requested_by: str = ""
    approved_by: str | None = None

    def __post_init__(self) -> None:
        if self.ends_at <= self.starts_at:
            raise ValueError("the window must end after it starts ('to' after 'from')")
        if (self.gpus > 0) == bool(self.racks):
            raise ValueError("give either a GPU count or racks, not both")

    def size(self, site: Site) -> int:
        """GPUs it holds in `site`."""
        return self.gpus or sum(r.gpu_count for r in site.racks if r.id in self.racks)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.starts_at < end and start < self.ends_at

    def live(self, now: datetime) -> bool:
        return self.state is ReservationState.APPROVED and self.ends_at > now

    def active(self, now: datetime) -> bool:
        return self.state is ReservationState.APPROVED and self.starts_at <= now < self.ends_at

    def to_core(self) -> AdvanceReservation:
        return AdvanceReservation(self.id, self.site, self.starts_at.timestamp(), self.ends_at.timestamp(),
                                  self.gpus, self.racks, self.org_id)  # fmt: skip

    def gpu_seconds_in(self, site: Site, start: datetime, end: datetime) -> int:
        """Reserved GPU-seconds falling in [start, end) (what is billed, used or not)."""
        lo, hi = max(start, self.starts_at), min(end, self.ends_at)
        return max(0, int((hi - lo).total_seconds())) * self.size(site)


def conflict(new: Reservation, site: Site, others: Iterable[Reservation]) -> str | None:
    """Why `new` cannot be approved beside the approved reservations it overlaps (None: it fits).

    GPU counts and named racks share the site: at any instant, the sum held must fit the site,
    and a named rack can be held by one reservation at a time."""
    clash = [o for o in others if o.id != new.id and o.state is ReservationState.APPROVED and o.site == new.site
             and o.overlaps(new.starts_at, new.ends_at)]  # fmt: skip
    for o in clash:
        shared = sorted(set(o.racks) & set(new.racks))
        if shared:
            return f"rack {shared[0]} is already reserved by {o.id} from {o.starts_at:%Y-%m-%d %H:%M} to {o.ends_at:%Y-%m-%d %H:%M} UTC"
    # the peak of what overlapping reservations hold happens at one of their starts
    instants = [new.starts_at] + [o.starts_at for o in clash if new.starts_at <= o.starts_at < new.ends_at]
    for at in instants:
        during = [o for o in clash if o.starts_at <= at < o.ends_at]
        held = sum(o.size(site) for o in during)
        if held + new.size(site) > site.gpu_count:
            ids = ", ".join(o.id for o in during)
            return (f"site {site.id} has {site.gpu_count} GPUs; {held} are already reserved at "
                    f"{at:%Y-%m-%d %H:%M} UTC ({ids}), so {new.size(site)} more do not fit")  # fmt: skip
    return None


def free_racks(
    site: Site, count: int, start: datetime, end: datetime, others: Iterable[Reservation]
) -> tuple[str, ...]:
    """The first `count` racks of `site` no approved reservation names during [start, end)
    (fewer when there are not enough)."""
    taken = {r for o in others if o.state is ReservationState.APPROVED and o.site == site.id
             and o.overlaps(start, end) for r in o.racks}  # fmt: skip
    return tuple(r.id for r in site.racks if r.id not in taken)[:count]


def reservation_for(job: Job, site_of: str | None, live: Iterable[Reservation], sites: dict[str, Site],
                    now: datetime) -> str | None:  # fmt: skip
    """The active reservation a job of its org runs in: for running work, the one in its site;
    for pending work, the first whose site its placement allows and that is large enough.
    Preemptible work is left on shared capacity (it may run anywhere and be stopped)."""
    if job.tier is Tier.PREEMPTIBLE:
        return None
    for r in live:
        if r.org_id != job.tenant or not r.active(now):
            continue
        site = sites.get(r.site)
        if site is None:
            continue
        if site_of is not None:
            if site_of == r.site:
                return r.id
            continue
        if job.placement.allows(site) and job.gpus <= r.size(site):
            return r.id
    return None
