"""Topology rules: one rack for <= rack-size jobs (best fit), whole racks in one site beyond, tray packing."""

from __future__ import annotations

import pytest
from scheduler_factories import (
    NOW,
    cycle,
    make_fleet,
    make_job,
    make_site,
    node_of,
    place_of,
    rack_gpus,
    rack_of,
    run,
)

from brique.domain.fleet import HealthState
from brique.scheduler import Place, Wait
from brique.scheduler.assign import plan_trays

FLEET = make_fleet(make_site("fr-1", racks=3))


def test_small_job_goes_to_fullest_rack_where_it_fits():
    # r001 has 60 busy (12 free), r002 has 10 busy (62 free), r003 empty
    busy = [
        run(make_job("a", 60), rack_gpus(FLEET, "fr-1/r001", 60)),
        run(make_job("b", 10), rack_gpus(FLEET, "fr-1/r002", 10)),
    ]
    res = cycle(FLEET, [make_job("small", 8), make_job("mid", 20, submitted_at=1)], busy)
    assert {rack_of(g) for g in place_of(res, "small").gpus} == {"fr-1/r001"}
    assert {rack_of(g) for g in place_of(res, "mid").gpus} == {"fr-1/r002"}


def test_job_of_rack_size_takes_a_whole_free_rack():
    busy = [run(make_job("a", 1), rack_gpus(FLEET, "fr-1/r001", 1))]
    res = cycle(FLEET, [make_job("big", 72)], busy)
    assert {rack_of(g) for g in place_of(res, "big").gpus} == {"fr-1/r002"}


def test_job_larger_than_rack_takes_fewest_whole_racks_in_one_site():
    fleet = make_fleet(make_site("fr-1", racks=2), make_site("de-1", "DE", racks=3))
    res = cycle(fleet, [make_job("big", 144)])
    racks = {rack_of(g) for g in place_of(res, "big").gpus}
    assert len(racks) == 2 and len({r.split("/")[0] for r in racks}) == 1


def test_non_multiple_big_job_puts_remainder_in_fullest_rack():
    busy = [run(make_job("a", 50), rack_gpus(FLEET, "fr-1/r001", 50))]  # r001: 22 free
    res = cycle(FLEET, [make_job("big", 92)], busy)  # 72 whole + 20 remainder
    gpus = place_of(res, "big").gpus
    per_rack = {r: sum(1 for g in gpus if rack_of(g) == r) for r in {rack_of(g) for g in gpus}}
    assert per_rack == {"fr-1/r002": 72, "fr-1/r001": 20}


def test_big_job_never_splits_across_sites():
    fleet = make_fleet(make_site("fr-1", racks=1), make_site("de-1", "DE", racks=1))
    res = cycle(fleet, [make_job("big", 144)])
    d = res.for_job("big")
    assert type(d).__name__ == "Reject"
    assert d.reasons[0].message == (
        "rejected: needs 144 GPUs in one site meeting policy 'anywhere'; the largest qualifying site has 72"
    )


def test_draining_and_down_nodes_are_never_used():
    fleet = make_fleet(make_site("fr-1", racks=1, nodes=2, gpus=4))
    health = {"fr-1/r001/n01": HealthState.DRAINING, "fr-1/r001/n02/g3": HealthState.DOWN}
    res = cycle(fleet, [make_job("a", 3), make_job("b", 1, submitted_at=NOW)], health=health)
    assert set(place_of(res, "a").gpus) == {"fr-1/r001/n02/g0", "fr-1/r001/n02/g1", "fr-1/r001/n02/g2"}
    assert not isinstance(res.for_job("b"), Place)


def test_fleet_file_health_is_respected():
    fleet = make_fleet(make_site("fr-1", racks=1, nodes=1, gpus=2))
    res = cycle(fleet, [make_job("a", 2)], health={"fr-1/r001/n01/g1": HealthState.DOWN})
    assert isinstance(res.for_job("a"), Wait)


@pytest.mark.parametrize(
    ("counts", "g", "expected"),
    [
        pytest.param([4, 4, 2, 4], 1, [(2, 1)], id="single-gpu-fills-partial-tray"),
        pytest.param([4, 4, 2, 4], 4, [(0, 4)], id="four-take-a-whole-tray"),
        pytest.param([4, 4, 2, 4], 6, [(0, 4), (2, 2)], id="six-whole-tray-plus-partial"),
        pytest.param([4, 3, 4, 1], 3, [(1, 3)], id="best-fit-tray-for-remainder"),
        pytest.param([2, 2, 2, 0], 5, [(0, 2), (1, 2), (2, 1)], id="spread-over-partials"),
        pytest.param([4, 4, 4, 4], 8, [(0, 4), (1, 4)], id="whole-trays-lowest-first"),
        pytest.param([1, 1, 0, 0], 3, None, id="not-enough"),
    ],
)
def test_tray_packing(counts, g, expected):
    assert plan_trays(counts, [4] * len(counts), g) == expected


def test_placed_gpus_are_packed_into_whole_trays():
    res = cycle(FLEET, [make_job("eight", 8)])
    nodes = {node_of(g) for g in place_of(res, "eight").gpus}
    assert len(nodes) == 2


def test_partial_tray_is_filled_before_a_fresh_one():
    busy = [run(make_job("a", 3), rack_gpus(FLEET, "fr-1/r001", 3))]  # n01 has g3 free
    res = cycle(FLEET, [make_job("one", 1)], busy)
    assert place_of(res, "one").gpus == ("fr-1/r001/n01/g3",)


def test_gpu_ids_are_domain_ids():
    res = cycle(FLEET, [make_job("one", 1)])
    assert place_of(res, "one").gpus == ("fr-1/r001/n01/g0",)
    assert place_of(res, "one").site == "fr-1"
