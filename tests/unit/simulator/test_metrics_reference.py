"""Pins that the fast metrics (rate changes bucketed in one sweep, Jain per bucket) equal a
brute-force reference on small random runs: every interval spread bucket by bucket, every
statistic recomputed from the job records by its definition."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brique.domain.contracts import Contract, ContractBook
from brique.simulator.engine import Run
from brique.simulator.metrics import summarise, waterfill
from brique.simulator.timeline import integrate
from tests.unit.simulator.sim_factories import job, make_fleet, run, trace

EXAMPLES = int(os.environ.get("BRIQUE_HYPOTHESIS_EXAMPLES", "25"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TENANTS = ("a", "b", "c")


def naive_buckets(changes: list[tuple[float, float]], width: float, n: int) -> list[float]:
    """Integral per bucket by summing, for every pair of changes, the rate times each overlap."""
    out = [0.0] * n
    points = sorted(changes)
    for k, (t0, _) in enumerate(points):
        rate = sum(dr for t, dr in points[: k + 1])
        t1 = points[k + 1][0] if k + 1 < len(points) else n * width
        for b in range(n):
            lo, hi = max(t0, b * width), min(t1, (b + 1) * width)
            if hi > lo:
                out[b] += rate * (hi - lo)
    return out


@SETTINGS
@given(st.lists(st.tuples(st.floats(0, 500), st.floats(0.1, 400), st.integers(1, 8)), max_size=12),
       st.floats(1.0, 90.0))  # fmt: skip
def test_integrate_equals_overlap_sum(intervals: list[tuple[float, float, int]], width: float) -> None:
    changes = [c for t0, d, w in intervals for c in ((t0, float(w)), (t0 + d, -float(w)))]
    n = int(900 // width) + 1
    assert integrate(list(changes), width, n) == pytest.approx(naive_buckets(changes, width, n), abs=1e-6)


def reference_jain(r: Run, gpus: int) -> float | None:
    tl = r.timeline
    width = tl.width
    n = tl.buckets(max(rec.end for rec in r.records if rec.end >= 0))
    held = {t: naive_buckets(list(c), width, n) for t, c in tl._held.items()}
    wanted = {t: naive_buckets(list(c), width, n) for t, c in tl._wanted.items()}
    weight = {t: r.contracts.terms(t).weight for t in wanted}
    values = []
    for b in range(n):
        ent = waterfill(gpus * width, {t: a[b] for t, a in wanted.items()}, weight)
        xs = [held.get(t, [0.0] * n)[b] / e for t, e in ent.items() if e > 1e-9]
        if xs:
            values.append(sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs)) if any(xs) else 0.0)
    return sum(values) / len(values) if values else None


@st.composite
def small_runs(draw):
    jobs = [
        job(f"j{i}", draw(st.integers(0, 600)), draw(st.integers(1, 900)), draw(st.sampled_from([1, 2, 4, 8])),
            draw(st.sampled_from(TENANTS)), draw(st.sampled_from(["priority", "standard", "preemptible"])),
            draw(st.sampled_from([None, 300.0, 2000.0])))
        for i in range(draw(st.integers(1, 14)))
    ]  # fmt: skip
    book = ContractBook.of(Contract(t, guaranteed_gpus=draw(st.integers(0, 4)), weight=1.0 + k)
                           for k, t in enumerate(TENANTS))  # fmt: skip
    return run(trace(*jobs), make_fleet(racks=1, nodes=3, gpus=4), draw(st.sampled_from(["brique", "slurm-like"])),
               book, buckets=draw(st.integers(3, 40)))  # fmt: skip


@SETTINGS
@given(small_runs())
def test_summary_equals_brute_force(r: Run) -> None:
    doc = summarise(r)
    jobs, recs = r.trace.jobs, r.records
    queue = [rec.first_start - j.submit_s for j, rec in zip(jobs, recs, strict=True) if rec.first_start >= 0]
    jct = [rec.end - j.submit_s for j, rec in zip(jobs, recs, strict=True) if rec.end >= 0]
    assert doc["avg_queue_s"] == pytest.approx(sum(queue) / len(queue) if queue else 0.0, abs=1e-3)
    assert doc["avg_jct_s"] == pytest.approx(sum(jct) / len(jct) if jct else 0.0, abs=1e-3)
    assert doc["p99_queue_s"] == pytest.approx(_numpy_percentile(queue, 99), abs=1e-3)
    held = sum(sum(a) for a in r.timeline.held.values())
    assert held == pytest.approx(sum(r.site_gpu_s), rel=1e-9, abs=1e-6)  # buckets keep every GPU-second
    ref = reference_jain(r, 12) if jct else None
    assert doc["jain_fairness"] == (None if ref is None else pytest.approx(ref, abs=1e-6))


def _numpy_percentile(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    return s[lo] + (s[min(lo + 1, len(s) - 1)] - s[lo]) * (pos - lo)
