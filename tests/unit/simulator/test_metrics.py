"""Metric helpers: percentiles, weighted max-min entitlements, fleet cuts."""

from __future__ import annotations

import pytest
import yaml

from brique.domain.fleet_spec import parse_fleet
from brique.simulator.metrics import percentile, waterfill
from brique.simulator.run import first_racks
from tests.unit.simulator.sim_factories import ROOT


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 99) == pytest.approx(3.97)
    assert percentile([], 50) == 0.0


@pytest.mark.parametrize(
    ("cap", "demand", "weight", "expected"),
    [
        pytest.param(10, {"a": 10, "b": 10}, {"a": 1, "b": 1}, {"a": 5, "b": 5}, id="equal"),
        pytest.param(12, {"a": 10, "b": 10}, {"a": 2, "b": 1}, {"a": 8, "b": 4}, id="weighted"),
        pytest.param(10, {"a": 2, "b": 10}, {"a": 1, "b": 1}, {"a": 2, "b": 8}, id="capped-by-demand"),
        pytest.param(10, {"a": 2, "b": 3}, {"a": 1, "b": 1}, {"a": 2, "b": 3}, id="all-satisfied"),
    ],
)
def test_waterfill(cap: float, demand: dict, weight: dict, expected: dict) -> None:
    assert waterfill(cap, demand, weight) == pytest.approx(expected)


def test_first_racks_keeps_file_order() -> None:
    fleet = parse_fleet(yaml.safe_load((ROOT / "fleets/gb200-eu.yaml").read_text()))
    cut = first_racks(fleet, 40)
    assert (cut.gpu_count, [s.id for s in cut.sites]) == (2880, ["fr-par-1"])
    assert [s.id for s in first_racks(fleet, 185).sites] == ["fr-par-1", "de-fra-1"]
    with pytest.raises(ValueError, match="only 250 racks"):
        first_racks(fleet, 251)
