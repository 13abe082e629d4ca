"""Same trace, fleet, contracts and seed: byte-identical JSON (timing fields aside)."""

from __future__ import annotations

import functools
import json
import time

import yaml

from brique.simulator.contracts_file import parse_contracts
from brique.simulator.metrics import TIMING_KEYS
from brique.simulator.policies import resolve
from brique.simulator.run import simulate_trace, to_doc, to_json
from brique.simulator.traces import Trace, parse_helios
from tests.unit.simulator.sim_factories import DATA, make_fleet

HELIOS = DATA / "traces/helios-last15k/helios_data_training.csv"


@functools.cache
def _json(seed: int, timing: bool) -> str:
    full = parse_helios(HELIOS.read_text(), seed=seed)
    tr = Trace(full.name, full.jobs[:300])
    book = parse_contracts(yaml.safe_load((DATA / "contracts/helios.yaml").read_text()))
    runs = simulate_trace(
        tr, make_fleet(racks=2), resolve("all"), book, timer=time.perf_counter if timing else None
    )
    return to_json(to_doc(runs, timing=timing))


def test_same_seed_gives_byte_identical_json() -> None:
    assert _json(7, timing=False) == _json.__wrapped__(7, timing=False)  # a fresh run, not the cached text


def test_timing_fields_are_the_only_difference_when_timed() -> None:
    timed = _json(7, timing=True)
    for key in TIMING_KEYS:
        assert f'"{key}"' in timed
    stripped = {
        k: {kk: vv for kk, vv in v.items() if kk not in TIMING_KEYS} for k, v in json.loads(timed).items()
    }
    assert to_json(stripped) == _json(7, timing=False)


def test_another_seed_changes_the_mapping_and_the_result() -> None:
    assert _json(7, timing=False) != _json(8, timing=False)
