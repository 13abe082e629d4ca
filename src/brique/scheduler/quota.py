"""Contract accounting for one cycle: guarantees, borrowing and who is protected.

Running work of each tenant is walked oldest first, priority tier before others
(preemptible tier excluded); while it fits the tenant's guarantee (per-site budget
for its site first, then the fleet-wide budget) it is *in guarantee*, beyond that it
is *borrowed*. In-guarantee priority work is *protected*: it is never preempted.
Borrowed work and preemptible-tier work can be reclaimed for a within-guarantee job.
"""

from __future__ import annotations

from brique.domain.contracts import ContractBook, TenantTerms
from brique.domain.jobs import Job, Tier
from brique.scheduler.capacity import Alloc, Capacity


class Quota:
    def __init__(self, contracts: ContractBook, cap: Capacity) -> None:
        self.book = contracts
        self.cap = cap
        self.held: dict[str, int] = {}
        self.site_left: dict[tuple[str, str], int] = {}
        self.wide_left: dict[str, int] = {}
        self._classify()

    def terms(self, tenant: str) -> TenantTerms:
        return self.book.terms(tenant)

    def _budget(self, tenant: str) -> None:
        if tenant in self.wide_left:
            return
        t = self.terms(tenant)
        self.wide_left[tenant] = t.guarantee
        for site, g in t.site_guarantees:
            self.site_left[(tenant, site)] = g

    def _classify(self) -> None:
        live = [a for a in self.cap.allocs if not a.stopping]
        for a in live:
            self.held[a.job.tenant] = self.held.get(a.job.tenant, 0) + len(a.gpus)
        ranked = sorted(
            (a for a in live if a.job.tier != Tier.PREEMPTIBLE),
            key=lambda a: (a.job.tenant, a.job.tier != Tier.PRIORITY, a.started_at, a.job.id),
        )
        for a in ranked:
            inside = self._consume(a.job.tenant, self._site_of(a), len(a.gpus))
            a.protected = inside and a.job.tier == Tier.PRIORITY
            a.borrowed = not inside

    def _site_of(self, a: Alloc) -> str:
        topo = self.cap.topo
        return topo.sites[topo.rack_site[topo.gpu_rack[a.gpus[0]]]].id if a.gpus else ""

    def _consume(self, tenant: str, site: str, gpus: int) -> bool:
        self._budget(tenant)
        key = (tenant, site)
        if self.site_left.get(key, 0) >= gpus:
            self.site_left[key] -= gpus
            return True
        if self.wide_left[tenant] >= gpus:
            self.wide_left[tenant] -= gpus
            return True
        return False

    # ---------- pending jobs ----------

    def guarantee_sites(self, job: Job) -> frozenset[str] | None:
        """Sites where `job` would run within its tenant's guarantee (None: anywhere); empty: nowhere."""
        if job.tier != Tier.PRIORITY:
            return frozenset()
        self._budget(job.tenant)
        if self.wide_left[job.tenant] >= job.gpus:
            return None
        t = self.terms(job.tenant)
        return frozenset(s for s, _ in t.site_guarantees if self.site_left[(job.tenant, s)] >= job.gpus)

    def borrow_block(self, job: Job) -> tuple[str, int, int, int | None] | None:
        """Why borrowing rules stop `job` now: (kind, would_borrow, guarantee, cap), or None."""
        t = self.book.terms(job.tenant)
        after = self.held.get(job.tenant, 0) + job.gpus
        over = after - t.total_guarantee
        if over <= 0:
            return None
        if not t.may_borrow:
            return ("no_borrowing", over, t.total_guarantee, 0)
        if t.borrow_cap is not None and over > t.borrow_cap:
            return ("borrow_cap", over, t.total_guarantee, t.borrow_cap)
        return None

    def borrow_room(self, tenant: str) -> int | None:
        """GPUs the tenant may still take before borrowing rules stop it (None: no limit)."""
        most = self.book.terms(tenant).most_at_once
        return None if most is None else most - self.held.get(tenant, 0)

    def never_fits(self, job: Job) -> tuple[int, int] | None:
        """(ask, most it could ever hold) when contract terms alone rule the job out."""
        most = self.book.terms(job.tenant).most_at_once
        return (job.gpus, most) if most is not None and job.gpus > most else None

    def charge(self, job: Job, site: str, within_guarantee: bool) -> None:
        self.held[job.tenant] = self.held.get(job.tenant, 0) + job.gpus
        if within_guarantee:
            self._consume(job.tenant, site, job.gpus)

    def release(self, a: Alloc) -> None:
        """`a` is being preempted: it no longer counts for its tenant."""
        self.held[a.job.tenant] -= len(a.gpus)
