"""Placement policies as pure predicates, and the reject/wait reason sentences."""

from __future__ import annotations

import pytest
from scheduler_factories import cycle, make_fleet, make_job, make_site, place_of, rack_gpus, run, site_of

from brique.domain.policy import PlacementPolicy, country_only
from brique.scheduler import ReasonCode, Reject, Reserve, Wait

FLEET = make_fleet(
    make_site("fr-1", "FR", racks=4, certs=["secnumcloud", "hds"]),
    make_site("de-1", "DE", racks=2, certs=["c5"]),
    make_site("ch-1", "CH", racks=2),
    make_site("fr-us", "FR", racks=1, operator_country="US"),
)


@pytest.mark.parametrize(
    ("policy", "label", "allowed"),
    [
        pytest.param(country_only("FR"), "FR only", {"fr-1", "fr-us"}, id="country"),
        pytest.param(PlacementPolicy(countries={"FR", "DE"}), "DE or FR only", {"fr-1", "de-1", "fr-us"}, id="two"),
        pytest.param(PlacementPolicy(certifications={"c5"}), "c5", {"de-1"}, id="cert"),
        pytest.param(PlacementPolicy(sites={"ch-1"}), "sites ch-1", {"ch-1"}, id="site"),
        pytest.param(PlacementPolicy(eu_only=True), "EU only", {"fr-1", "de-1", "fr-us"}, id="eu"),
        pytest.param(PlacementPolicy(operator_in_eu=True), "EU-headquartered operator", {"fr-1", "de-1"},
                     id="operator-hq"),
        pytest.param(PlacementPolicy(name="health data", certifications={"hds"}), "health data", {"fr-1"}, id="named"),
    ],
)  # fmt: skip
def test_policy_predicates(policy, label, allowed):
    assert policy.label == label
    assert {s.id for s in FLEET.sites if policy.allows(s)} == allowed


def test_violations_are_sentences():
    assert country_only("FR").violations(FLEET.site("de-1")) == ["site de-1 is in DE, not in FR"]


def test_job_lands_only_in_allowed_country():
    res = cycle(
        FLEET, [make_job(f"j{i}", 72, placement=country_only("DE"), submitted_at=i) for i in range(3)]
    )
    assert {site_of(g) for p in res.places for g in p.gpus} == {"de-1"}
    assert len(res.places) == 2
    assert isinstance(res.for_job("j2"), Reserve)  # head of queue: gets a reservation in de-1
    assert {site_of(g) for g in res.for_job("j2").gpus} == {"de-1"}


def test_reject_when_no_site_meets_policy():
    res = cycle(FLEET, [make_job("x", 1, placement=country_only("IT"))])
    d = res.for_job("x")
    assert isinstance(d, Reject)
    assert d.reasons[0].code == ReasonCode.NO_SITE
    assert d.reasons[0].message == "rejected: no site in the fleet meets policy 'IT only'"


def test_reject_when_larger_than_largest_qualifying_site():
    res = cycle(FLEET, [make_job("x", 300, placement=PlacementPolicy(name="FR only", sites={"fr-1"}))])
    d = res.for_job("x")
    assert isinstance(d, Reject)
    assert d.reasons[0].message == (
        "rejected: needs 300 GPUs in one site meeting policy 'FR only'; the largest qualifying site has 288"
    )


def test_wait_reason_names_largest_free_block_for_multi_rack_job():
    busy = [run(make_job(f"b{i}", 1), rack_gpus(FLEET, f"fr-1/r00{i}", 1)) for i in (1, 2, 3)]
    busy.append(run(make_job("b9", 1), rack_gpus(FLEET, "fr-us/r001", 1)))
    # the head job gets a reservation (r004, free now, + one drained rack); the next one waits
    res = cycle(FLEET, [make_job("h", 144, placement=country_only("FR")),
                        make_job("x", 144, placement=country_only("FR"), submitted_at=NOW_LATER)], busy)  # fmt: skip
    w = res.for_job("x")
    assert isinstance(w, Wait)
    assert w.reasons[0].code == ReasonCode.NO_CAPACITY
    assert w.reasons[0].message == (
        "waiting: needs 144 GPUs in one site meeting policy 'FR only'; largest free block there is 71"
    )


NOW_LATER = 1_000_000.0 - 50


def test_wait_reason_for_single_rack_job():
    fleet = make_fleet(make_site("fr-1", racks=1), make_site("de-1", "DE", racks=1))
    busy = [
        run(make_job("b", 60), rack_gpus(fleet, "fr-1/r001", 60)),
        run(make_job("c", 72), rack_gpus(fleet, "de-1/r001")),
    ]
    head = make_job("h", 72, placement=country_only("DE"))  # reserved in de-1, leaves fr-1 alone
    res = cycle(fleet, [head, make_job("x", 16, submitted_at=NOW_LATER)], busy)
    w = res.for_job("x")
    assert isinstance(w, Wait)
    assert w.reasons[0].message == (
        "waiting: needs 16 GPUs in one rack (NVLink domain) meeting policy 'anywhere'; largest free block there is 12"
    )


def test_contract_that_can_never_allow_the_job_rejects_it():
    from scheduler_factories import contracts

    from brique.domain.contracts import Contract

    pol = contracts(Contract("acme", guaranteed_gpus=8, may_borrow=False))
    res = cycle(FLEET, [make_job("x", 16)], policy=pol)
    d = res.for_job("x")
    assert isinstance(d, Reject) and d.reasons[0].code == ReasonCode.OVER_GUARANTEE_NO_BORROW
    assert d.reasons[0].message == "rejected: needs 16 GPUs; tenant acme's contract allows at most 8 at once"
    assert place_of(cycle(FLEET, [make_job("y", 8)], policy=pol), "y")
