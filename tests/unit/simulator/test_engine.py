"""Hand-computed traces: exact JCT and queueing per policy (docs/simulation.md explains each)."""

from __future__ import annotations

import pytest

from tests.unit.simulator.sim_factories import (
    POLICIES,
    book,
    by_id,
    jct,
    job,
    make_fleet,
    metrics,
    queue,
    run,
    trace,
)

ONE_GPU = make_fleet(racks=1, nodes=1, gpus=1)
ONE_RACK = make_fleet(racks=1)


@pytest.mark.parametrize("policy", list(POLICIES))
def test_single_gpu_fcfs_reproduces_the_textbook_queue(policy: str) -> None:
    # arrivals 0,1,2,3; service 3,2,1,4: starts 0,3,5,6; ends 3,5,6,10
    tr = trace(job("a", 0, 3), job("b", 1, 2), job("c", 2, 1), job("d", 3, 4))
    r = run(tr, ONE_GPU, policy)
    assert jct(r) == {"a": 3, "b": 4, "c": 4, "d": 7}
    assert queue(r) == {"a": 0, "b": 2, "c": 3, "d": 3}
    m = metrics(r)
    assert (m["avg_jct_s"], m["avg_queue_s"], m["makespan_s"], m["gpu_utilization"]) == (4.5, 2.0, 10.0, 1.0)
    assert m["p50_jct_s"] == 4.0
    assert m["avg_bounded_slowdown"] == 1.0  # every job is shorter than the 10 s floor: JCT/10 < 1


BACKFILL = trace(
    job("j1", 0, 100, 48, est=100),
    job("j2", 1, 100, 48, est=100),  # blocked: head, reserved for t=100
    job("j3", 2, 50, 24, est=50),  # ends by 52 <= 100: EASY backfills it, FIFO makes it wait
    job("j4", 3, 200, 72, est=200),
)


@pytest.mark.parametrize(
    ("policy", "expected_jct", "expected_queue"),
    [
        pytest.param("fifo", {"j1": 100, "j2": 199, "j3": 148, "j4": 397}, {"j1": 0, "j2": 99, "j3": 98, "j4": 197},
                     id="fifo-no-backfill"),
        pytest.param("slurm-like", {"j1": 100, "j2": 199, "j3": 50, "j4": 397}, {"j1": 0, "j2": 99, "j3": 0, "j4": 197},
                     id="slurm-like-easy-backfill"),
        pytest.param("brique", {"j1": 100, "j2": 199, "j3": 50, "j4": 397}, {"j1": 0, "j2": 99, "j3": 0, "j4": 197},
                     id="brique-easy-backfill"),
    ],
)  # fmt: skip
def test_one_rack_four_jobs(policy: str, expected_jct: dict, expected_queue: dict) -> None:
    r = run(BACKFILL, ONE_RACK, policy)
    assert jct(r) == expected_jct
    assert queue(r) == expected_queue
    assert metrics(r)["makespan_s"] == 400.0


GUARANTEE = trace(
    job("s1", 0, 1000, 72, tenant="B"),  # standard work of a tenant without guarantee: borrowed
    job("h1", 10, 100, 36, tenant="A", tier="priority"),  # within A's 36-GPU guarantee
)


@pytest.mark.parametrize(
    ("policy", "expected_jct", "preemptions", "lost", "slo"),
    [
        pytest.param("fifo", {"s1": 1000, "h1": 1090}, 0, 0.0, 0.0, id="fifo-waits"),
        pytest.param("slurm-like", {"s1": 1000, "h1": 1090}, 0, 0.0, 0.0, id="slurm-like-no-guarantees"),
        # h1 preempts s1 (30 s grace): h1 runs 40-140; s1 loses 72 GPUs x 10 s, reruns 140-1140
        pytest.param("brique", {"s1": 1140, "h1": 130}, 1, 0.2, 1.0, id="brique-reclaims-borrowed"),
    ],
)
def test_priority_job_within_guarantee(
    policy: str, expected_jct: dict, preemptions: int, lost: float, slo: float
) -> None:
    r = run(GUARANTEE, ONE_RACK, policy, book(A=36))
    assert jct(r) == expected_jct
    m = metrics(r)
    assert (m["preemptions"], m["lost_gpu_hours"], m["priority_slo"]) == (preemptions, lost, slo)
    assert by_id(r)["s1"].preempted == preemptions


