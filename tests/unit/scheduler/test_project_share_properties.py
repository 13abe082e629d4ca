"""Property tests for projects' guaranteed shares of their tenant's guarantee: every invariant of
`test_properties` holds with shares, work within a project's share is never preempted, and a
priority job within its project's share starts when only reclaimable work stands in its way."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st
from scheduler_factories import check_invariants, cycle, make_job
from test_properties import SETTINGS, TENANTS, scenarios

from brique.domain.contracts import Contract, ContractBook
from brique.domain.jobs import Tier
from brique.domain.policy import PlacementPolicy, SchedulingPolicy
from brique.scheduler import Place

PROJECTS = ["pa", "pb", "pc"]


def _with_projects(sc, data):  # type: ignore[no-untyped-def]
    fleet, health, running, pending, policy = sc

    def project() -> str:
        return data.draw(st.sampled_from(PROJECTS))

    running = [dataclasses.replace(r, job=dataclasses.replace(r.job, project=project())) for r in running]
    pending = [dataclasses.replace(j, project=project()) for j in pending]
    shares = [(t, p, data.draw(st.integers(0, 8))) for t in TENANTS for p in PROJECTS[:2]]
    book = ContractBook.of(policy.contracts.contracts, project_shares=shares)
    return fleet, health, running, pending, dataclasses.replace(policy, contracts=book)


@SETTINGS
@given(scenarios(), st.data())
def test_invariants_hold_with_project_shares(sc, data):
    """The invariants of every cycle, protection re-derived with shares (`protected_ids`)."""
    fleet, health, running, pending, policy = _with_projects(sc, data)
    result = cycle(fleet, pending, running, policy, health=health)
    check_invariants(fleet, pending, running, result, policy, health)


@SETTINGS
@given(scenarios(running_tiers=[Tier.PRIORITY], with_health=False), st.data())
def test_a_job_within_its_projects_share_starts_over_its_siblings_beyond_theirs(sc, data):
    """Tenant g's guarantee is held by its project pb alone (in other sites); pa's share is unused:
    a pa job within it starts at once in its site, over others' borrowed work."""
    fleet, _, running, _, _ = sc
    site = data.draw(st.sampled_from(fleet.sites))
    size = data.draw(st.integers(1, min(8, max(r.gpu_count for r in site.racks))))
    others = [dataclasses.replace(r, job=dataclasses.replace(r.job, tier=Tier.STANDARD)) for r in running]
    siblings = data.draw(st.integers(1, 3))
    # pb's work runs outside the job's site, so everything there is free or reclaimable by pa
    take = [r for r in others if r.job.tenant == "t0" and not any(g.startswith(f"{site.id}/") for g in r.gpus)]
    take = take[:siblings]
    mine = [dataclasses.replace(r, job=dataclasses.replace(r.job, tenant="g", tier=Tier.PRIORITY, project="pb"))
            for r in take]  # fmt: skip
    running = [r for r in others if r not in take] + mine
    held = sum(len(r.gpus) for r in mine)
    book = ContractBook.of([Contract("g", guaranteed_gpus=held + size)], project_shares=[("g", "pa", size)])
    policy = SchedulingPolicy(contracts=book)
    job = make_job("vip", size, "g", Tier.PRIORITY, project="pa", placement=PlacementPolicy(sites={site.id}))
    result = cycle(fleet, [job], running, policy)
    assert isinstance(result.for_job("vip"), Place), result.for_job("vip")
    check_invariants(fleet, [job], running, result, policy, {})
