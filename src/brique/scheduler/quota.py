"""Contract accounting for one cycle: guarantees, borrowing and who is protected.

Running work of each tenant is walked oldest first, priority tier before others
(preemptible tier excluded); while it fits the tenant's guarantee (per-site budget
for its site first, then the fleet-wide budget) it is *in guarantee*, beyond that it
is *borrowed*. In-guarantee priority work is *protected*: it is never preempted.
Borrowed work and preemptible-tier work can be reclaimed for a within-guarantee job.

A priority job is *within guarantee* when it fits what the tenant's in-guarantee
*priority* work leaves of the guarantee (`prio_wide_left`/`prio_site_left`): the
tenant's own standard work may fill its guarantee while priority demand is low, but
it must not push the tenant's priority work out of it. Such a job may reclaim the
tenant's own unprotected (standard) work too (`cycle.py`).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import Final

from brique.domain.contracts import ContractBook, TenantTerms
from brique.domain.jobs import Job, Tier
from brique.scheduler.alloc import Alloc
from brique.scheduler.topology import Topology

_PRIORITY: Final = Tier.PRIORITY  # a constant (compiled to a static) rather than an enum attribute read
_PREEMPTIBLE: Final = Tier.PREEMPTIBLE


class Ledger:
    """The classification of running work, kept across cycles and refreshed per tenant.

    A tenant's result depends only on its own allocations, so a delta marks its
    tenant dirty and `refresh()` reclassifies dirty tenants only, walking their
    non-preemptible work kept sorted (priority first, then start time, then id).
    `held`: GPUs of live (not stopping) work; `wide_left`/`site_left`: guarantee left.
    """

    def __init__(self, book: ContractBook, topo: Topology) -> None:
        self.book = book
        self.topo = topo
        self.ranked: dict[str, list[tuple[bool, float, str, int, str, Alloc]]] = {}
        self.count: dict[str, int] = {}  # allocations per tenant (live or stopping)
        self.live: dict[str, int] = {}
        self.held: dict[str, int] = {}
        self.site_left: dict[tuple[str, str], int] = {}
        self.wide_left: dict[str, int] = {}
        self.prio_site_left: dict[tuple[str, str], int] = {}  # the same, counting priority work only
        self.prio_wide_left: dict[str, int] = {}
        self.share_left: dict[tuple[str, str], int] = {}  # (tenant, project): share its priority work leaves
        self.dirty: set[str] = set()
        # Tenants whose ranked work changed other than by entries added at its end since their last
        # classification; the others are classified from where that one ended (`_end`, `_extend`).
        self.moved: set[str] = set()
        self._end: dict[str, tuple[int, dict[str, int], _Left | None, int]] = {}
        self.weights: dict[str, float] = {}  # tenant -> its fair-share weight in `book` (read by cycles)
        self.terms_of: dict[str, Terms] = {}  # tenant -> its terms, read natively (`native`)
        self.any_guarantee = book.default.guaranteed_gpus > 0 or any(c.guaranteed_gpus > 0 for c in book.contracts)

    def add(self, key: int, a: Alloc) -> None:
        t = a.job.tenant
        self.count[t] = self.count.get(t, 0) + 1
        if a.stop_at is None:
            self._live(t, 1, len(a.gpus))
        if a.job.tier is not _PREEMPTIBLE:
            ranked = self.ranked.setdefault(t, [])
            entry = self._entry(key, a)
            if not ranked or ranked[-1] < entry:
                ranked.append(entry)
            else:
                insort(ranked, entry)
                self.moved.add(t)
            self.dirty.add(t)

    def remove(self, key: int, a: Alloc) -> None:
        t = a.job.tenant
        self.count[t] -= 1
        if a.stop_at is None:
            self._live(t, -1, -len(a.gpus))
        if a.job.tier is not _PREEMPTIBLE:
            ranked = self.ranked[t]
            entry = self._entry(key, a)
            i = bisect_left(ranked, entry)
            if i < len(ranked) and ranked[i][3] == key:
                del ranked[i]
            self.dirty.add(t)
            self.moved.add(t)
        if not self.count[t]:
            del self.count[t]
            self.ranked.pop(t, None)
            self.dirty.add(t)
            self.moved.add(t)

    def stop(self, a: Alloc) -> None:
        """`a` (live) gets a stop signal (call before setting `a.stop_at`): it no longer counts."""
        if a.stop_at is None:
            self._live(a.job.tenant, -1, -len(a.gpus))
            self.dirty.add(a.job.tenant)
            self.moved.add(a.job.tenant)

    def _live(self, t: str, n: int, gpus: int) -> None:
        live = self.live[t] = self.live.get(t, 0) + n
        if live:
            self.held[t] = self.held.get(t, 0) + gpus
        else:
            del self.live[t]
            self.held.pop(t, None)

    def _entry(self, key: int, a: Alloc) -> tuple[bool, float, str, int, str, Alloc]:
        return (a.job.tier is not _PRIORITY, a.started_at, a.job.id, key, site_of(self.topo, a), a)

    def native(self, tenant: str) -> Terms:
        """The tenant's terms in `book`, in a compiled class kept while the contracts are the same."""
        got = self.terms_of.get(tenant)
        if got is None:
            got = self.terms_of[tenant] = Terms(self.book.terms(tenant))
        return got

    def refresh(self) -> None:
        """Reclassify dirty tenants. Safe in the middle of a cycle: only stops sent before it count."""
        for tenant in self.dirty:
            if tenant in self.moved or tenant not in self._end:
                self._classify(tenant)
            else:
                self._extend(tenant)
        self.dirty.clear()
        self.moved.clear()

    def _extend(self, tenant: str) -> None:
        """`_classify` for a tenant whose work was only added at the end of its rank order since it was last
        classified (without project shares): the entries before are classified as they were, and the new
        ones continue from the budget they left."""
        ranked = self.ranked[tenant]
        wide, sites, prio, n = self._end[tenant]
        budget = _Left(wide, dict(sites))
        prio = self._walk(budget, prio.copy() if prio is not None else None, ranked[n:], (0, {}))
        self._finish(tenant, budget, prio, (0, {}), {}, len(ranked))

    def _classify(self, tenant: str) -> None:
        """Oldest first, priority before others (preemptible excluded): in guarantee while it fits.

        With project shares, each project's priority work up to its share is classified first, and
        the shares its projects leave unused are held back from the other projects' priority work
        (that work is borrowed beyond what remains): a project's share is there when it asks. The
        tenant's standard work may still fill the unused shares."""
        t = self.native(tenant).terms
        ranked = self.ranked.get(tenant)
        for project, _ in t.project_shares:
            self.share_left.pop((tenant, project), None)
        if not ranked:
            self._end.pop(tenant, None)
            self.wide_left.pop(tenant, None)
            self.prio_wide_left.pop(tenant, None)
            for site, _ in t.site_guarantees:
                self.site_left.pop((tenant, site), None)
                self.prio_site_left.pop((tenant, site), None)
            return
        budget = _Left(t.guarantee, dict(t.site_guarantees))
        shares = dict(t.project_shares)
        first, rest = _in_shares(ranked, shares) if shares else ([], ranked)
        for _, _, _, _, site, a in first:
            budget.classify(a, site, later=False)
        held_back = budget.hold(sum(shares.values()))
        prio = self._walk(budget, None, rest, held_back)
        self._finish(tenant, budget, prio, held_back, shares, len(ranked) if not t.project_shares else -1)

    @staticmethod
    def _walk(budget: _Left, prio: _Left | None, entries: list[Entry], held_back: tuple[int, dict[str, int]]) -> _Left | None:
        """Classify `entries` in rank order against `budget` (`_Left.classify`, inlined: the walk covers
        all running work); the priority budget, set where the first non-priority entry comes."""
        wide, sites = budget.wide, budget.sites
        for later, _, _, _, site, a in entries:
            if later and prio is None:  # priority work comes first: what it leaves is the priority budget
                budget.wide = wide
                prio = budget.copy()
                budget.release(held_back)
                wide = budget.wide
            if a.stop_at is not None:  # stopped before the cycle (a cycle's own stops don't count here)
                a.protected = a.borrowed = False
                continue
            n = len(a.gpus)
            left = sites.get(site, 0) if sites else 0
            if left >= n:
                sites[site] = left - n
            elif wide >= n:
                wide -= n
            else:
                a.protected, a.borrowed = False, True
                continue
            a.protected, a.borrowed = not later, False
        budget.wide = wide
        return prio

    def _finish(
        self,
        tenant: str,
        budget: _Left,
        prio: _Left | None,
        held_back: tuple[int, dict[str, int]],
        shares: dict[str, int],
        n: int,
    ) -> None:
        """Publish the guarantee left; keep where the walk ended for `_extend` (n: entries walked; -1: not
        extensible, with project shares)."""
        if n >= 0:
            self._end[tenant] = (budget.wide, dict(budget.sites), prio.copy() if prio is not None else None, n)
        else:
            self._end.pop(tenant, None)
        if prio is None:
            prio = budget.copy()
            budget.release(held_back)
        self.wide_left[tenant] = budget.wide
        for site, g in budget.sites.items():
            self.site_left[(tenant, site)] = g
        self.prio_wide_left[tenant] = prio.wide
        for site, g in prio.sites.items():
            self.prio_site_left[(tenant, site)] = g
        for project, left in shares.items():
            self.share_left[(tenant, project)] = left


