"""Pins that `schedule_groups` (pending jobs kept per (tenant, tier), read in place only as far as the
cycle examines them) decides exactly what `schedule_state` decides over the same jobs in one list,
with queues deeper than the depth a cycle examines, and leaves the caller's groups as they were."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scheduler_factories import NOW, make_fleet, make_job, make_site, run

from brique.domain.contracts import Contract, ContractBook
from brique.domain.jobs import Tier
from brique.domain.policy import ANYWHERE, SchedulingPolicy, country_only
from brique.scheduler import SchedulerState, Topology, admission, schedule_groups, schedule_state

EXAMPLES = int(os.environ.get("BRIQUE_HYPOTHESIS_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TENANTS = ["t0", "t1", "t2"]
SIZES = [1, 2, 3, 4, 5, 8, 12, 16]


@st.composite
def cases(draw):
    sites = [
        make_site(f"s{i}", ["FR", "DE"][i % 2], racks=draw(st.integers(1, 2)), nodes=draw(st.integers(1, 3)),
                  gpus=4)
        for i in range(draw(st.integers(1, 2)))
    ]  # fmt: skip
    fleet = make_fleet(*sites)
    contracts = [
        Contract(t, guaranteed_gpus=draw(st.integers(0, 10)), weight=draw(st.sampled_from([1.0, 2.0])),
                 may_borrow=draw(st.booleans()), borrow_cap=draw(st.sampled_from([None, 0, 8])))
        for t in TENANTS
    ]  # fmt: skip
    cap = draw(st.sampled_from([None, 0.0, 500.0]))
    policy = SchedulingPolicy(
        contracts=ContractBook.of(contracts), backfill=draw(st.booleans()),
        preempt_for_standard=draw(st.booleans()), preemption_heads=draw(st.integers(0, 2)),
        max_job_test=draw(st.integers(1, 4)), preempt_protect_s=draw(st.sampled_from([0.0, 300.0])),
        preempt_wait_ratio=draw(st.sampled_from([0.0, 0.01])), preempt_by_cost=draw(st.booleans()),
        reclaim_standard=draw(st.booleans()), guarantee_start_s=draw(st.sampled_from([0.0, 60.0])),
        entitlement_cap_s=cap, entitled_preemptible=cap is not None and draw(st.booleans()),
        firm_under_entitled=cap is not None and draw(st.booleans()), cap_priority=draw(st.booleans()),
    )  # fmt: skip
    gpus = [g.id for g in fleet.gpus()]
    order = draw(st.permutations(gpus))
    running, at = [], 0
    for i in range(draw(st.integers(0, 6))):
        n = draw(st.sampled_from([1, 2, 4, 8]))
        if at + n > len(order):
            break
        job = make_job(f"r{i}", n, draw(st.sampled_from(TENANTS)), draw(st.sampled_from(list(Tier))),
                       max_runtime_s=3600.0, estimated_runtime_s=draw(st.sampled_from([None, 60.0, 1200.0])))  # fmt: skip
        running.append(run(job, order[at : at + n], started_at=NOW - draw(st.integers(0, 2000))))
        at += n
    tiers = list(Tier) if draw(st.booleans()) else [Tier.PRIORITY] * 3 + list(Tier)  # guarantee-heavy queues
    pending = [
        make_job(f"p{i:02d}", draw(st.sampled_from(SIZES)), draw(st.sampled_from(TENANTS)),
                 draw(st.sampled_from(tiers)), placement=draw(st.sampled_from([ANYWHERE, country_only("FR")])),
                 submitted_at=NOW - draw(st.integers(0, 50)), max_runtime_s=draw(st.sampled_from([600.0, 3600.0])),
                 estimated_runtime_s=draw(st.sampled_from([None, 60.0, 1200.0])))
        for i in range(draw(st.integers(0, 30)))
    ]  # fmt: skip
    usage = {t: draw(st.sampled_from([0.0, 1e5, 1e7])) for t in TENANTS}
    return Topology.from_fleet(fleet), policy, running, pending, usage


@SETTINGS
@given(cases(), st.booleans())
def test_groups_read_in_place_decide_as_one_list(case, waits):
    topo, policy, running, pending, usage = case
    state = SchedulerState(topo, running, contracts=policy.contracts)
    admitted = [j for j in pending if not admission(state, j, policy, NOW)]
    groups: dict[tuple[str, Tier], list] = {}
    for j in sorted(admitted, key=lambda j: (j.submitted_at, j.id)):
        groups.setdefault((j.tenant, j.tier), []).append(j)
    copy = {k: list(v) for k, v in groups.items()}
    demand: dict[str, int] = {}
    for j in admitted:
        demand[j.tenant] = demand.get(j.tenant, 0) + j.gpus
    expect = schedule_state(state, admitted, policy, NOW, usage=usage, waits=waits)
    got = schedule_groups(state, groups, policy, NOW, usage=usage, demand=demand, waits=waits)
    assert got == expect
    assert (got.examined, got.wake_at) == (expect.examined, expect.wake_at)
    assert schedule_groups(state, groups, policy, NOW, usage=usage, waits=waits) == expect  # demand summed
    floors = {k: (min(j.gpus for j in g), min(j.expected_runtime_s for j in g), min(j.max_runtime_s for j in g))
              for k, g in groups.items() if g}  # fmt: skip
    lean = schedule_state(state, admitted, policy, NOW, usage=usage, waits=False)
    fast = schedule_groups(state, groups, policy, NOW, usage=usage, waits=False, floors=floors)
    assert (fast, fast.examined) == (lean, lean.examined)  # phases that start nothing count, not examine
    assert groups == copy  # read in place, never changed
    rejected = [j for j in pending if admission(state, j, policy, NOW)]
    full = schedule_state(state, pending, policy, NOW, usage=usage)
    assert {d.job_id for d in full.rejects} == {j.id for j in rejected}  # what a cycle rejects
