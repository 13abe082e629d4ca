"""Admission: which site a job may use, and whether it could ever run at all.

Placement policies are evaluated once per distinct policy per cycle (cached), as
pure predicates over the fleet's `Site` values. A job is rejected (not merely
kept waiting) when no site qualifies, when it is larger than the largest qualifying
rack/site could ever hold (healthy or not: repairs can't make a site bigger), when
its tenant's contract can never allow that many GPUs at once, or when it names an
advance reservation that does not exist or is too small.
"""

from __future__ import annotations

from brique.domain.contracts import AdvanceReservation, ContractBook
from brique.domain.jobs import Job
from brique.domain.policy import PlacementPolicy
from brique.scheduler import explain
from brique.scheduler.decisions import Reason
from brique.scheduler.quota import Quota
from brique.scheduler.topology import Topology


class Sites:
    """Candidate sites per placement policy, and size limits per candidate set."""

    def __init__(self, topo: Topology) -> None:
        self.topo = topo
        self._sites: dict[PlacementPolicy, tuple[int, ...]] = {}
        self._by_id: dict[int, tuple[PlacementPolicy, tuple[int, ...]]] = {}
        self._limit: dict[tuple[int, ...], int] = {}
        self._largest: dict[tuple[int, ...], int] = {}
        self._admitted: dict[tuple[int, int, str], tuple[PlacementPolicy, tuple[Reason, ...]]] = {}
        self._book: ContractBook | None = None
        self._jobs: dict[int, tuple[Job, tuple[Reason, ...]]] = {}

    def admitted(self, book: ContractBook) -> dict[tuple[int, int, str], tuple[PlacementPolicy, tuple[Reason, ...]]]:
        """Admission answers by (id of placement, GPUs, tenant) for jobs without a reservation, for the
        cycle to read and fill: they depend only on the topology and `book`, so they are kept until it changes."""
        if book is not self._book or len(self._admitted) >= 65_536:  # bounded for a long-lived state
            self._admitted = {}
            self._jobs = {}
            self._book = book
        return self._admitted

    def admitted_jobs(self) -> dict[int, tuple[Job, tuple[Reason, ...]]]:
        """The same answers by id of the job object (kept alive by its entry), for callers that hand
        the same `Job` objects cycle after cycle; valid as long as `admitted`'s (call that first)."""
        if len(self._jobs) >= 16_384:  # bounded: a caller building new objects each cycle only refills it
            self._jobs = {}
        return self._jobs

    def of(self, policy: PlacementPolicy) -> tuple[int, ...]:
        hit = self._by_id.get(id(policy))  # identity first: hashing a policy costs more than this
        if hit is not None and hit[0] is policy:
            return hit[1]
        got = self._sites.get(policy)
        if got is None:
            got = tuple(i for i, s in enumerate(self.topo.sites) if policy.allows(s))
            self._sites[policy] = got
        if len(self._by_id) >= 4096:  # a long-lived state sees many equal policies: stay bounded
            self._by_id.clear()
        self._by_id[id(policy)] = (policy, got)  # keeps `policy` alive, so its id stays unique
        return got

    def rack_limit(self, sites: tuple[int, ...]) -> int:
        """Largest rack among `sites`: jobs up to this size run inside one rack."""
        got = self._limit.get(sites)
        if got is None:
            got = max((self.topo.max_rack(s) for s in sites), default=0)
            self._limit[sites] = got
        return got

    def largest_site(self, sites: tuple[int, ...]) -> int:
        got = self._largest.get(sites)
        if got is None:
            got = max((self.topo.site_capacity(s) for s in sites), default=0)
            self._largest[sites] = got
        return got


def reject_reasons(
    job: Job, sites: Sites, quota: Quota, reservations: dict[str, AdvanceReservation], now: float
) -> tuple[Reason, ...]:
    """Why `job` can never run as asked (empty: it can)."""
    cands = sites.of(job.placement)
    if not cands:
        return (explain.no_site(job.placement.label),)
    if job.gpus > sites.rack_limit(cands) and job.gpus > sites.largest_site(cands):
        return (explain.too_large(job.gpus, job.placement.label, False, sites.largest_site(cands)),)
    never = quota.never_fits(job)
    if never is not None:
        return (explain.over_guarantee(job, never[1]),)
    if job.reservation is not None:
        return _reservation_reasons(job, sites, reservations, now)
    return ()


def _reservation_reasons(
    job: Job, sites: Sites, reservations: dict[str, AdvanceReservation], now: float
) -> tuple[Reason, ...]:
    res = reservations.get(job.reservation or "")
    if res is None or res.end <= now or (res.tenant is not None and res.tenant != job.tenant):
        return (explain.unknown_reservation(job),)
    size = res.gpus or sum(
        sites.topo.rack_size[sites.topo.rack_index[r]] for r in res.racks if r in sites.topo.rack_index
    )
    if job.gpus > size:
        return (explain.reservation_too_small(job, size),)
    return ()