class Terms:
    """What a cycle reads of a tenant's `TenantTerms`, as a compiled class (typed fields read directly)."""

    def __init__(self, t: TenantTerms) -> None:
        self.terms = t
        self.weight: float = t.weight
        self.may_borrow: bool = t.may_borrow
        self.borrow_cap: int | None = t.borrow_cap
        self.total_guarantee: int = t.total_guarantee
        self.most_at_once: int | None = t.most_at_once
        self.free_borrow: bool = t.may_borrow and t.borrow_cap is None  # borrowing rules never stop it


class _Left:
    """A tenant's guarantee left while its running work is classified: fleet-wide and per site."""

    def __init__(self, wide: int, sites: dict[str, int]) -> None:
        self.wide = wide
        self.sites = sites

    def copy(self) -> _Left:
        return _Left(self.wide, dict(self.sites))

    def classify(self, a: Alloc, site: str, later: bool) -> None:
        """`a` is in guarantee (protected if priority) while it fits, else borrowed."""
        if a.stop_at is not None:  # stopped before the cycle (a cycle's own stops don't count here)
            a.protected = a.borrowed = False
            return
        n = len(a.gpus)
        left = self.sites.get(site, 0) if self.sites else 0
        if left >= n:
            self.sites[site] = left - n
        elif self.wide >= n:
            self.wide -= n
        else:
            a.protected, a.borrowed = False, True
            return
        a.protected, a.borrowed = not later, False

    def hold(self, gpus: int) -> tuple[int, dict[str, int]]:
        """Set aside up to `gpus` (fleet-wide budget first); what was set aside."""
        wide = min(gpus, max(self.wide, 0))
        self.wide -= wide
        gpus -= wide
        sites: dict[str, int] = {}
        for site in sorted(self.sites):
            take = min(gpus, max(self.sites[site], 0))
            if take:
                self.sites[site] -= take
                sites[site] = take
                gpus -= take
        return wide, sites

    def release(self, held: tuple[int, dict[str, int]]) -> None:
        self.wide += held[0]
        for site, gpus in held[1].items():
            self.sites[site] += gpus


