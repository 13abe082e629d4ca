"""Benchmark: one scheduling cycle on the default 18,000-GPU fleet.

Prints one JSON line of medians (milliseconds) over several runs:
  full_cycle_*   10,000 pending jobs (1-1,152 GPUs, heavy on small ones) with ~5,000 running
  burst_*        10,000 jobs arriving at once on an empty fleet
  curve_*        full cycle cost at 1k / 10k / 50k pending
each twice: from a full snapshot (`schedule`, which rebuilds the cluster state every
cycle), and, prefixed `state_`, from a `SchedulerState` kept across cycles
(`schedule_state`, what the simulator does and a long-lived control plane can do).
`state_build_ms` is the one-off cost of building that state from the snapshot.

Inputs are built once per scenario (seeded); only the cycle is timed.
Usage: python benchmarks/scheduler_cycle.py [--runs N]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import time
from pathlib import Path

import yaml

from brique.domain.contracts import Contract, ContractBook
from brique.domain.fleet_spec import parse_fleet
from brique.domain.jobs import Job, RunningJob, Tier
from brique.domain.policy import ANYWHERE, PlacementPolicy, SchedulingPolicy, country_only
from brique.scheduler import (
    ClusterSnapshot,
    CycleResult,
    Place,
    SchedulerState,
    Topology,
    schedule,
    schedule_state,
)

FLEET = Path(__file__).resolve().parent.parent / "fleets" / "gb200-eu.yaml"
NOW = 1_800_000_000.0
SIZES = [1, 2, 4, 8, 16, 32, 64, 72, 144, 288, 576, 1152]
WEIGHTS = [20, 10, 20, 20, 10, 7, 5, 3, 2, 1.5, 1, 0.5]
RUNNING_SIZES = [1, 2, 4, 8, 16, 72]
RUNNING_WEIGHTS = [40, 20, 25, 12, 2.5, 0.5]
TENANTS = [f"tenant-{i:02d}" for i in range(20)]
POLICIES = [ANYWHERE] * 7 + [country_only("FR")] * 2 + [PlacementPolicy(certifications=frozenset({"c5"}))]


def policy() -> SchedulingPolicy:
    contracts = [
        Contract(t, guaranteed_gpus=(400 if i < 8 else 0), weight=1 + i % 3) for i, t in enumerate(TENANTS)
    ]
    return SchedulingPolicy(contracts=ContractBook.of(contracts))


def make_jobs(rng: random.Random, n: int, prefix: str, sizes: list[int], weights: list[float]) -> list[Job]:
    jobs = []
    for i in range(n):
        tier = rng.choices([Tier.PRIORITY, Tier.STANDARD, Tier.PREEMPTIBLE], [10, 70, 20])[0]
        max_rt = rng.choice([3600.0, 4 * 3600.0, 24 * 3600.0])
        jobs.append(
            Job(
                id=f"{prefix}{i:06d}",
                tenant=rng.choice(TENANTS),
                gpus=rng.choices(sizes, weights)[0],
                tier=tier,
                placement=rng.choice(POLICIES),
                submitted_at=NOW - rng.uniform(0, 86_400),
                max_runtime_s=max_rt,
                estimated_runtime_s=rng.choice([None, max_rt / 2, max_rt / 4]),
                preemption_grace_s=60.0,
            )
        )
    return jobs


def running_set(topo: Topology, rng: random.Random, target: int) -> list[RunningJob]:
    cands = make_jobs(rng, target * 2, "run-", RUNNING_SIZES, RUNNING_WEIGHTS)
    result = schedule(ClusterSnapshot.of(topo), cands, policy(), NOW - 1800)
    by_id = {j.id: j for j in cands}
    running = []
    for d in result.places[:target]:
        job = by_id[d.job_id]
        running.append(RunningJob(job, d.gpus, started_at=NOW - rng.uniform(60, 3000)))
    return running


def timed(
    snap: ClusterSnapshot, pending: list[Job], runs: int, incremental: bool = False
) -> tuple[list[float], int]:
    pol = policy()
    state = SchedulerState(snap.topology, snap.running, snap.health, pol.contracts)
    out = []
    placed = 0
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        if incremental:
            res: CycleResult = schedule_state(state, pending, pol, NOW, snap.usage, snap.reservations)
        else:
            res = schedule(snap, pending, pol, NOW)
        out.append((time.perf_counter() - t0) * 1000)
        placed = sum(1 for d in res.decisions if isinstance(d, Place))
    return out, placed


def build_ms(snap: ClusterSnapshot, runs: int) -> float:
    pol, out = policy(), []
    for _ in range(runs):
        t0 = time.perf_counter()
        SchedulerState(snap.topology, snap.running, snap.health, pol.contracts).ledger.refresh()
        out.append((time.perf_counter() - t0) * 1000)
    return statistics.median(out)


def p99(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(0.99 * (len(s) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    topo = Topology.from_fleet(parse_fleet(yaml.safe_load(FLEET.read_text())))
    rng = random.Random(42)
    running = running_set(topo, rng, 5000)
    busy = ClusterSnapshot.of(topo, running=running, usage={t: rng.uniform(0, 1e7) for t in TENANTS})
    pending = {n: make_jobs(random.Random(n), n, "p-", SIZES, WEIGHTS) for n in (1000, 10_000, 50_000)}
    full, full_placed = timed(busy, pending[10_000], args.runs)
    burst, burst_placed = timed(ClusterSnapshot.of(topo), pending[10_000], args.runs)
    curve = {n: statistics.median(timed(busy, pending[n], max(3, args.runs // 2))[0]) for n in pending}
    s_full, s_placed = timed(busy, pending[10_000], args.runs, incremental=True)
    s_burst, _ = timed(ClusterSnapshot.of(topo), pending[10_000], args.runs, incremental=True)
    s_curve = {
        n: statistics.median(timed(busy, pending[n], max(3, args.runs // 2), True)[0]) for n in pending
    }
    assert s_placed == full_placed, "the incremental path must decide what the snapshot path decides"
    print(
        json.dumps(
            {
                "fleet_gpus": topo.gpu_count,
                "runs": args.runs,
                "running_jobs": len(running),
                "running_gpus": sum(len(r.gpus) for r in running),
                "full_cycle_pending": 10_000,
                "full_cycle_median_ms": round(statistics.median(full), 1),
                "full_cycle_p99_ms": round(p99(full), 1),
                "full_cycle_placed": full_placed,
                "burst_jobs": 10_000,
                "burst_median_ms": round(statistics.median(burst), 1),
                "burst_placed": burst_placed,
                **{f"curve_{n // 1000}k_median_ms": round(v, 1) for n, v in curve.items()},
                "state_build_ms": round(build_ms(busy, args.runs), 1),
                "state_full_cycle_median_ms": round(statistics.median(s_full), 1),
                "state_full_cycle_p99_ms": round(p99(s_full), 1),
                "state_burst_median_ms": round(statistics.median(s_burst), 1),
                **{f"state_curve_{n // 1000}k_median_ms": round(v, 1) for n, v in s_curve.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
