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


@SETTINGS
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 30), st.sampled_from([1, 2, 4, 8]),
                          st.sampled_from([None, 60.0, 900.0]), st.sampled_from([600.0, 3600.0])), max_size=60))  # fmt: skip
def test_pending_floors_are_the_smallest_of_each_group(ops) -> None:
    """`PendingIndex.floors`: per group, the fewest GPUs, the shortest expected and max runtimes, as jobs come and go."""
    from brique.domain.jobs import Job, Tier
    from brique.simulator.pending import PendingIndex

    index, alive = PendingIndex(), {}
    for i, (add, pick, gpus, est, most) in enumerate(ops):
        if add or not alive:
            tenant, tier = ["a", "b"][pick % 2], [Tier.STANDARD, Tier.PREEMPTIBLE][pick % 3 == 0]
            alive[i] = j = Job(id=f"{i:08d}", tenant=tenant, gpus=gpus, tier=tier, submitted_at=float(pick),
                               max_runtime_s=most, estimated_runtime_s=est)  # fmt: skip
            index.add(i, j)
        else:
            index.pop(sorted(alive)[pick % len(alive)])
            del alive[sorted(alive)[pick % len(alive)]]
        expect = {}
        for j in alive.values():
            expect.setdefault((j.tenant, j.tier), []).append(j)
        assert dict(index.floors) == {
            k: (min(j.gpus for j in g), min(j.expected_runtime_s for j in g), min(j.max_runtime_s for j in g))
            for k, g in expect.items()
        }


def test_a_prediction_never_exceeds_the_users_walltime() -> None:
    """brique backfills on predictions, capped by the user's estimate: the job is killed there, so a longer guess
    would only hold back backfill. Without an estimate the prediction stands."""
    from brique.scheduler import Topology
    from brique.simulator.engine import Engine
    from brique.simulator.policies import POLICIES

    tr = trace(job("a", 0, 1000, 24, tenant="A"),  # A's history: 24 GPUs ran 1,000 s
               job("b", 2000, 50, 24, tenant="A", est=100),  # predicted 1,000 s, capped at its walltime
               job("c", 2000, 50, 24, tenant="A"),  # predicted 1,000 s, no walltime
               job("d", 2000, 50, 8, tenant="A", est=5000))  # predicted 1,000 s (A's history), under its walltime
    engine = Engine(tr, Topology.from_fleet(make_fleet(racks=1)), POLICIES["brique"], ContractBook())  # fmt: skip
    engine.simulate()
    assert [j.estimated_runtime_s for j in engine.core if j is not None] == [None, 100.0, 1000.0, 1000.0]