Entry = tuple[bool, float, str, int, str, Alloc]  # (not priority, started, job id, key, site, alloc)


def _in_shares(ranked: list[Entry], shares: dict[str, int]) -> tuple[list[Entry], list[Entry]]:
    """Each project's live priority work that fits its share (oldest first; `shares` is charged),
    and the rest in rank order."""
    first: list[Entry] = []
    rest: list[Entry] = []
    for entry in ranked:
        a = entry[-1]
        p, n = a.job.project, len(a.gpus)
        if not entry[0] and a.stop_at is None and shares.get(p, 0) >= n:
            shares[p] -= n
            first.append(entry)
        else:
            rest.append(entry)
    return first, rest


def site_of(topo: Topology, a: Alloc) -> str:
    return topo.sites[topo.rack_site[topo.gpu_rack[a.gpus[0]]]].id if a.gpus else ""


class _Budget:
    """Guarantee left per tenant (fleet-wide) and per (tenant, site); created on first use."""

    def __init__(
        self,
        book: ContractBook,
        site_left: dict[tuple[str, str], int],
        wide_left: dict[str, int],
        hold_shares: bool = False,
    ) -> None:
        self.book = book
        self.site_left = site_left
        self.wide_left = wide_left
        self.hold_shares = hold_shares  # the priority budget: projects' shares are not in it

    def ensure(self, tenant: str) -> None:
        if tenant in self.wide_left:
            return
        t = self.book.terms(tenant)
        left = _Left(t.guarantee, dict(t.site_guarantees))
        if self.hold_shares:
            left.hold(sum(g for _, g in t.project_shares))
        self.wide_left[tenant] = left.wide
        for site, g in left.sites.items():
            self.site_left[(tenant, site)] = g

    def consume(self, tenant: str, site: str, gpus: int) -> bool:
        self.ensure(tenant)
        key = (tenant, site)
        if self.site_left.get(key, 0) >= gpus:
            self.site_left[key] -= gpus
            return True
        if self.wide_left[tenant] >= gpus:
            self.wide_left[tenant] -= gpus
            return True
        return False


