"""Guarantees, preemption order, borrowing caps and fair share."""

from __future__ import annotations

from scheduler_factories import (
    NOW,
    contracts,
    cycle,
    make_fleet,
    make_job,
    make_site,
    place_of,
    rack_gpus,
    run,
)

from brique.domain.contracts import Contract
from brique.domain.jobs import Tier
from brique.scheduler import Place, ReasonCode, Wait

FLEET = make_fleet(make_site("fr-1", racks=1, nodes=4, gpus=4))  # one rack of 16 GPUs
RACK = rack_gpus(FLEET, "fr-1/r001")
POLICY = contracts(Contract("acme", guaranteed_gpus=8), Contract("bravo", guaranteed_gpus=4))


def full_of(*specs: tuple[str, str, int, Tier, float]) -> list:
    """Running jobs filling RACK in order: (id, tenant, gpus, tier, started_at)."""
    out, at = [], 0
    for jid, tenant, n, tier, started in specs:
        out.append(run(make_job(jid, n, tenant, tier), RACK[at : at + n], started_at=started))
        at += n
    return out


def test_within_guarantee_priority_preempts_preemptible_first():
    running = full_of(
        ("pre", "zed", 4, Tier.PREEMPTIBLE, NOW - 10),
        ("bor", "zed", 4, Tier.STANDARD, NOW - 10),  # zed has no guarantee: borrowed
        ("x", "zed", 8, Tier.STANDARD, NOW - 5000),
    )
    res = cycle(FLEET, [make_job("p", 4, "acme", Tier.PRIORITY, preemption_grace_s=0)], running, POLICY)
    p = place_of(res, "p")
    assert p.preempts == ("pre",)
    assert [(x.job_id, x.grace_s, x.reason.code) for x in res.preempts] == [
        ("pre", 30.0, ReasonCode.PREEMPTED_FOR_GUARANTEE)
    ]
    assert res.preempts[0].reason.message == (
        "preempted: frees GPUs for job p of tenant acme, within its guarantee"
    )
    assert set(p.gpus) == set(RACK[0:4])


def test_then_borrowed_work_fewest_gpu_seconds_lost_youngest_first():
    running = full_of(
        ("old", "zed", 4, Tier.STANDARD, NOW - 5000),
        ("young", "zed", 4, Tier.STANDARD, NOW - 10),
        ("mid", "yak", 4, Tier.STANDARD, NOW - 100),
        ("young2", "yak", 4, Tier.STANDARD, NOW - 10),
    )
    res = cycle(FLEET, [make_job("p", 4, "acme", Tier.PRIORITY)], running, POLICY)
    assert place_of(res, "p").preempts in (("young",), ("young2",))
    # tie on GPU-seconds lost -> youngest first -> same start: job id decides
    assert place_of(res, "p").preempts == ("young",)


def test_within_guarantee_priority_work_is_never_preempted():
    running = full_of(
        ("a1", "acme", 8, Tier.PRIORITY, NOW - 10),  # acme's full guarantee
        ("b1", "bravo", 4, Tier.PRIORITY, NOW - 10),  # bravo's full guarantee
        ("b2", "bravo", 4, Tier.PRIORITY, NOW - 5),  # beyond bravo's guarantee: borrowed
    )
    res = cycle(FLEET, [make_job("p", 8, "zed", Tier.PRIORITY)], running, contracts(
        Contract("acme", guaranteed_gpus=8), Contract("bravo", guaranteed_gpus=4), Contract("zed", guaranteed_gpus=8)
    ))  # fmt: skip
    assert not isinstance(res.for_job("p"), Place)
    assert {p.job_id for p in res.preempts} <= {"b2"}
    assert "a1" not in {p.job_id for p in res.preempts} and "b1" not in {p.job_id for p in res.preempts}


def test_own_standard_work_filling_the_guarantee_yields_to_the_tenants_priority_job():
    """acme's 8 guaranteed GPUs are held by its standard work: its priority job is still within."""
    running = full_of(
        ("s_old", "acme", 4, Tier.STANDARD, NOW - 5000),
        ("s_young", "acme", 4, Tier.STANDARD, NOW - 60),
        ("x", "bravo", 4, Tier.STANDARD, NOW - 10),  # in bravo's guarantee: not reclaimable
        ("y", "cora", 4, Tier.STANDARD, NOW - 10),  # in cora's guarantee: not reclaimable
    )
    policy = contracts(*POLICY.contracts.contracts, Contract("cora", guaranteed_gpus=4))
    res = cycle(FLEET, [make_job("p", 4, "acme", Tier.PRIORITY)], running, policy)
    assert place_of(res, "p").preempts == ("s_young",)  # the cheapest of acme's own standard work
    assert res.preempts[0].reason.code == ReasonCode.PREEMPTED_FOR_GUARANTEE
    # beyond what acme's priority work leaves of the guarantee: nothing is preempted
    running[0] = run(make_job("s_old", 4, "acme", Tier.PRIORITY), RACK[0:4], started_at=NOW - 5000)
    res = cycle(FLEET, [make_job("p", 8, "acme", Tier.PRIORITY)], running, policy)
    assert not isinstance(res.for_job("p"), Place)
    assert res.preempts == ()


