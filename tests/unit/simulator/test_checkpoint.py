"""The checkpoint model (docs/simulation.md *Preemption cost model*), on hand-computed traces.

`none` (default): a preempted job loses its GPUs x run time before the stop signal and reruns in
full. `grace`: a job given a grace of at least the checkpoint write time resumes with what it has
left and loses only its grace (and the restart overhead). The same rule for every policy.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brique.domain.contracts import Contract, ContractBook
from brique.domain.policy import SINCE_START, VictimLoss
from brique.scheduler import Topology
from brique.simulator.checkpoint import NO_CHECKPOINT, CheckpointModel
from brique.simulator.engine import Engine, SimConfig
from brique.simulator.policies import GRACE_RESERVE, GRACE_WAIT_RATIO, POLICIES
from brique.simulator.run import to_doc, to_json
from tests.unit.simulator.sim_factories import by_id, jct, job, make_fleet, metrics, run, trace

ONE_RACK = make_fleet(racks=1)
GRACE = CheckpointModel("grace")
# p1 (72 GPUs, preemptible) has run 1,800 s when s2 (72 GPUs, 100 s) arrives: both slurm-like (QOS
# preemption) and brique (s2 would wait ~2,000,000 s: waiting costs more than killing; under `grace`
# brique stops no more GPUs than s2 asks) stop p1, with the 30 s grace. s2 runs 1,830-1,930; p1
# restarts at 1,930.
LONG = trace(
    job("p1", 0, 2_000_000, 72, tenant="B", tier="preemptible"), job("s2", 1800, 100, 72, tenant="A")
)
PREEMPTING = ("slurm-like", "brique")
EXAMPLES = int(os.environ.get("BRIQUE_HYPOTHESIS_EXAMPLES", "25"))


def _busy(r) -> float:
    return sum(r.site_gpu_s)


def _useful(r) -> float:
    return sum(j.gpus * j.duration_s for j, rec in zip(r.trace.jobs, r.records, strict=True) if rec.end >= 0)


@pytest.mark.parametrize("policy", PREEMPTING)
def test_none_loses_the_run_before_the_signal_and_reruns_in_full(policy: str) -> None:
    r = run(LONG, ONE_RACK, policy)  # the default model
    assert r.checkpoint == NO_CHECKPOINT
    assert jct(r) == {"p1": 1930 + 2_000_000, "s2": 130}
    assert r.lost_gpu_s == 72 * 1800  # GPUs x run time before the signal; the grace is not counted
    assert metrics(r)["lost_gpu_hours"] == 36.0
    assert _busy(r) == _useful(r) + 72 * (1800 + 30)  # the lost run and its grace were busy


@pytest.mark.parametrize("policy", PREEMPTING)
def test_grace_resumes_with_the_remainder_and_loses_only_the_grace(policy: str) -> None:
    r = run(LONG, ONE_RACK, policy, checkpoint=GRACE)
    assert jct(r) == {"p1": 1930 + 2_000_000 - 1800, "s2": 130}  # 1,800 s of work kept
    assert r.lost_gpu_s == 72 * 30
    assert metrics(r)["lost_gpu_hours"] == 0.6
    assert by_id(r)["p1"].preempted == 1 and r.preemptions == 1
    assert _busy(r) == _useful(r) + r.lost_gpu_s  # busy = useful work + what preemption cost
    assert metrics(r)["energy_kwh"] < metrics(run(LONG, ONE_RACK, policy))["energy_kwh"]


def test_grace_shorter_than_the_checkpoint_write_loses_everything() -> None:
    r = run(LONG, ONE_RACK, "slurm-like", checkpoint=GRACE, grace_s=0.0)  # killed at once: no checkpoint
    assert jct(r) == {"p1": 1900 + 2_000_000, "s2": 100}
    assert r.lost_gpu_s == 72 * 1800
    short = run(LONG, ONE_RACK, "slurm-like", checkpoint=CheckpointModel("grace", write_s=31.0))
    assert jct(short)["p1"] == 1930 + 2_000_000 and short.lost_gpu_s == 72 * 1800


@pytest.mark.parametrize(
    "model, grace_s",
    [(GRACE, 0.0), (CheckpointModel("grace", write_s=31.0), 30.0), (CheckpointModel("grace", every_s=1000.0), 0.0)],
)
def test_brique_told_the_victim_cannot_checkpoint_waits_instead(model: CheckpointModel, grace_s: float) -> None:
    # p1 would lose 1,800 s (or 800 s since its periodic checkpoint) x 72 GPUs, not 30 s x 72: under
    # brique's wait ratio for `grace` that is worth more than s2's wait; s2 starts when p1 ends
    r = run(LONG, ONE_RACK, "brique", checkpoint=model, grace_s=grace_s)
    assert r.preemptions == 0 and r.lost_gpu_s == 0
    assert jct(r) == {"p1": 2_000_000, "s2": 2_000_000 + 100 - 1800}


def test_restart_overhead_is_paid_by_each_resumed_run_and_counted_lost() -> None:
    # slurm-like stops p1 twice (QOS, no protection window): at 1,000 (s2) and at 2,130 (s3, 1,000 s
    # after p1's restart at 1,130). With a 60 s restart overhead p1 keeps 1,000 s, then 940 s of work.
    tr = trace(job("p1", 0, 10_000, 72, tier="preemptible"), job("s2", 1000, 100, 72, tenant="A"),
               job("s3", 2130, 100, 72, tenant="A"))  # fmt: skip
    r = run(tr, ONE_RACK, "slurm-like", checkpoint=CheckpointModel("grace", restart_s=60.0))
    assert [(s[1], s[2]) for s in r.stops] == [(0.0, 1000.0), (1130.0, 2130.0)]
    assert jct(r) == {"p1": 2260 + 60 + (10_000 - 1000 - 940), "s2": 130, "s3": 130}
    # grace 30, then grace 30 + the 60 s restart of the interrupted run, then the last run's 60 s
    assert r.lost_gpu_s == 72 * (30 + 90 + 60)
    assert _busy(r) == _useful(r) + r.lost_gpu_s


@pytest.mark.parametrize("policy", PREEMPTING)
def test_periodic_keeps_the_last_periodic_checkpoint_and_loses_the_rest(policy: str) -> None:
    r = run(LONG, ONE_RACK, policy, checkpoint=CheckpointModel("periodic", every_s=700.0))
    assert jct(r) == {"p1": 1930 + 2_000_000 - 1400, "s2": 130}  # checkpoints at 700 and 1,400 s of work
    assert r.lost_gpu_s == 72 * 400  # ran 1,800 s, 400 since its last checkpoint; the grace is not lost
    assert _busy(r) == _useful(r) + r.lost_gpu_s + 72 * 30


def test_under_grace_too_little_grace_falls_back_to_the_periodic_checkpoints() -> None:
    r0 = run(LONG, ONE_RACK, "slurm-like", checkpoint=CheckpointModel("grace", every_s=700.0), grace_s=0.0)
    assert jct(r0)["p1"] == 1900 + 2_000_000 - 1400 and r0.lost_gpu_s == 72 * 400


def test_periodic_with_restart_overhead_over_two_preemptions() -> None:
    # stops at 1,000 (ran 1,000: keeps 900) and 2,130 (ran 1,000 = 60 restart + 940 work: keeps 900)
    tr = trace(job("p1", 0, 10_000, 72, tier="preemptible"), job("s2", 1000, 100, 72, tenant="A"),
               job("s3", 2130, 100, 72, tenant="A"))  # fmt: skip
    model = CheckpointModel("periodic", restart_s=60.0, every_s=300.0)
    r = run(tr, ONE_RACK, "slurm-like", checkpoint=model)
    assert jct(r) == {"p1": 2260 + 60 + (10_000 - 900 - 900), "s2": 130, "s3": 130}
    assert r.lost_gpu_s == 72 * (
        100 + 100 + 60
    )  # each run's tail since its last checkpoint, the last restart
    assert _busy(r) == _useful(r) + r.lost_gpu_s + 72 * 2 * 30


def test_runtime_predictor_sees_the_trace_duration_of_a_resumed_job() -> None:
    tr = trace(*LONG.jobs, job("p2", 2_100_000, 10, 72, tenant="B", tier="preemptible"))
    eng = Engine(
        tr, Topology.from_fleet(ONE_RACK), POLICIES["brique"], ContractBook(), SimConfig(checkpoint=GRACE)
    )
    r = eng.simulate()
    assert by_id(r)["p1"].preempted == 1
    assert eng.predictor is not None and eng.predictor.pairs[-1] == (2_000_000.0, 10.0)  # p2 predicted by p1
    assert list(eng.predictor.history[("B", 72)]) == [2_000_000.0, 10.0]


def test_the_json_names_the_model_and_the_default_results_do_not_change() -> None:
    none, grace = run(LONG, ONE_RACK, "brique"), run(LONG, ONE_RACK, "brique", checkpoint=GRACE)
    assert metrics(none)["checkpoint"] == {"model": "none"}
    assert metrics(grace)["checkpoint"] == {"model": "grace", "write_s": 30.0, "restart_s": 0.0}
    explicit = run(LONG, ONE_RACK, "brique", checkpoint=CheckpointModel("none"))
    assert (explicit.records, explicit.lost_gpu_s) == (none.records, none.lost_gpu_s)


def test_grace_runs_are_deterministic() -> None:
    tr = trace(*(job(f"j{k}", 37 * k, 500 + 91 * (k % 7), (8, 36, 72)[k % 3], tenant="AB"[k % 2],
                     tier=("preemptible", "standard", "priority")[k % 3]) for k in range(40)))  # fmt: skip
    docs = [to_json(to_doc([run(tr, ONE_RACK, p, checkpoint=GRACE) for p in POLICIES], timing=False))
            for _ in range(2)]  # fmt: skip
    assert docs[0] == docs[1]


@pytest.mark.parametrize(("kwargs", "message"), [
    pytest.param({"model": "hourly"}, "must be one of none, grace, periodic", id="unknown-model"),
    pytest.param({"model": "periodic"}, "needs a period > 0", id="periodic-without-period"),
    pytest.param({"model": "none", "every_s": 60.0}, "needs the grace or periodic", id="period-under-none"),
    pytest.param({"model": "grace", "every_s": -1.0}, "period must be >= 0", id="negative-period"),
    pytest.param({"model": "grace", "write_s": 0.0}, "write time must be > 0", id="zero-write"),
    pytest.param({"model": "grace", "restart_s": -1.0}, "restart overhead must be >= 0", id="negative-restart"),
])  # fmt: skip
def test_bad_model_parameters_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CheckpointModel(**kwargs)


def test_the_html_report_names_the_model() -> None:
    from brique.simulator.report import render  # matplotlib: imported only here, as the CLI does

    runs = [run(LONG, ONE_RACK, p, checkpoint=CheckpointModel("grace", restart_s=5.0)) for p in PREEMPTING]
    page = render(runs, {r.policy: metrics(r) for r in runs}, "t")
    assert page.count("<td>model grace, write_s 30.0, restart_s 5.0</td>") == 2


@st.composite
def busy_traces(draw):
    jobs = [
        job(f"j{i}", draw(st.integers(0, 6000)), draw(st.integers(60, 5000)), draw(st.sampled_from([4, 8, 12])),
            draw(st.sampled_from("abc")), draw(st.sampled_from(["priority", "standard", "preemptible"])))
        for i in range(draw(st.integers(2, 20)))
    ]  # fmt: skip
    book = ContractBook.of(Contract(t, guaranteed_gpus=draw(st.integers(0, 8))) for t in "abc")
    return trace(*jobs), book, draw(st.sampled_from([0.0, 45.0])), draw(st.sampled_from(PREEMPTING))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(busy_traces())
def test_under_grace_busy_time_is_useful_work_plus_what_preemption_lost(case) -> None:
    tr, contracts, restart_s, policy = case
    r = run(tr, make_fleet(racks=1, nodes=3, gpus=4), policy, contracts,
            checkpoint=CheckpointModel("grace", restart_s=restart_s))  # fmt: skip
    assert all(rec.end >= 0 for rec in r.records)  # every job completes, resumed ones included
    assert _busy(r) == pytest.approx(_useful(r) + r.lost_gpu_s, rel=1e-9, abs=1e-6)
    for j, rec in zip(r.trace.jobs, r.records, strict=True):  # a job never finishes before its work could
        assert rec.end - rec.first_start >= j.duration_s - 1e-6


def test_brique_s_preemption_cost_follows_the_model_and_the_others_ignore_it() -> None:
    book = ContractBook.of([Contract("A", guaranteed_gpus=36)])
    periodic = CheckpointModel("periodic", every_s=3600.0, restart_s=60.0)
    brique = POLICIES["brique"]
    assert brique.policy(book, NO_CHECKPOINT).victim_loss is SINCE_START
    assert brique.policy(book, NO_CHECKPOINT) == brique.build(book)  # the default: unchanged
    assert brique.policy(book, GRACE).victim_loss == VictimLoss("grace", write_s=30.0)
    assert brique.policy(book, GRACE).preempt_wait_ratio == GRACE_WAIT_RATIO
    told = brique.policy(book, GRACE)  # the grace follow-up's rules, under `grace` only
    assert (told.guarantee_reserve, told.preempt_gpu_ratio, told.spare_restarted) == (GRACE_RESERVE, 1.0, True)
    plain = brique.policy(book, periodic)
    assert (plain.guarantee_reserve, plain.preempt_gpu_ratio, plain.spare_restarted) == (0, None, False)
    assert brique.policy(book, periodic).victim_loss == VictimLoss("periodic", restart_s=60.0, every_s=3600.0)
    for name in ("fifo", "slurm-like"):  # Slurm knows nothing of checkpoints: the same policy
        spec = POLICIES[name]
        assert spec.policy(book, GRACE) == spec.policy(book, periodic) == spec.build(book)