class Quota:
    """One cycle's contract accounting: a copy of the ledger's counts, changed by the cycle.

    GPUs held per tenant are copied at once; the guarantee left and the protected/borrowed
    flags need the ledger's classification, which is brought up to date only when a cycle
    first needs it (`ready()`: a priority job, a reclaim, an advance reservation).
    """

    def __init__(self, ledger: Ledger) -> None:
        self.book = ledger.book
        self.held = dict(ledger.held)
        self._ledger = ledger
        self.site_left: dict[tuple[str, str], int] = {}
        self.wide_left: dict[str, int] = {}
        self._budget = _Budget(self.book, self.site_left, self.wide_left)
        self.prio_site_left: dict[tuple[str, str], int] = {}
        self.prio_wide_left: dict[str, int] = {}
        self._prio = _Budget(self.book, self.prio_site_left, self.prio_wide_left, hold_shares=True)
        self.share_left: dict[tuple[str, str], int] = {}
        self._ready = False
        self._terms = ledger.terms_of
        self._shares = bool(self.book.project_shares)  # some tenant has project shares

    def ready(self) -> None:
        """Classify running work now (flags on allocations, guarantee left), once per cycle."""
        if self._ready:
            return
        self._ready = True
        self._ledger.refresh()
        self.site_left.update(self._ledger.site_left)
        self.wide_left.update(self._ledger.wide_left)
        self.prio_site_left.update(self._ledger.prio_site_left)
        self.prio_wide_left.update(self._ledger.prio_wide_left)
        self.share_left.update(self._ledger.share_left)

    def terms(self, tenant: str) -> TenantTerms:
        return self.native(tenant).terms

    def native(self, tenant: str) -> Terms:
        """`terms`, kept on the ledger (the same contracts) in a compiled class (`Ledger.native`)."""
        got = self._terms.get(tenant)  # the ledger's cache read in place: this is asked per job
        return self._ledger.native(tenant) if got is None else got

    # ---------- pending jobs ----------

    def guarantee_sites(self, job: Job) -> frozenset[str] | None:
        """Sites where `job` would run within its tenant's guarantee (None: anywhere); empty: nowhere."""
        if job.tier is not _PRIORITY:
            return frozenset()
        self.ready()
        if self._in_share(job):
            return None  # a project's share is counted fleet-wide
        self._prio.ensure(job.tenant)
        if self.prio_wide_left[job.tenant] >= job.gpus:
            return None
        t = self.terms(job.tenant)
        return frozenset(s for s, _ in t.site_guarantees if self.prio_site_left[(job.tenant, s)] >= job.gpus)

    def _in_share(self, job: Job) -> bool:
        """`job` fits what its project's share leaves (shares are held back from the tenant's budget)."""
        if self._shares:
            self._ledger_shares(job.tenant)
        return self.share_left.get((job.tenant, job.project), 0) >= job.gpus

    def _ledger_shares(self, tenant: str) -> None:
        """A tenant with shares and no running work has no ledger entry yet: its shares are whole."""
        for project, gpus in self.book.terms(tenant).project_shares:
            self.share_left.setdefault((tenant, project), gpus)

    def prio_room(self, tenant: str) -> int:
        """The most GPUs a priority job of `tenant` could take within its guarantee now (any site)."""
        self.ready()
        self._prio.ensure(tenant)
        sites = [v for (t, _), v in self.prio_site_left.items() if t == tenant]
        return max([self.prio_wide_left[tenant], *sites])

    def guarantee_full(self, job: Job) -> bool:
        """The tenant's own standard work fills the guarantee `job` is within (it may reclaim it)."""
        self.ready()
        self._budget.ensure(job.tenant)
        return self.wide_left[job.tenant] < job.gpus

    def borrow_block(self, job: Job) -> tuple[str, int, int, int | None] | None:
        """Why borrowing rules stop `job` now: (kind, would_borrow, guarantee, cap), or None."""
        t = self.native(job.tenant)
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
        most = self.native(tenant).most_at_once
        return None if most is None else most - self.held.get(tenant, 0)

    def never_fits(self, job: Job) -> tuple[int, int] | None:
        """(ask, most it could ever hold) when contract terms alone rule the job out."""
        most = self.native(job.tenant).most_at_once
        return (job.gpus, most) if most is not None and job.gpus > most else None

    def charge(self, job: Job, site: str, within_guarantee: bool) -> None:
        self.held[job.tenant] = self.held.get(job.tenant, 0) + job.gpus
        if within_guarantee:
            self.ready()
            self._budget.consume(job.tenant, site, job.gpus)
            if job.tier is not _PRIORITY:
                return
            if self._in_share(job):
                self.share_left[(job.tenant, job.project)] -= job.gpus
            else:
                self._prio.consume(job.tenant, site, job.gpus)

    def release(self, a: Alloc) -> None:
        """`a` is being preempted: it no longer counts for its tenant."""
        self.held[a.job.tenant] -= len(a.gpus)