def test_priority_beyond_guarantee_does_not_preempt_borrowed_work():
    running = full_of(("bor", "zed", 16, Tier.STANDARD, NOW - 10))
    res = cycle(FLEET, [make_job("p", 12, "acme", Tier.PRIORITY)], running, POLICY)  # guarantee is 8
    assert not isinstance(res.for_job("p"), Place)
    assert res.preempts == ()


def test_standard_job_may_preempt_preemptible_tier_only():
    running = full_of(
        ("pre", "zed", 8, Tier.PREEMPTIBLE, NOW - 10), ("std", "zed", 8, Tier.STANDARD, NOW - 10)
    )
    res = cycle(FLEET, [make_job("s", 8, "acme")], running, POLICY)
    assert place_of(res, "s").preempts == ("pre",)
    assert res.preempts[0].reason.code == ReasonCode.PREEMPTED_FOR_JOB
    res = cycle(FLEET, [make_job("s", 12, "acme")], running, POLICY)
    assert not isinstance(res.for_job("s"), Place)
    assert res.preempts == ()


def test_preemptible_jobs_use_idle_capacity_last():
    jobs = [make_job("pre", 8, "zed", Tier.PREEMPTIBLE, submitted_at=0), make_job("std", 12, "acme")]
    res = cycle(FLEET, jobs, policy=POLICY)
    assert isinstance(res.for_job("std"), Place)
    assert not isinstance(res.for_job("pre"), Place)


def test_borrow_cap_makes_job_wait_with_reason():
    pol = contracts(Contract("acme", guaranteed_gpus=4, borrow_cap=2))
    running = [run(make_job("r", 4, "acme"), RACK[:4])]
    res = cycle(FLEET, [make_job("s", 4, "acme")], running, pol)
    w = res.for_job("s")
    assert isinstance(w, Wait) and w.reasons[0].code == ReasonCode.BORROW_CAP
    assert w.reasons[0].message == (
        "waiting: tenant acme would borrow 4 GPUs beyond its guarantee of 4; its borrowing cap is 2"
    )


def test_no_borrowing_makes_job_wait_with_reason():
    pol = contracts(Contract("acme", guaranteed_gpus=8, may_borrow=False))
    running = [run(make_job("r", 6, "acme"), RACK[:6])]
    w = cycle(FLEET, [make_job("s", 4, "acme")], running, pol).for_job("s")
    assert isinstance(w, Wait) and w.reasons[0].code == ReasonCode.NO_BORROWING
    assert w.reasons[0].message == (
        "waiting: tenant acme may not borrow; 4 more GPUs would take it 2 beyond its guarantee of 8"
    )


def test_per_site_guarantee_places_only_in_that_site():
    fleet = make_fleet(
        make_site("fr-1", racks=1, nodes=2, gpus=4), make_site("de-1", "DE", racks=1, nodes=2, gpus=4)
    )
    de = rack_gpus(fleet, "de-1/r001")
    running = [run(make_job("pre", 8, "zed", Tier.PREEMPTIBLE), de)]
    pol = contracts(Contract("acme", guaranteed_gpus=0), Contract("acme", guaranteed_gpus=8, site="de-1"))
    # the guarantee is in de-1: with fr-1 busy too, it preempts there and only there
    busy_fr = [run(make_job("std", 8, "yak"), rack_gpus(fleet, "fr-1/r001"))]
    res = cycle(fleet, [make_job("p", 8, "acme", Tier.PRIORITY)], running + busy_fr, pol)
    p = place_of(res, "p")
    assert p.site == "de-1" and p.preempts == ("pre",)
    # idle capacity elsewhere is used (as borrowing) before preempting anyone
    res = cycle(fleet, [make_job("p", 8, "acme", Tier.PRIORITY)], running, pol)
    assert place_of(res, "p").site == "fr-1" and res.preempts == ()


def test_fair_share_gives_idle_capacity_to_lower_usage_tenant():
    jobs = [make_job(f"a{i}", 4, "acme", submitted_at=i) for i in range(4)]
    jobs += [make_job(f"b{i}", 4, "bravo", submitted_at=10 + i) for i in range(4)]
    res = cycle(FLEET, jobs, policy=POLICY, usage={"acme": 1e9, "bravo": 0.0})
    placed = {p.job_id for p in res.places}
    assert placed == {"b0", "b1", "b2", "b3"}


def test_fair_share_interleaves_by_weight():
    pol = contracts(Contract("acme", weight=3.0), Contract("bravo", weight=1.0))
    jobs = [make_job(f"a{i}", 2, "acme", submitted_at=i) for i in range(8)]
    jobs += [make_job(f"b{i}", 2, "bravo", submitted_at=i) for i in range(8)]
    res = cycle(FLEET, jobs, policy=pol)
    held = {t: sum(len(p.gpus) for p in res.places if p.job_id.startswith(t[0])) for t in ("acme", "bravo")}
    assert held == {"acme": 12, "bravo": 4}
