"""Keyword factories and invariant checks for scheduler tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from brique.domain.contracts import AdvanceReservation, Contract, ContractBook
from brique.domain.fleet import Fleet, HealthState
from brique.domain.fleet_spec import parse_fleet
from brique.domain.jobs import Job, RunningJob, Tier
from brique.domain.policy import ANYWHERE, SchedulingPolicy
from brique.scheduler import ClusterSnapshot, CycleResult, Place, Preempt, Reserve, schedule

NOW = 1_000_000.0
OPERATORS = {"FR": "Ex SAS", "DE": "Ex GmbH", "SE": "Ex AB", "CH": "Ex AG", "US": "Ex Inc"}


def make_site(
    sid: str,
    country: str = "FR",
    racks: int = 2,
    nodes: int = 18,
    gpus: int = 4,
    certs: Sequence[str] = (),
    operator_country: str | None = None,
) -> dict:
    return {
        "id": sid,
        "country": country,
        "operator": {"name": OPERATORS.get(country, "Ex"), "country": operator_country or country},
        "certifications": list(certs),
        "pue": 1.2,
        "grid_gco2e_per_kwh": 50,
        "racks": [{"count": racks, "nodes_per_rack": nodes, "gpus_per_node": gpus, "gpu_model": "GB200",
                   "gpu_power_w": 1200}],
    }  # fmt: skip


def make_fleet(*sites: dict) -> Fleet:
    return parse_fleet({"name": "test", "sites": list(sites) or [make_site("fr-1")]})


def make_job(
    jid: str = "j1", gpus: int = 1, tenant: str = "acme", tier: str | Tier = Tier.STANDARD, **kw
) -> Job:
    kw.setdefault("submitted_at", NOW - 100)
    kw.setdefault("placement", ANYWHERE)
    return Job(id=jid, tenant=tenant, gpus=gpus, tier=Tier(tier), **kw)


def run(job: Job, gpus: Iterable[str], started_at: float = NOW - 1000, **kw) -> RunningJob:
    return RunningJob(job=job, gpus=tuple(gpus), started_at=started_at, **kw)


def rack_gpus(fleet: Fleet, rack_id: str, count: int | None = None) -> list[str]:
    ids = [g.id for r in fleet.racks() if r.id == rack_id for n in r.nodes for g in n.gpus]
    return ids if count is None else ids[:count]


def contracts(*items: Contract) -> SchedulingPolicy:
    return SchedulingPolicy(contracts=ContractBook.of(items))


def cycle(
    fleet: Fleet,
    pending: Sequence[Job],
    running: Sequence[RunningJob] = (),
    policy: SchedulingPolicy | None = None,
    now: float = NOW,
    reservations: Sequence[AdvanceReservation] = (),
    health: dict[str, HealthState] | None = None,
    usage: dict[str, float] | None = None,
) -> CycleResult:
    snap = ClusterSnapshot.of(fleet, running=running, reservations=reservations, health=health, usage=usage)
    return schedule(snap, pending, policy or SchedulingPolicy(), now)


def rack_of(gpu: str) -> str:
    return gpu.rsplit("/", 2)[0]


def node_of(gpu: str) -> str:
    return gpu.rsplit("/", 1)[0]


def site_of(gpu: str) -> str:
    return gpu.split("/", 1)[0]


# ---------- invariants (shared by property tests) ----------


def usable_gpus(fleet: Fleet, health: dict[str, HealthState]) -> set[str]:
    out = set()
    for node in fleet.nodes():
        for g in node.gpus:
            state = health.get(g.id, health.get(node.id, HealthState.UP))
            if state == HealthState.UP and node.state == g.state == HealthState.UP:
                out.add(g.id)
    return out


def check_invariants(
    fleet: Fleet,
    pending: Sequence[Job],
    running: Sequence[RunningJob],
    result: CycleResult,
    policy: SchedulingPolicy,
    health: dict[str, HealthState],
    now: float = NOW,
) -> None:
    jobs = {j.id: j for j in pending}
    decided = [d.job_id for d in result.decisions if not isinstance(d, Preempt)]
    assert sorted(decided) == sorted(jobs), "every pending job gets exactly one decision"
    preempted = {p.job_id for p in result.preempts}
    busy = {g: r.job.id for r in running for g in r.gpus}
    usable = usable_gpus(fleet, health)
    seen: set[str] = set()
    sites = {s.id: s for s in fleet.sites}
    rack_size = {r.id: r.gpu_count for r in fleet.racks()}
    rack_usable = {r.id: sum(1 for n in r.nodes for g in n.gpus if g.id in usable) for r in fleet.racks()}
    for p in result.places:
        job = jobs[p.job_id]
        assert len(p.gpus) == job.gpus, "gang: all GPUs or none"
        assert len(set(p.gpus)) == len(p.gpus)
        assert not (seen & set(p.gpus)), "no GPU allocated twice"
        seen |= set(p.gpus)
        assert set(p.gpus) <= usable, "only healthy, non-draining GPUs"
        for g in p.gpus:
            if g in busy:
                assert busy[g] in p.preempts and busy[g] in preempted, (
                    "busy GPU only after preempting its job"
                )
        assert {site_of(g) for g in p.gpus} == {p.site}, "one site"
        assert job.placement.allows(sites[p.site]), "placement policy respected"
        racks = {rack_of(g) for g in p.gpus}
        limit = max(r.gpu_count for s in fleet.sites if job.placement.allows(s) for r in s.racks)
        if job.gpus <= limit:
            assert len(racks) == 1, "fits a rack -> inside one rack"
        else:
            partial = [r for r in racks if sum(1 for g in p.gpus if rack_of(g) == r) < rack_usable[r]]
            assert len(partial) <= 1, "big job: whole racks plus at most one partial"
            assert len(racks) <= -(-job.gpus // min(rack_size[r] for r in racks)) + 1
    check_protected_not_preempted(running, result, policy)
    check_backfill(running, result, jobs, now)


def protected_ids(running: Sequence[RunningJob], policy: SchedulingPolicy) -> set[str]:
    """Independent re-derivation (fleet-wide contracts only): oldest priority work first, each
    project's up to its guaranteed share, then the rest of the guarantee less the unused shares."""
    out = set()
    by_tenant: dict[str, list[RunningJob]] = {}
    for r in running:
        if r.stopping_at is None and r.job.tier == Tier.PRIORITY:
            by_tenant.setdefault(r.job.tenant, []).append(r)
    for tenant, rs in by_tenant.items():
        terms = policy.contracts.terms(tenant)
        left, shares, rest = terms.guarantee, dict(terms.project_shares), []
        for r in sorted(rs, key=lambda r: (r.started_at, r.job.id)):
            if len(r.gpus) <= min(shares.get(r.job.project, 0), left):
                shares[r.job.project] -= len(r.gpus)
                left -= len(r.gpus)
                out.add(r.job.id)
            else:
                rest.append(r)
        left -= min(left, sum(shares.values()))
        for r in rest:
            if len(r.gpus) <= left:
                left -= len(r.gpus)
                out.add(r.job.id)
    return out


