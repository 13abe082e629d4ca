"""domain.energy: GB200 rack power, kWh with PUE, and CO2e."""

from __future__ import annotations

import pytest

from brique.domain.energy import PowerModel, co2e_kg, facility_kwh, it_kwh, rack_power_kw


def test_a_full_nvl72_rack_draws_126_kw() -> None:
    assert rack_power_kw(1200, gpus=72, nodes=18) == pytest.approx(126.0)


def test_one_gpu_hour_costs_board_power_plus_its_tray_share() -> None:
    model = PowerModel(gpu_power_w=1200, gpus_per_node=4)
    assert model.watts_per_gpu == 1750.0
    assert it_kwh(3600, model) == pytest.approx(1.75)
    assert facility_kwh(3600, model, pue=1.2) == pytest.approx(2.1)
    assert co2e_kg(2.1, 350) == pytest.approx(0.735)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError):
        facility_kwh(1, PowerModel(1200, 4), pue=0.9)
    with pytest.raises(ValueError):
        PowerModel(1200, 0)
