"""Property: under brique, no job is preempted twice within its protection window, whatever the
reason (a guarantee included: `RESTART_PROTECT_S`); non-guarantee preemption never stops work inside
its first window (`PROTECT_S`) either; runs stay whole."""

from __future__ import annotations

import os
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brique.domain.contracts import Contract, ContractBook
from brique.simulator.checkpoint import CheckpointModel
from brique.simulator.engine import Run, SimConfig
from brique.simulator.policies import POLICIES, PROTECT_S, RESTART_PROTECT_S, PolicySpec
from brique.simulator.run import simulate_trace
from brique.simulator.traces import Trace
from tests.unit.simulator.sim_factories import job, make_fleet, run, trace

EXAMPLES = int(os.environ.get("BRIQUE_HYPOTHESIS_EXAMPLES", "25"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TENANTS = ("a", "b", "c")


@st.composite
def busy_traces(draw):
    jobs = [
        job(f"j{i}", draw(st.integers(0, 8000)), draw(st.integers(60, 6000)), draw(st.sampled_from([4, 8, 12])),
            draw(st.sampled_from(TENANTS)), draw(st.sampled_from(["priority", "standard", "preemptible"])))
        for i in range(draw(st.integers(2, 24)))
    ]  # fmt: skip
    guarantees = draw(st.booleans())
    book = ContractBook.of(Contract(t, guaranteed_gpus=draw(st.integers(0, 8)) if guarantees else 0)
                           for t in TENANTS)  # fmt: skip
    return trace(*jobs), book


@SETTINGS
@given(busy_traces())
def test_no_job_preempted_twice_within_its_protection_window(case) -> None:
    tr, book = case
    _assert_protected(tr, run(tr, make_fleet(racks=1, nodes=3, gpus=4), "brique", book))


@SETTINGS
@given(busy_traces())
def test_under_the_grace_model_too(case) -> None:
    """The same under `--checkpoint grace`, where brique is told the model (reserve, spared restarts)."""
    tr, book = case
    r = run(tr, make_fleet(racks=1, nodes=3, gpus=4), "brique", book, checkpoint=CheckpointModel("grace"))
    _assert_protected(tr, r, restarts_only_for_guarantees=True)


def _assert_protected(tr: Trace, r: Run, restarts_only_for_guarantees: bool = False) -> None:
    """Stop signals respect the protection windows (a job preempted before: its restart's window binds every
    preemption, a guarantee's too), and every job ends or is rejected."""
    for i, started, signal, for_guarantee in r.stops:
        assert for_guarantee or signal - started >= PROTECT_S, (tr.jobs[i].id, started, signal)
    stopped: set[int] = set()
    for i, started, signal, for_guarantee in sorted(r.stops, key=lambda s: s[2]):
        if i in stopped:
            assert signal - started >= RESTART_PROTECT_S, (tr.jobs[i].id, started, signal)
            if restarts_only_for_guarantees:
                assert for_guarantee, tr.jobs[i].id  # a restarted job is stopped again only for a guarantee
        stopped.add(i)
    assert sum(1 for rec in r.records if rec.end >= 0 or rec.rejected) == len(tr.jobs)


def _sparing(threshold_s: float) -> PolicySpec:
    """brique with `reclaim_standard_over_s` (off in the shipped policy; docs/simulation.md *Unseen tiers*)."""
    spec = POLICIES["brique"]
    return replace(spec, build=lambda book: replace(spec.build(book), reclaim_standard_over_s=threshold_s))


@SETTINGS
@given(busy_traces(), st.sampled_from([0.0, 600.0, 259_200.0]))
def test_with_a_guarantee_sparing_others_standard_work_first(case, threshold_s) -> None:
    """`reclaim_standard_over_s` only chooses among victims: the windows and whole runs still hold."""
    tr, book = case
    r = simulate_trace(tr, make_fleet(racks=1, nodes=3, gpus=4), [_sparing(threshold_s)], book, SimConfig())[0]
    _assert_protected(tr, r)
