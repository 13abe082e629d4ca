"""Pins the shortcuts that keep a cycle's cost off the queue's length: same decisions, fewer looked at."""

from __future__ import annotations

from scheduler_factories import NOW, make_fleet, make_job, make_site, rack_gpus, run

from brique.domain.contracts import Contract, ContractBook
from brique.domain.jobs import Tier
from brique.domain.policy import SchedulingPolicy
from brique.scheduler import ReasonCode, Reject, SchedulerState, Wait, schedule_state

FLEET = make_fleet(make_site("fr-1", racks=2, nodes=4, gpus=4))  # two racks of 16
R1 = rack_gpus(FLEET, "fr-1/r001")
HOUR = 3600.0


def state(policy: SchedulingPolicy) -> SchedulerState:
    from brique.scheduler import Topology

    s = SchedulerState(Topology.from_fleet(FLEET), contracts=policy.contracts)
    s.apply_started(run(make_job("busy", 12, max_runtime_s=HOUR), R1[:12], started_at=NOW - 60))
    return s


def queue(n: int) -> list:
    jobs = [make_job("head", 32, tenant="0", submitted_at=NOW - 1000)]  # tenant "0" is first in fair share
    jobs += [make_job(f"j{i:03d}", 1 + i % 6, tenant="ab"[i % 2], tier=Tier.STANDARD if i % 3 else Tier.PRIORITY,
                      submitted_at=NOW - 900 + i, max_runtime_s=HOUR / 4) for i in range(n)]  # fmt: skip
    return jobs


def test_without_waits_every_other_decision_is_the_same():
    policy = SchedulingPolicy(max_job_test=5)
    st = state(policy)
    full = schedule_state(st, queue(40), policy, NOW)
    lean = schedule_state(st, queue(40), policy, NOW, waits=False)
    assert [d for d in full.decisions if not isinstance(d, Wait)] == list(lean.decisions)
    assert full.examined == lean.examined
    assert any(isinstance(d, Wait) for d in full.decisions)


def test_backfill_off_jobs_behind_the_head_wait_unexamined_whatever_the_depth():
    policy = SchedulingPolicy(backfill=False, max_job_test=3)
    res = schedule_state(state(policy), queue(20), policy, NOW)
    waits = [d for d in res.decisions if isinstance(d, Wait)]
    assert len(waits) == 20 and {w.reasons[0].code for w in waits} == {ReasonCode.HEAD_BLOCKED}
    assert res.examined == {"head"}  # the head was tried; nothing behind it could start


def test_priority_jobs_without_any_guarantee_are_not_examined_by_the_guarantee_walk():
    policy = SchedulingPolicy(max_job_test=2, backfill=False)
    res = schedule_state(state(policy), queue(30), policy, NOW)
    assert res.examined == {"head"}  # without the shortcut every priority job would count as examined


def test_admission_answers_follow_the_contracts():
    capped = SchedulingPolicy(contracts=ContractBook.of([Contract("a", guaranteed_gpus=2, may_borrow=False)]))
    st = state(capped)
    big = make_job("big", 4, tenant="a")
    assert isinstance(schedule_state(st, [big], capped, NOW).for_job("big"), Reject)
    assert isinstance(schedule_state(st, [big], capped, NOW).for_job("big"), Reject)  # kept answer
    free = SchedulingPolicy()
    assert not isinstance(schedule_state(st, [big], free, NOW).for_job("big"), Reject)  # new contracts: asked again