def check_protected_not_preempted(
    running: Sequence[RunningJob], result: CycleResult, policy: SchedulingPolicy
) -> None:
    protected = protected_ids(running, policy)
    for p in result.preempts:
        assert p.job_id not in protected, f"within-guarantee priority job {p.job_id} preempted"


def check_backfill(
    running: Sequence[RunningJob], result: CycleResult, jobs: dict[str, Job], now: float
) -> None:
    users = {g: now + jobs[p.job_id].expected_runtime_s for p in result.places for g in p.gpus}
    running_end = {g: r.expected_end(now) for r in running for g in r.gpus}
    preempted = {p.job_id: p.grace_s for p in result.preempts}
    stop_end = {g: now + preempted[r.job.id] for r in running if r.job.id in preempted for g in r.gpus}
    for res in result.reserves:
        assert isinstance(res, Reserve)
        for g in res.gpus:
            assert users.get(g, now) <= res.start_at, "backfilled job would delay the reserved head"
            end = min(running_end.get(g, now), stop_end.get(g, float("inf")))
            assert end <= res.start_at, "reserved GPU is busy past the reserved start"


def place_of(result: CycleResult, job_id: str) -> Place:
    d = result.for_job(job_id)
    assert isinstance(d, Place), f"{job_id}: expected Place, got {d}"
    return d
