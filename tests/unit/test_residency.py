"""Residency policies: narrowing is exactly 'both at once', and the scheduler never places outside it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from brique.domain.fleet_spec import parse_fleet
from brique.domain.jobs import Job
from brique.domain.policy import PlacementPolicy, SchedulingPolicy
from brique.domain.residency import is_narrower, narrow
from brique.scheduler import ClusterSnapshot, Place, schedule

COUNTRIES = ["FR", "DE", "SE", "CH", "US"]
CERTS = ["secnumcloud", "c5", "iso27001"]


def _site(i: int, country: str, op_country: str, certs: list[str]) -> dict:
    return {"id": f"s{i}", "country": country, "operator": {"name": f"Op {i}", "country": op_country},
            "certifications": certs, "pue": 1.2, "grid_gco2e_per_kwh": 50,
            "racks": [{"count": 2, "nodes_per_rack": 2, "gpus_per_node": 4, "gpu_model": "G", "gpu_power_w": 700}]}  # fmt: skip


sites = st.lists(
    st.tuples(st.sampled_from(COUNTRIES), st.sampled_from(COUNTRIES), st.lists(st.sampled_from(CERTS), unique=True)),
    min_size=1, max_size=5,
)  # fmt: skip
policies = st.builds(
    PlacementPolicy,
    countries=st.none() | st.frozensets(st.sampled_from(COUNTRIES), max_size=3),
    certifications=st.frozensets(st.sampled_from(CERTS), max_size=2),
    sites=st.none() | st.frozensets(st.sampled_from([f"s{i}" for i in range(5)]), max_size=3),
    eu_only=st.booleans(),
    operator_in_eu=st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(sites, policies, policies)
def test_narrow_allows_exactly_what_both_allow(spec: list, a: PlacementPolicy, b: PlacementPolicy) -> None:
    fleet = parse_fleet({"name": "f", "sites": [_site(i, *s) for i, s in enumerate(spec)]})
    both = narrow(a, b)
    for site in fleet.sites:
        assert both.allows(site) == (a.allows(site) and b.allows(site))
    assert is_narrower(both, a) and is_narrower(both, b)


@settings(max_examples=60, deadline=None)
@given(sites, policies, policies, st.lists(st.tuples(policies, st.integers(1, 16)), min_size=1, max_size=12))
def test_the_scheduler_never_places_outside_the_effective_policy(
    spec: list, org: PlacementPolicy, project: PlacementPolicy, jobs: list
) -> None:
    fleet = parse_fleet({"name": "f", "sites": [_site(i, *s) for i, s in enumerate(spec)]})
    pending = [
        Job(
            id=f"j{i}",
            tenant="t",
            gpus=gpus,
            placement=narrow(narrow(org, project), own),
            submitted_at=float(i),
        )
        for i, (own, gpus) in enumerate(jobs)
    ]
    result = schedule(ClusterSnapshot.of(fleet), pending, SchedulingPolicy(), now=100.0)
    own_policy = {j.id: own for (own, _), j in zip(jobs, pending, strict=True)}
    for d in result.decisions:
        if isinstance(d, Place):
            own = own_policy[d.job_id]
            site = fleet.site(d.site)
            assert site is not None
            assert org.allows(site) and project.allows(site) and own.allows(site)
            assert all(g.startswith(f"{d.site}/") for g in d.gpus)
