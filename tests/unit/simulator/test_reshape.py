"""`benchmarks/reshape.py`: the held-out trace's shape (10 tenants, 2 contracted, user walltimes) over a trace."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections import Counter
from pathlib import Path

from brique.domain.jobs import Tier
from tests.unit.simulator.sim_factories import job, trace

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("reshape", ROOT / "benchmarks" / "reshape.py")
assert _spec is not None and _spec.loader is not None
reshape_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reshape_mod)


def _trace(n: int = 400):
    return trace(*(job(f"j{i}", i * 10.0, 100.0 + 97 * i, 1 + i % 8, tenant=f"vc{i % 13}") for i in range(n)))


def test_the_shape_keeps_every_job_and_draws_tenants_tiers_and_walltimes() -> None:
    src = _trace()
    out, book = reshape_mod.reshape(src, reshape_mod.owners(src, Path("x.csv"), "philly"), 720, seed=0)
    assert [(j.id, j.submit_s, j.duration_s, j.gpus) for j in out.jobs] == [
        (j.id, j.submit_s, j.duration_s, j.gpus) for j in src.jobs
    ]
    assert {j.tenant for j in out.jobs} == {f"t{i:02d}" for i in range(10)}  # 13 owners dealt to 10 tenants
    assert {c.tenant: c.guaranteed_gpus for c in book.contracts} == {"t00": 144, "t01": 144}  # 20 % of 720 each
    tiers = Counter((j.tenant in ("t00", "t01"), j.tier) for j in out.jobs)
    assert not tiers[(True, Tier.PREEMPTIBLE)] and not tiers[(False, Tier.PRIORITY)]
    assert tiers[(True, Tier.PRIORITY)] and tiers[(False, Tier.PREEMPTIBLE)]
    for j in out.jobs:  # a walltime is a rung of the ladder (or whole days) no shorter than the run
        assert j.est_duration_s is not None and j.est_duration_s >= j.duration_s
        assert j.est_duration_s in reshape_mod.LADDER_S or j.est_duration_s % 86_400 == 0


def test_the_shape_is_a_function_of_the_seed() -> None:
    src = _trace()
    owner = reshape_mod.owners(src, Path("x.csv"), "philly")
    a, b, c = (reshape_mod.reshape(src, owner, 720, seed=s)[0] for s in (0, 0, 1))
    assert a == b and a != c


def test_the_benchmark_replays_a_shipped_trace_in_that_shape() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "simulate_traces.py"), "--reshape", "--trace", "helios",
         "--limit", "300", "--racks", "2", "--policies", "slurm-like,brique"],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    assert "held-out shape (10 tenants, 2 contracted, walltime estimates)" in out.stdout
    assert "| brique / slurm-like |" in out.stdout
