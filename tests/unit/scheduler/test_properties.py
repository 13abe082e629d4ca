"""Property tests: scheduler invariants over random fleets, contracts, running work and queues."""

from __future__ import annotations

import dataclasses
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scheduler_factories import NOW, check_invariants, cycle, make_fleet, make_job, make_site, run

from brique.domain.contracts import Contract, ContractBook
from brique.domain.fleet import HealthState
from brique.domain.jobs import RunningJob, Tier
from brique.domain.policy import ANYWHERE, PlacementPolicy, SchedulingPolicy, VictimLoss, country_only
from brique.scheduler import ClusterSnapshot, Place, ReasonCode, schedule

EXAMPLES = int(os.environ.get("BRIQUE_HYPOTHESIS_EXAMPLES", "60"))  # raise it for a deeper local run
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TENANTS = ["t0", "t1", "t2"]
POLICIES = [
    ANYWHERE,
    country_only("FR"),
    PlacementPolicy(certifications={"c5"}),
    PlacementPolicy(eu_only=True),
]
TIERS = list(Tier)


@st.composite
def fleets(draw):
    sites = []
    for i in range(draw(st.integers(1, 3))):
        sites.append(
            make_site(
                f"s{i}",
                draw(st.sampled_from(["FR", "DE", "SE"])),
                racks=draw(st.integers(1, 4)),
                nodes=draw(st.integers(1, 4)),
                gpus=draw(st.sampled_from([2, 4])),
                certs=draw(st.lists(st.sampled_from(["c5", "hds"]), unique=True)),
            )
        )
    return make_fleet(*sites)


@st.composite
def scenarios(draw, running_tiers=TIERS, with_health=True):
    fleet = draw(fleets())
    nodes = [n.id for n in fleet.nodes()]
    health = {}
    if with_health:
        for nid in draw(st.lists(st.sampled_from(nodes), max_size=3, unique=True)):
            health[nid] = draw(st.sampled_from([HealthState.DRAINING, HealthState.DOWN]))
    gpus = draw(st.permutations([g.id for g in fleet.gpus()]))
    running, at = [], 0
    fill = draw(st.floats(0, 1)) * len(gpus)
    while at < fill:
        n = min(draw(st.integers(1, 8)), len(gpus) - at)
        job = make_job(
            f"r{at}",
            n,
            draw(st.sampled_from(TENANTS)),
            draw(st.sampled_from(running_tiers)),
            max_runtime_s=draw(st.sampled_from([600.0, 3600.0, 7200.0])),
            estimated_runtime_s=draw(st.sampled_from([None, 300.0, 1800.0])),
        )
        started = NOW - draw(st.sampled_from([10.0, 100.0, 1000.0, 5000.0]))
        running.append(run(job, gpus[at : at + n], started_at=started))
        at += n
    book = ContractBook.of(
        Contract(
            t,
            guaranteed_gpus=draw(st.integers(0, 12)),
            weight=draw(st.sampled_from([1.0, 2.0, 3.0])),
            may_borrow=draw(st.booleans()),
            borrow_cap=draw(st.sampled_from([None, 0, 8, 32])),
        )
        for t in TENANTS
    )
    pending = [
        make_job(
            f"p{i}",
            draw(st.sampled_from([1, 2, 3, 4, 5, 8, 12, 16, 24, 40])),
            draw(st.sampled_from(TENANTS)),
            draw(st.sampled_from(TIERS)),
            placement=draw(st.sampled_from(POLICIES)),
            submitted_at=NOW - draw(st.integers(0, 1000)),
            max_runtime_s=draw(st.sampled_from([600.0, 3600.0])),
            estimated_runtime_s=draw(st.sampled_from([None, 60.0, 1200.0])),
        )
        for i in range(draw(st.integers(0, 25)))
    ]
    policy = SchedulingPolicy(contracts=book, backfill=draw(st.booleans()))
    return fleet, health, running, pending, policy


@SETTINGS
@given(scenarios())
def test_invariants_hold(sc):
    """No GPU twice; gangs whole; topology rule; policies respected; protected work kept; backfill safe."""
    fleet, health, running, pending, policy = sc
    result = cycle(fleet, pending, running, policy, health=health)
    check_invariants(fleet, pending, running, result, policy, health)


