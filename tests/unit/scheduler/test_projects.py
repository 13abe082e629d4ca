"""Projects inside a tenant: GPU quotas (a job waits with its reason) and fair-share weights."""

from __future__ import annotations

from tests.unit.scheduler.scheduler_factories import NOW, make_fleet, make_job, rack_gpus, run

from brique.domain.policy import SchedulingPolicy
from brique.scheduler import ClusterSnapshot, Place, Wait, schedule
from brique.scheduler.decisions import ReasonCode


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