@pytest.mark.parametrize("policy", list(POLICIES))
def test_jobs_submitted_together_share_what_is_left_of_the_guarantee(policy: str) -> None:
    # A holds 24 of its 36 guaranteed GPUs; three 8-GPU priority jobs arrive at once: only the first fits
    # what is left (24 + 8 <= 36), the next two would take A to 40 and 48 GPUs. The ones beyond the
    # guarantee are not promised a start within 60 s, so they are not in the SLO's denominator.
    tr = trace(job("h0", 0, 5000, 24, tenant="A", tier="priority"),
               *(job(f"h{k}", 100, 100, 8, tenant="A", tier="priority") for k in (1, 2, 3)))  # fmt: skip
    r = run(tr, ONE_RACK, policy, book(A=36))
    within = {jid: rec.within_guarantee for jid, rec in by_id(r).items()}
    assert within == {"h0": True, "h1": True, "h2": False, "h3": False}


def test_a_started_job_frees_its_claim_on_the_guarantee() -> None:
    # h1 starts at once and ends at 200; h2 arrives at 300 with A holding 24 GPUs again: within.
    tr = trace(job("h0", 0, 5000, 24, tenant="A", tier="priority"),
               job("h1", 100, 100, 8, tenant="A", tier="priority"),
               job("h2", 300, 100, 12, tenant="A", tier="priority"))  # fmt: skip
    r = run(tr, ONE_RACK, "brique", book(A=36))
    assert [rec.within_guarantee for rec in r.records] == [True, True, True]
    assert metrics(r)["priority_slo"] == 1.0


@pytest.mark.parametrize(("policy", "expected_jct"), [
    pytest.param("fifo", {"p1": 1000, "s2": 1090}, id="fifo-never-preempts"),
    pytest.param("slurm-like", {"p1": 1140, "s2": 130}, id="slurm-like-qos-preemption"),
    # brique protects work started less than PROTECT_S ago from non-guarantee preemption: s2 waits
    pytest.param("brique", {"p1": 1000, "s2": 1090}, id="brique-protects-fresh-preemptible"),
])  # fmt: skip
def test_standard_job_preempts_the_preemptible_tier(policy: str, expected_jct: dict) -> None:
    tr = trace(job("p1", 0, 1000, 72, tenant="B", tier="preemptible"), job("s2", 10, 100, 36, tenant="A"))
    assert jct(run(tr, ONE_RACK, policy)) == expected_jct


def test_victim_that_ends_within_its_grace_period_completes() -> None:
    tr = trace(job("p1", 0, 20, 72, tier="preemptible"), job("s2", 10, 100, 36, tenant="A"))
    r = run(tr, ONE_RACK, "slurm-like")  # brique would not preempt p1 (inside its protection window)
    assert jct(r) == {"p1": 20, "s2": 130}  # s2 waits out the grace period; p1's work is not lost
    assert metrics(r)["lost_gpu_hours"] == 0.0


@pytest.mark.parametrize("policy", list(POLICIES))
def test_jobs_larger_than_the_fleet_are_rejected_and_reported(policy: str) -> None:
    tr = trace(job("ok", 0, 10, 8), job("huge", 1, 10, 73), job("bigger", 2, 10, 144))
    m = metrics(run(tr, ONE_RACK, policy))
    assert (m["jobs"], m["completed"], m["rejected"], m["unfinished"]) == (3, 1, 2, 0)
    assert m["reject_reasons"] == {"too_large": 2}
    assert by_id(run(tr, ONE_RACK, policy))["huge"].rejected == "too_large"