@settings(max_examples=max(1, EXAMPLES // 2), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_deterministic_and_order_free(sc):
    fleet, health, running, pending, policy = sc
    a = cycle(fleet, pending, running, policy, health=health)
    b = cycle(fleet, pending, running, policy, health=health)
    c = cycle(fleet, list(reversed(pending)), list(reversed(running)), policy, health=health)
    assert a == b
    assert a.decisions == c.decisions


def reclaimable_vip(sc, data):
    """(fleet, running work without tenant g's, a priority job "vip" of g for one site): its size fits
    a rack or the whole site, so a guarantee of that size can always be honoured there."""
    fleet, _, running, _, _ = sc
    running = [r for r in running if r.job.tenant != "g"]  # tenant g holds nothing yet
    site = data.draw(st.sampled_from(fleet.sites))
    rack = max(r.gpu_count for r in site.racks)
    size = data.draw(st.integers(1, max(rack, site.gpu_count)))
    if size > rack:
        size = site.gpu_count if size > site.gpu_count else size
    return fleet, running, make_job("vip", size, "g", Tier.PRIORITY, placement=PlacementPolicy(sites={site.id}))


@SETTINGS
@given(scenarios(running_tiers=[Tier.PREEMPTIBLE, Tier.STANDARD], with_health=False), st.data())
def test_within_guarantee_priority_starts_when_reclaimable(sc, data):
    """Fleet holding only preemptible/borrowed work: a within-guarantee priority job always starts now."""
    fleet, running, job = reclaimable_vip(sc, data)
    policy = SchedulingPolicy(contracts=ContractBook.of([Contract("g", guaranteed_gpus=job.gpus)]))
    result = cycle(fleet, [job], running, policy)
    assert isinstance(result.for_job("vip"), Place), result.for_job("vip")
    check_invariants(fleet, [job], running, result, policy, {})


@SETTINGS
@given(scenarios(), st.sampled_from([100.0, 500.0, 2000.0]))
def test_protection_window_spares_recent_work_from_non_guarantee_preemption(sc, protect):
    """Work (re)started less than `preempt_protect_s` ago is preempted only to honour a guarantee."""
    fleet, health, running, pending, policy = sc
    policy = SchedulingPolicy(contracts=policy.contracts, backfill=policy.backfill, preempt_protect_s=protect)
    result = cycle(fleet, pending, running, policy, health=health)
    started = {r.job.id: r.started_at for r in running}
    for p in result.preempts:
        if p.reason.code == ReasonCode.PREEMPTED_FOR_JOB:
            assert NOW - started[p.job_id] >= protect, p
    check_invariants(fleet, pending, running, result, policy, health)


@SETTINGS
@given(scenarios(running_tiers=[Tier.PREEMPTIBLE, Tier.STANDARD], with_health=False), st.data())
def test_reclaim_standard_starts_a_guaranteed_job_over_any_standard_work(sc, data):
    """With `reclaim_standard`, a within-guarantee priority job starts now over any non-priority work,
    even other tenants' standard work inside their own guarantees; protected work stays untouched."""
    fleet, _, running, _, _ = sc
    running = [r for r in running if r.job.tenant != "g"]
    site = data.draw(st.sampled_from(fleet.sites))
    rack = max(r.gpu_count for r in site.racks)
    size = data.draw(st.integers(1, max(rack, site.gpu_count)))
    if size > rack:
        size = site.gpu_count if size > site.gpu_count else size
    book = ContractBook.of([Contract("g", guaranteed_gpus=size)]
                           + [Contract(t, guaranteed_gpus=data.draw(st.integers(0, 64))) for t in TENANTS])  # fmt: skip
    policy = SchedulingPolicy(contracts=book, reclaim_standard=True, preempt_by_cost=data.draw(st.booleans()))
    job = make_job("vip", size, "g", Tier.PRIORITY, placement=PlacementPolicy(sites={site.id}))
    result = cycle(fleet, [job], running, policy)
    assert isinstance(result.for_job("vip"), Place), result.for_job("vip")
    check_invariants(fleet, [job], running, result, policy, {})


@SETTINGS
@given(scenarios(), st.sampled_from([100.0, 500.0, 2000.0]), st.data())
def test_restarted_work_inside_its_window_is_never_preempted(sc, protect, data):
    """A job preempted before and restarted less than `preempt_protect_s` ago is never stopped, even for a guarantee."""
    fleet, health, running, pending, policy = sc
    running = [RunningJob(r.job, r.gpus, r.started_at, restarts=data.draw(st.integers(0, 2))) for r in running]
    policy = SchedulingPolicy(contracts=policy.contracts, backfill=policy.backfill, preempt_protect_s=protect,
                              preempt_by_cost=data.draw(st.booleans()),
                              reclaim_standard=data.draw(st.booleans()))  # fmt: skip
    result = cycle(fleet, pending, running, policy, health=health)
    by_id = {r.job.id: r for r in running}
    for p in result.preempts:
        r = by_id[p.job_id]
        assert r.restarts == 0 or NOW - r.started_at >= protect, p
    check_invariants(fleet, pending, running, result, policy, health)


@SETTINGS
@given(scenarios(running_tiers=[Tier.PREEMPTIBLE, Tier.STANDARD], with_health=False), st.data())
def test_within_guarantee_priority_reclaims_its_own_tenants_standard_work(sc, data):
    """The tenant's own standard work filling its guarantee never keeps its priority job waiting."""
    fleet, _, running, _, _ = sc
    running = [  # t0's running work becomes tenant g's: standard work inside g's guarantee
        run(make_job(r.job.id, r.job.gpus, "g", r.job.tier, max_runtime_s=r.job.max_runtime_s), r.gpus,
            started_at=r.started_at) if r.job.tenant == "t0" else r
        for r in running
    ]  # fmt: skip
    site = data.draw(st.sampled_from(fleet.sites))
    rack = max(r.gpu_count for r in site.racks)
    size = data.draw(st.integers(1, max(rack, site.gpu_count)))
    if size > rack:
        size = site.gpu_count if size > site.gpu_count else size
    policy = SchedulingPolicy(contracts=ContractBook.of([Contract("g", guaranteed_gpus=size)]))
    job = make_job("vip", size, "g", Tier.PRIORITY, placement=PlacementPolicy(sites={site.id}))
    result = cycle(fleet, [job], running, policy)
    assert isinstance(result.for_job("vip"), Place), result.for_job("vip")
    check_invariants(fleet, [job], running, result, policy, {})


@SETTINGS
@given(scenarios(), st.data())
def test_pinned_firm_heads_keep_every_invariant(sc, data):
    """Heads kept on the racks of a past reservation (`pins`, any GPUs, stale or foreign ones included):
    guarantees kept, gangs whole, nothing backfilled onto held GPUs past their start; and with no pin
    that applies, the decisions are the same as without pins."""
    fleet, health, running, pending, policy = sc
    policy = SchedulingPolicy(contracts=policy.contracts, backfill=True, entitlement_cap_s=0.0, firm_under_entitled=True,
                              preempt_protect_s=300.0, preempt_by_cost=True, reclaim_standard=True)  # fmt: skip
    gpus = [g.id for g in fleet.gpus()] + ["gone/r9/n9/g9"]
    pins = {
        j.id: tuple(data.draw(st.lists(st.sampled_from(gpus), min_size=1, max_size=8)))
        for j in pending
        if data.draw(st.booleans())
    }
    snap = ClusterSnapshot.of(fleet, running=running, health=health)
    result = schedule(dataclasses.replace(snap, pins=pins), pending, policy, NOW)
    check_invariants(fleet, pending, running, result, policy, health)
    off = dataclasses.replace(policy, firm_under_entitled=False)
    assert schedule(dataclasses.replace(snap, pins=pins), pending, off, NOW) == schedule(snap, pending, off, NOW)


@SETTINGS
@given(scenarios(), st.data())
def test_grace_knobs_keep_every_invariant(sc, data):
    """Brique told the `grace` checkpoint model (idle reserve for guarantees, no stop of more GPUs than a
    non-guarantee job asks, restarted work spared by it): guarantees kept, gangs whole, topology, protected
    work; a job outside its guarantee never stops a restarted job, nor more GPUs than it asks."""
    fleet, health, running, pending, policy = sc
    running = [
        RunningJob(r.job, r.gpus, r.started_at, restarts=data.draw(st.integers(0, 1))) for r in running
    ]
    policy = SchedulingPolicy(contracts=policy.contracts, backfill=policy.backfill, preempt_protect_s=300.0,
                              restart_protect_s=60.0, preempt_by_cost=True, reclaim_standard=True,
                              victim_loss=VictimLoss("grace"), guarantee_reserve=data.draw(st.integers(0, 8)),
                              preempt_gpu_ratio=1.0, spare_restarted=True)  # fmt: skip
    result = cycle(fleet, pending, running, policy, health=health)
    check_invariants(fleet, pending, running, result, policy, health)
    by_id = {r.job.id: r for r in running}
    asks = {j.id: j.gpus for j in pending}
    for d in result.decisions:
        if isinstance(d, Place) and d.preempts and d.reasons[0].code != ReasonCode.WITHIN_GUARANTEE:
            assert all(by_id[v].restarts == 0 for v in d.preempts), d
            assert sum(len(by_id[v].gpus) for v in d.preempts) <= asks[d.job_id], d


@SETTINGS
@given(scenarios(), st.integers(1, 8))
def test_the_guarantee_reserve_never_delays_a_guarantee(sc, n):
    """The reserve is kept after the guarantee phase: every priority job started (or reclaimed for) within its
    guarantee without it starts the same way, on the same GPUs, with it; and every invariant holds."""
    fleet, health, running, pending, policy = sc
    base = SchedulingPolicy(contracts=policy.contracts, backfill=policy.backfill, preempt_by_cost=True,
                            reclaim_standard=True)  # fmt: skip
    off = cycle(fleet, pending, running, base, health=health)
    on = cycle(fleet, pending, running, dataclasses.replace(base, guarantee_reserve=n), health=health)
    check_invariants(fleet, pending, running, on, base, health)

    def within(result):
        ok = ReasonCode.WITHIN_GUARANTEE
        return {d for d in result.decisions if isinstance(d, Place) and d.reasons[0].code == ok}

    assert within(on) == within(off)
