"""Pins that the core reading the pending groups in place (`schedule_groups`, each group only as far as it
examines it) changes no decision against every pending job in one list, and the runtime predictor's rules."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brique.domain.contracts import Contract, ContractBook
from brique.simulator.predict import Predictor
from tests.unit.simulator.sim_factories import job, make_fleet, run, trace

EXAMPLES = int(os.environ.get("BRIQUE_HYPOTHESIS_EXAMPLES", "20"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def deep_queues(draw):
    jobs = [
        job(f"j{i}", draw(st.integers(0, 300)), draw(st.integers(1, 900)), draw(st.sampled_from([1, 2, 4, 8, 12])),
            draw(st.sampled_from(["a", "b"])), draw(st.sampled_from(["priority", "standard", "preemptible"])))
        for i in range(draw(st.integers(5, 40)))
    ]  # fmt: skip
    book = ContractBook.of(
        [Contract("a", guaranteed_gpus=draw(st.integers(0, 6))), Contract("b", weight=2.0)]
    )
    return trace(*jobs), book, draw(st.sampled_from(["fifo", "slurm-like", "brique"]))


@SETTINGS
@given(deep_queues())
def test_groups_read_in_place_give_the_same_run_as_the_whole_queue(case) -> None:
    tr, book, policy = case
    fleet = make_fleet(racks=1, nodes=3, gpus=4)
    lazy = run(tr, fleet, policy, book, in_place=True)
    whole = run(tr, fleet, policy, book, in_place=False)
    assert lazy.records == whole.records
    assert (lazy.preemptions, lazy.lost_gpu_s, lazy.stops) == (whole.preemptions, whole.lost_gpu_s, whole.stops)


def test_predictor_uses_the_most_specific_history() -> None:
    p = Predictor()
    assert p.predict("a", 8) is None
    p.completed("a", 8, 100.0, None)
    p.completed("a", 8, 300.0, None)
    p.completed("a", 1, 50.0, 150.0)
    assert p.predict("a", 8) == 200.0  # mean of the last two (a, 8) runs
    assert p.predict("a", 4) == pytest.approx(175.0)  # no (a, 4) history: the tenant's last two
    assert p.accuracy() == {"predicted": 1, "within_2x": 0.0, "median_rel_error": 2.0}
