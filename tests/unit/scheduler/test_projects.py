"""Projects inside a tenant: GPU quotas (a job waits with its reason) and fair-share weights."""

from __future__ import annotations

from tests.unit.scheduler.scheduler_factories import NOW, make_fleet, make_job, rack_gpus, run

from brique.domain.policy import SchedulingPolicy
from brique.scheduler import ClusterSnapshot, Place, Wait, schedule
from brique.scheduler.decisions import Preempt, ReasonCode


def decisions(result, kind):  # type: ignore[no-untyped-def]
    return {d.job_id: d for d in result.decisions if isinstance(d, kind)}


def test_a_project_at_its_quota_waits_with_its_reason_while_others_of_the_org_start() -> None:
    fleet = make_fleet()  # 2 racks x 72 GPUs
    held = run(make_job("r1", 8, project="prj_llm"), rack_gpus(fleet, "fr-1/r001", 8))
    snap = ClusterSnapshot.of(fleet, running=[held])
    policy = SchedulingPolicy(project_quotas=(("prj_llm", 16),))
    pending = [make_job("a", 8, project="prj_llm"), make_job("b", 8, project="prj_llm", submitted_at=NOW - 50),
               make_job("c", 8, project="prj_ocr")]  # fmt: skip
    result = schedule(snap, pending, policy, NOW)
    placed, waits = decisions(result, Place), decisions(result, Wait)
    assert set(placed) == {"a", "c"}  # llm: 8 held + 8 = its 16-GPU quota; ocr has no quota
    [why] = waits["b"].reasons
    assert why.code is ReasonCode.PROJECT_QUOTA and "holds 16 GPUs of its quota of 16" in why.message
    free = schedule(snap, pending, SchedulingPolicy(), NOW)
    assert set(decisions(free, Place)) == {"a", "b", "c"}  # without the quota all three fit


def test_project_weights_share_the_tenants_turns() -> None:
    fleet = make_fleet()
    busy = run(make_job("r1", 64, project="prj_big"), rack_gpus(fleet, "fr-1/r001", 64))
    snap = ClusterSnapshot.of(fleet, running=[busy])
    # one free rack (72 GPUs) and three 36-GPU jobs of one tenant: only two start
    pending = [make_job("big1", 36, project="prj_big", submitted_at=NOW - 90),
               make_job("big2", 36, project="prj_big", submitted_at=NOW - 80),
               make_job("small1", 36, project="prj_small", submitted_at=NOW - 70)]  # fmt: skip
    plain = decisions(schedule(snap, pending, SchedulingPolicy(), NOW), Place)
    assert set(plain) == {"big1", "big2"}  # without weights: submit order inside the tenant
    weighted = SchedulingPolicy(project_weights=(("prj_big", 1.0), ("prj_small", 1.0)))
    placed = [d.job_id for d in schedule(snap, pending, weighted, NOW).decisions if isinstance(d, Place)]
    assert placed == ["small1", "big1"]  # the project holding nothing gets the tenant's turn first


def _full_fleet_with_shares(shares: tuple[tuple[str, str, int], ...]):  # type: ignore[no-untyped-def]
    """144 GPUs, all held by priority work: tenant `min` (guarantee 16) runs two 8-GPU jobs of
    project `prj_b`; tenant `other` (guarantee 128) holds the rest in guarantee."""
    from brique.domain.contracts import Contract, ContractBook

    fleet = make_fleet()
    r1, r2 = rack_gpus(fleet, "fr-1/r001"), rack_gpus(fleet, "fr-1/r002")
    running = [
        run(make_job("b1", 8, tenant="min", tier="priority", project="prj_b"), r1[:8], started_at=NOW - 900),
        run(make_job("b2", 8, tenant="min", tier="priority", project="prj_b"), r1[8:16], started_at=NOW - 800),
        run(make_job("o1", 56, tenant="other", tier="priority"), r1[16:], started_at=NOW - 700),
        run(make_job("o2", 72, tenant="other", tier="priority"), r2, started_at=NOW - 700),
    ]
    book = ContractBook.of([Contract(tenant="min", guaranteed_gpus=16), Contract(tenant="other", guaranteed_gpus=128)],
                           project_shares=shares)  # fmt: skip
    return ClusterSnapshot.of(fleet, running=running), SchedulingPolicy(contracts=book)


def test_a_projects_guaranteed_share_reclaims_what_a_sibling_project_holds_beyond_its_own() -> None:
    pending = [make_job("a1", 8, tenant="min", tier="priority", project="prj_a")]
    snap, policy = _full_fleet_with_shares((("min", "prj_a", 8),))
    result = schedule(snap, pending, policy, NOW)
    [place] = decisions(result, Place).values()
    assert place.job_id == "a1" and place.preempts == ("b2",)  # prj_b's newer job is beyond the unshared 8
    assert [p.job_id for p in result.decisions if isinstance(p, Preempt)] == ["b2"]
    # Without the share, prj_b's two jobs fill the org's guarantee and are protected: prj_a waits.
    snap, policy = _full_fleet_with_shares(())
    assert not decisions(schedule(snap, pending, policy, NOW), Place)


def test_a_project_within_its_share_is_never_reclaimed_by_its_sibling() -> None:
    # prj_b holds its whole 16-GPU share: a sibling's priority job is beyond the guarantee and waits.
    pending = [make_job("a1", 8, tenant="min", tier="priority", project="prj_a")]
    snap, policy = _full_fleet_with_shares((("min", "prj_b", 16),))
    result = schedule(snap, pending, policy, NOW)
    assert not decisions(result, Place) and not decisions(result, Preempt)  # it waits (holding the head)


def test_shares_beyond_a_cut_contract_are_cut() -> None:
    from brique.domain.contracts import Contract, ContractBook

    book = ContractBook.of([Contract(tenant="min", guaranteed_gpus=10)],
                           project_shares=[("min", "prj_a", 8), ("min", "prj_b", 8), ("min", "prj_c", 0)])  # fmt: skip
    assert book.terms("min").project_shares == (("prj_a", 8), ("prj_b", 2))
    assert book.terms("nobody").project_shares == ()