@pytest.mark.parametrize(("policy", "cycles"), [("brique", 6), ("fifo", 5)])
def test_cycles_run_at_arrivals_and_completions_only_when_work_is_pending(policy: str, cycles: int) -> None:
    tr = trace(job("a", 0, 3), job("b", 1, 2), job("c", 2, 1), job("d", 3, 4))
    r = run(tr, ONE_GPU, policy)
    # cycles at 0, 1, 2, 3 (arrivals; a ends at 3 too), 5 and 6 (completions with work pending); at 10
    # nothing is pending. fifo skips the one at 2: b is reserved and nothing ended since.
    # Events: 4 arrivals + 4 ends + 3 head-reservation wake-ups (at 4, 7 and 9, each superseded or
    # finding nothing pending, so none adds a cycle).
    assert (r.cycles, r.events) == (cycles, 11)


def test_per_tier_and_per_tenant_breakdowns() -> None:
    m = metrics(run(GUARANTEE, ONE_RACK, "brique", book(A=36)))
    assert set(m["per_tier"]) == {"priority", "standard"}
    assert m["per_tier"]["priority"]["avg_jct_s"] == 130.0
    assert m["per_tenant"]["B"]["preempted"] == 1
    assert sum(t["share"] for t in m["per_tenant"].values()) == pytest.approx(1.0, abs=1e-5)


def test_energy_follows_gpu_time_pue_and_grid() -> None:
    m = metrics(run(trace(job("a", 0, 3600, 4)), ONE_RACK, "fifo"))
    # 4 GPU-hours x (1,200 W + 2,200 W / 4) = 7.0 kWh IT, x PUE 1.2 = 8.4 kWh; x 50 g/kWh = 0.42 kg
    assert (m["energy_kwh"], m["co2e_kg"]) == (8.4, 0.42)


def test_load_factor_compresses_arrivals() -> None:
    tr = trace(job("a", 0, 3), job("b", 4, 3)).compressed(2.0)
    assert [j.submit_s for j in tr.jobs] == [0.0, 2.0]
    assert jct(run(tr, ONE_GPU, "fifo")) == {"a": 3, "b": 4}


def test_fifo_cycle_elision_changes_nothing_but_the_cycle_count() -> None:
    import random

    rng = random.Random(3)
    jobs, t = [], 0.0
    for k in range(300):
        t += rng.expovariate(1 / 20)
        jobs.append(job(f"j{k}", round(t), rng.choice([5, 50, 500, 3000]), rng.choice([1, 4, 8, 36, 72, 144]),
                        est=None if k % 3 else 600))  # fmt: skip
    tr, fleet = trace(*jobs), make_fleet(racks=2)
    fast, slow = run(tr, fleet, "fifo"), run(tr, fleet, "fifo", elide_blocked=False)
    assert fast.records == slow.records
    assert fast.cycles < slow.cycles


@pytest.mark.parametrize(("p1_runs", "expected_jct"), [
    # p1 has run 1,800 s (72 GPUs: 129,600 GPU-s to lose); s2 would wait ~2,000,000 s: worth killing
    # (36 x 1,998,200 x WAIT_RATIO 0.002 = 143,870 GPU-s of waiting)
    pytest.param(2_000_000, {"p1": 2_001_930, "s2": 130}, id="long-wait-preempts"),  # p1 reruns after s2
    # s2 would wait 2,200 s: 36 x 2,200 x WAIT_RATIO is far below 129,600 GPU-s lost: it waits
    pytest.param(4_000, {"p1": 4_000, "s2": 2_300}, id="short-wait-waits"),
])  # fmt: skip
def test_brique_preempts_only_when_waiting_costs_more(p1_runs: int, expected_jct: dict) -> None:
    tr = trace(
        job("p1", 0, p1_runs, 72, tenant="B", tier="preemptible"), job("s2", 1800, 100, 36, tenant="A")
    )
    assert jct(run(tr, ONE_RACK, "brique")) == expected_jct
