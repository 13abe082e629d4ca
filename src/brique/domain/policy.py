"""Placement policies (pure predicates over sites) and the scheduling policy knobs.

A `PlacementPolicy` says where a job may run: allowed countries, required site
certifications, allowed sites, "EU only" and "operator headquartered in the EU".
It is evaluated against `domain.fleet.Site` values only (SkyPilot-style predicate),
so the scheduler, the API and the sovereignty checks agree on what it means.
Every policy has a human label, e.g. `'FR only'` or `'FR or DE + secnumcloud'`,
used verbatim in scheduler reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from brique.domain.contracts import ContractBook
from brique.domain.fleet import Site
from brique.domain.geo import is_eu


def _frozen(values: Iterable[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


@dataclass(frozen=True, slots=True)
class PlacementPolicy:
    """Where a job may run. Empty/None fields don't constrain.

    countries: ISO alpha-2 codes the site must be in (None: any).
    certifications: every one must be held by the site.
    sites: site ids allowed (None: any).
    eu_only: the site's country must be an EU member state.
    operator_in_eu: the site's operator must be headquartered in an EU member state.
    name: human label; derived from the fields when empty.
    """

    countries: frozenset[str] | None = None
    certifications: frozenset[str] = frozenset()
    sites: frozenset[str] | None = None
    eu_only: bool = False
    operator_in_eu: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        # Accept any iterable; store frozensets so policies hash (the scheduler caches by policy).
        object.__setattr__(self, "countries", _frozen(self.countries))
        object.__setattr__(self, "certifications", frozenset(self.certifications))
        object.__setattr__(self, "sites", _frozen(self.sites))

    @property
    def label(self) -> str:
        return self.name or self._describe()

    def allows(self, site: Site) -> bool:
        return not self.violations(site)

    def violations(self, site: Site) -> list[str]:
        """Human sentences, one per rule the site breaks (empty: allowed)."""
        out: list[str] = []
        if self.countries is not None and site.country not in self.countries:
            allowed = (
                _join(self.countries, " or ")
                or "no country (the combined policies' countries do not overlap)"
            )
            out.append(f"site {site.id} is in {site.country}, not in {allowed}")
        missing = sorted(self.certifications - site.certifications)
        if missing:
            out.append(f"site {site.id} lacks certification {', '.join(missing)}")
        if self.sites is not None and site.id not in self.sites:
            allowed = _join(self.sites, ", ") or "no site (the combined policies' sites do not overlap)"
            out.append(f"site {site.id} is not one of {allowed}")
        if self.eu_only and not is_eu(site.country):
            out.append(f"site {site.id} is in {site.country}, outside the EU")
        if self.operator_in_eu and not is_eu(site.operator.country):
            out.append(f"site {site.id} is operated by {site.operator.name}, headquartered outside the EU")
        return out

    def _describe(self) -> str:
        parts: list[str] = []
        if self.countries is not None:
            parts.append(f"{_join(self.countries, ' or ')} only")
        if self.sites is not None:
            parts.append(f"sites {_join(self.sites, ', ')}")
        if self.eu_only:
            parts.append("EU only")
        if self.operator_in_eu:
            parts.append("EU-headquartered operator")
        if self.certifications:
            parts.append(_join(self.certifications, " + "))
        return " + ".join(parts) if parts else "anywhere"


def _join(values: Iterable[str], sep: str) -> str:
    return sep.join(sorted(values))


ANYWHERE = PlacementPolicy()


def country_only(*countries: str) -> PlacementPolicy:
    """`country_only("FR")` -> policy labelled 'FR only'."""
    return PlacementPolicy(countries=frozenset(countries))


VICTIM_LOSS_MODELS = ("since_start", "grace", "periodic")


@dataclass(frozen=True, slots=True)
class VictimLoss:
    """What stopping running work costs, per GPU, as cost-aware preemption counts it.

    model: `since_start` (the default: everything since the victim's last (re)start is lost),
    `grace` (a victim given a grace period of at least `write_s` checkpoints during it and loses
    that grace plus `restart_s`; one given less loses everything since its last periodic checkpoint
    or start) or `periodic` (checkpoints every `every_s` seconds of a run: it loses its time run
    modulo `every_s`, plus `restart_s` when it had a checkpoint). The same rules as the simulator's
    checkpoint models (`simulator/checkpoint.py`), so the policy minimises the loss it is measured on.
    """

    model: str = "since_start"
    write_s: float = 30.0
    restart_s: float = 0.0
    every_s: float = 0.0

    def __post_init__(self) -> None:
        if self.model not in VICTIM_LOSS_MODELS:
            raise ValueError(f"victim loss model {self.model!r}: must be one of {', '.join(VICTIM_LOSS_MODELS)}")
        if not (self.write_s > 0 and self.restart_s >= 0 and self.every_s >= 0):
            raise ValueError("victim loss: write_s must be > 0 s, restart_s and every_s >= 0 s")
        if self.model == "periodic" and not self.every_s > 0:
            raise ValueError("victim loss model 'periodic' needs every_s > 0 s")

    def per_gpu(self, ran_s: float, grace_s: float) -> float:
        """Seconds each GPU of a victim loses if stopped now, `ran_s` after its last (re)start."""
        ran = max(0.0, ran_s)
        if self.model == "since_start":
            return ran
        if self.model == "grace" and grace_s >= self.write_s:
            return grace_s + self.restart_s
        if self.every_s and ran >= self.every_s:  # back to its last periodic checkpoint
            return ran % self.every_s + self.restart_s
        return ran


SINCE_START = VictimLoss()


@dataclass(frozen=True, slots=True)
class SchedulingPolicy:
    """Everything `schedule()` needs besides the snapshot, the queue and the time.

    contracts: per-tenant guarantees, fair-share weights and borrowing terms.
    fair_share_half_life_s: half-life of the decayed usage the caller keeps per tenant.
    history_weight: how much decayed usage counts against current allocation in fair share.
    backfill: whether EASY backfill runs (off: strict order after the first blocked job).
    preempt_for_standard: non-guarantee jobs may preempt preemptible-tier work.
    preemption_heads: at most this many non-guarantee jobs per cycle may preempt.
    preempt_protect_s: running work (re)started less than this long ago is never preempted by a
        job outside its guarantee, and a restarted job (`RunningJob.restarts`) not even for a
        guarantee, so it makes progress before it can be chosen again (0: off).
    restart_protect_s: the window of a restarted job for a guarantee's reclaim (None: `preempt_protect_s`);
        preemption by a job outside its guarantee still waits out `preempt_protect_s` (the longer one).
    preempt_wait_ratio: a job that is not within its guarantee preempts only if the GPU-seconds
        its victims would lose are at most this times its GPUs x its expected wait (0: always).
    preempt_by_cost: victims are the running work that loses the fewest GPU-seconds, whatever
        its tier (off: the preemptible tier first, then the fewest GPU-seconds).
    reclaim_standard: a priority job within its guarantee may also stop other tenants' standard
        work inside their guarantees (a guarantee covers priority work only), cheapest first
        (off: only preemptible, borrowed and its own tenant's standard work).
    reclaim_fresh_only: with `reclaim_standard`, standard work inside a guarantee is reclaimed only if it was
        never preempted before (restarted, it is young again and would be the cheapest victim of every next
        reclaim: a ping-pong); preemptible and borrowed work, and the claimant's own standard work once it
        fills the claimant's guarantee, as before.
    reclaim_standard_over_s: with `reclaim_standard`, a guarantee first plans as if it were off (preemptible and
        borrowed work, and the claimant's own standard work once it fills its guarantee) and keeps that plan
        unless it loses more than this many seconds per GPU asked; only then (or when it finds none) are
        other tenants' standard jobs inside their guarantees candidates too (None: always; issue 18, seed 1).
    guarantee_start_s: the start promise of a priority job within its guarantee, seconds after its
        submission. When only preempting makes room, the job waits for GPUs to free up by themselves
        until its victims' grace periods would break the promise (1 s of margin), then preempts;
        `CycleResult.wake_at` says when the deferred decision falls due (0: preempt at once).
    entitlement_cap_s: while some tenant holds fewer GPUs than its entitlement (weighted max-min share
        of the fleet, capped by its demand: GPUs held + asked by its pending jobs), a tenant at or
        above its own entitlement starts no new non-priority work expected to run longer than this
        (seconds; 0: any work; None: off, fair share only orders).
    entitled_preemptible: with `entitlement_cap_s`, preemptible jobs of a tenant holding less than its
        entitlement take their tenant's fair-share turn with its other work (they may hold the EASY
        reservation; they still never preempt) instead of only scavenging idle GPUs.
    firm_under_entitled: with `entitlement_cap_s`, the EASY head of a tenant holding less than its
        entitlement, asking at most half a rack, gets a firm reservation: its GPUs drain (nothing is
        backfilled onto them, as if every job ran to its time limit), so runtimes predicted too short
        cannot push its start back cycle after cycle (larger gangs would idle too much while draining).
    cap_priority: the entitlement cap holds back priority jobs too, unless they are within their
        tenant's guarantee (priority beyond the guarantee is fair-share work like any other).
    entitlement_far_over, entitlement_far_cap_s: a tenant holding at least `entitlement_far_over` times
        its entitlement gets the shorter cap `entitlement_far_cap_s` instead of `entitlement_cap_s`.
    under_entitled_first: with `entitlement_cap_s`, the tenants holding less than their entitlement take
        their fair-share turns before every other tenant (in fair-share order among themselves), so the
        EASY head is one of theirs whenever one of their jobs cannot start.
    max_job_test: per cycle and phase (share, scavenge), at most this many jobs that cannot
        start are examined; the rest wait unexamined until the next cycle (Slurm's
        `bf_max_job_test`/`default_queue_depth`), so a cycle's cost does not grow with the queue.
    project_quotas: (project id, most GPUs its jobs may hold at once); a job that would exceed
        its project's quota waits with reason `project_quota`.
    project_weights: (project id, fair-share weight inside its tenant; default 1): a tenant's
        turn goes to its project with the fewest held GPUs per unit of weight.
    victim_loss: what a victim loses if stopped (`VictimLoss`), the cost that cost-aware preemption
        (`preempt_by_cost`, `preempt_wait_ratio`) minimises; default: everything since its start.
    spare_restarted: a job that was preempted before (`RunningJob.restarts`) is never preempted again by a
        job outside its guarantee, whatever its age (a guarantee's reclaim still may, after `restart_protect_s`).
    preempt_gpu_ratio: a job outside its guarantee preempts only if its victims hold at most this many
        GPUs per GPU it asks (None: no limit): stopping a 160-GPU gang to start 80 GPUs kills more than it gains.
    guarantee_reserve: after the guarantee phase, up to this many free GPUs (no more than the guarantees'
        room left for priority work; never in a wholly free rack, never a head's pinned GPUs) stay idle for
        the rest of the cycle, so that a priority job arriving within its guarantee finds a GPU instead of
        reclaiming one (0: off; `scheduler/reserve.py`).
    """

    contracts: ContractBook = field(default_factory=ContractBook)
    fair_share_half_life_s: float = 7 * 86_400.0
    history_weight: float = 1.0
    backfill: bool = True
    preempt_for_standard: bool = True
    preemption_heads: int = 4
    max_job_test: int = 100
    preempt_protect_s: float = 0.0
    restart_protect_s: float | None = None
    preempt_wait_ratio: float = 0.0
    preempt_by_cost: bool = False
    reclaim_standard: bool = False
    reclaim_fresh_only: bool = False
    reclaim_standard_over_s: float | None = None
    guarantee_start_s: float = 0.0
    entitlement_cap_s: float | None = None
    entitled_preemptible: bool = False
    firm_under_entitled: bool = False
    cap_priority: bool = False
    entitlement_far_over: float | None = None
    entitlement_far_cap_s: float = 0.0
    under_entitled_first: bool = False
    project_quotas: tuple[tuple[str, int], ...] = ()
    project_weights: tuple[tuple[str, float], ...] = ()
    victim_loss: VictimLoss = SINCE_START
    spare_restarted: bool = False
    preempt_gpu_ratio: float | None = None
    guarantee_reserve: int = 0
